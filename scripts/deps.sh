#!/bin/sh
# Install the Debian packages Postern builds and tests with, if any are missing.
# Run as root on Debian 12; as another user it only reports what is missing.
set -eu
BUILD="meson ninja-build pkg-config gcc clang llvm libclang-rt-14-dev libpcre2-dev libssl-dev
 libcrypt-dev liblmdb-dev libhiredis-dev libsqlite3-dev libpq-dev libdb-dev libjansson-dev"
TEST="python3 python3-pytest lmdb-utils redis-server sqlite3 tinycdb db-util postgresql
 exim4-daemon-heavy exim4-doc-html swaks
 nsd"
TEST="$TEST dovecot-core haproxy"  # real Dovecot auth service and HAProxy for the proxy/auth tests
TEST="$TEST oidentd"  # a real RFC 1413 ident server for the rfc1413_hosts tests
TEST="$TEST faketime libnet-ssleay-perl libio-socket-ssl-perl"  # OCSP staple ages; swaks --tls
missing=""
for p in $BUILD $TEST; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: missing Debian packages:$missing (run as root to install them)" >&2
	exit 0
fi
echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# exim4-daemon-heavy is the live reference for golden tests; keep its daemon from starting.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
apt-get install -y -q --no-install-recommends $missing >/dev/null
rm -f /usr/sbin/policy-rc.d
