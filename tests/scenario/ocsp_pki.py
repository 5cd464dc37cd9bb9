"""A private CA with an OCSP responder for the OCSP tests, made at run time with openssl.

Layout (all EC P-256, so making it is quick):
  ca.pem/key        the CA; index.txt is its database for `openssl ocsp`
  resp.pem/key      a delegated responder (extendedKeyUsage OCSPSigning, issued by the CA)
  <name>.pem/key    leaf certificates for mx.example; each names the responder URL in its AIA
  <name>-chain.pem  leaf followed by the CA (what tls_certificate points at)
Responses come from `openssl ocsp` acting as the CA's responder, offline (-reqin/-respout) or as a
listening HTTP responder (responder()); a response that openssl cannot make (already expired,
not yet valid) is made by faketime around the same command.
"""
import base64
import subprocess
import time

HOST = "mx.example"


def run(*args, cwd, env=None):
    return subprocess.run(list(args), cwd=cwd, check=True, capture_output=True, env=env)


class Pki:
    def __init__(self, d, ocsp_url="http://127.0.0.1:9/"):
        self.d = d
        self.url = ocsp_url
        self.serial = 0x1000
        self.index = []
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=OCSP Test CA", cwd=d)
        self._issue("resp", "/CN=OCSP Test Responder", "extendedKeyUsage=OCSPSigning\n", index=False)
        (d / "index.txt.attr").write_text("unique_subject = no\n")
        self._write_index()

    def _issue(self, name, subj, ext, index=True, days=10):
        d = self.d
        self.serial += 1
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subj, cwd=d)
        (d / f"{name}.ext").write_text(ext)
        run("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", str(self.serial), "-days", str(days), "-extfile", f"{name}.ext",
            "-out", f"{name}.pem", cwd=d)
        if index:
            self.index.append(["V", f"{self.serial:X}", subj, None])
            self._write_index()
        return self.serial

    def leaf(self, name, aia=True):
        """A server certificate for mx.example; returns its serial."""
        ext = f"subjectAltName=DNS:{HOST}\n"
        if aia:
            ext += f"authorityInfoAccess=OCSP;URI:{self.url}\n"
        s = self._issue(name, f"/CN={HOST}/OU={name}", ext)
        chain = (self.d / f"{name}.pem").read_text() + (self.d / "ca.pem").read_text()
        (self.d / f"{name}-chain.pem").write_text(chain)
        return s

    def revoke(self, name, reason="keyCompromise"):
        serial = int(run("openssl", "x509", "-in", f"{name}.pem", "-noout", "-serial", cwd=self.d)
                     .stdout.decode().strip().split("=")[1], 16)
        for e in self.index:
            if int(e[1], 16) == serial:
                e[0], e[3] = "R", reason
        self._write_index()

    def _write_index(self):
        lines = []
        for status, serial, subj, reason in self.index:
            rev = f"250101000000Z,{reason}" if status == "R" else ""
            lines.append(f"{status}\t351231000000Z\t{rev}\t{serial}\tunknown\t{subj}\n")
        (self.d / "index.txt").write_text("".join(lines))

    def response(self, name, out, days=1, nmin=None, fake=None, signer="resp", no_next=False, pem=False):
        """An OCSP response for <name>.pem into out (DER, or PEM with pem=True)."""
        d = self.d
        outp = d / out
        run("openssl", "ocsp", "-issuer", "ca.pem", "-cert", f"{name}.pem", "-no_nonce",
            "-reqout", f"{name}.req", cwd=d)
        args = ["openssl", "ocsp", "-index", "index.txt", "-CA", "ca.pem", "-rsigner", f"{signer}.pem",
                "-rkey", f"{signer}.key", "-reqin", f"{name}.req", "-respout", str(outp)]
        if not no_next:
            args += ["-nmin", str(nmin)] if nmin else ["-ndays", str(days)]
        if fake:
            args = ["faketime", fake] + args
        run(*args, cwd=d)
        if pem:
            b64 = base64.encodebytes(outp.read_bytes()).decode()
            outp.write_text("-----BEGIN OCSP RESPONSE-----\n" + b64 + "-----END OCSP RESPONSE-----\n")
        return outp

    def responder(self, port):
        """`openssl ocsp` as an HTTP responder on 127.0.0.1:port (a Popen; terminate() it)."""
        # Readiness is read from its log: a probe connection would occupy the single-threaded
        # responder until it times out.
        log = self.d / f"responder-{port}.log"
        with open(log, "w") as f:
            p = subprocess.Popen(["openssl", "ocsp", "-index", "index.txt", "-CA", "ca.pem", "-rsigner",
                                  "resp.pem", "-rkey", "resp.key", "-port", str(port), "-ndays", "1",
                                  "-ignore_err"], cwd=self.d, stdout=f, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            if "waiting for OCSP client connections" in log.read_text():
                return p
            time.sleep(0.05)
        p.terminate()
        raise RuntimeError("openssl ocsp responder did not start")
