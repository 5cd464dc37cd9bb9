#!/bin/sh
# Makes the certificates and OCSP responses test_ocsp_check.c needs, in directory $1, with
# `openssl ocsp` acting as the responder offline (-reqin/-respout). All keys are EC P-256.
#   ca      the trusted CA; resp: its delegated responder (OCSPSigning); rogue: a CA-issued
#           certificate without OCSPSigning
#   ca2     a CA the tests do not always trust; resp2 its responder; twin: a ca2 leaf with the
#           same serial number as leaf
#   leaf, other, revoked, unknown: leaves of ca (unknown is not in the responder's index)
set -e
cd "$1"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
ca() {
	key "$1"
	openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 30 -subj "/CN=$1" 2>/dev/null
}
cert() {   # name issuer serial ext
	key "$1"
	openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
	printf '%b' "$4" > "$1.ext"
	openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "$3" -days 10 \
		-extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
ca ca
ca ca2
cert resp ca 100 'extendedKeyUsage=OCSPSigning\n'
cert rogue ca 101 'basicConstraints=CA:FALSE\n'
cert resp2 ca2 102 'extendedKeyUsage=OCSPSigning\n'
cert leaf ca 4097 'subjectAltName=DNS:mx.example\n'
cert other ca 4098 'subjectAltName=DNS:mx.example\n'
cert revoked ca 4099 'subjectAltName=DNS:mx.example\n'
cert revoked2 ca 4100 'subjectAltName=DNS:mx.example\n'
cert unknown ca 4101 'subjectAltName=DNS:mx.example\n'
cert twin ca2 4097 'subjectAltName=DNS:mx.example\n'
printf 'V\t351231000000Z\t\t1001\tunknown\t/CN=leaf\n' > index.txt
printf 'V\t351231000000Z\t\t1002\tunknown\t/CN=other\n' >> index.txt
printf 'R\t351231000000Z\t250101000000Z,keyCompromise\t1003\tunknown\t/CN=revoked\n' >> index.txt
printf 'R\t351231000000Z\t250101000000Z\t1004\tunknown\t/CN=revoked2\n' >> index.txt
printf 'V\t351231000000Z\t\t1001\tunknown\t/CN=twin\n' > index2.txt
respond() {   # out cert issuer signer index [extra...]
	out=$1 c=$2 iss=$3 signer=$4 idx=$5
	shift 5
	openssl ocsp -issuer "$iss.pem" -cert "$c.pem" -no_nonce -reqout "$out.req" 2>/dev/null
	openssl ocsp -index "$idx" -CA "$iss.pem" -rsigner "$signer.pem" -rkey "$signer.key" \
		-reqin "$out.req" -respout "$out.der" "$@" 2>/dev/null
}
respond good leaf ca resp index.txt -ndays 1
respond byca leaf ca ca index.txt -ndays 1
respond other other ca resp index.txt -ndays 1
respond revoked revoked ca resp index.txt -ndays 1
respond revoked2 revoked2 ca resp index.txt -ndays 1
respond unknown unknown ca resp index.txt -ndays 1
respond rogue leaf ca rogue index.txt -ndays 1
respond untrusted leaf ca resp2 index.txt -ndays 1
respond twin twin ca2 resp2 index2.txt -ndays 1
respond nonext leaf ca resp index.txt
# A response that includes its signer's certificate is the common case; one without it must be
# verified with the certificate found in the peer's chain.
respond nocerts leaf ca ca index.txt -ndays 1 -resp_no_certs
printf 'not an OCSP response' > garbage.der
