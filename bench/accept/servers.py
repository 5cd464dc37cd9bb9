"""The three MTAs the accept benchmark compares, each run privately on a loopback port in a
scratch directory, configured to accept everything and only queue it (no delivery), with the
spool/queue made durable before the 250 reply:

- Postern: `postern -bdf` with spool_directory in the scratch dir (spool_commit fsyncs -D, -H
  and the directory before 250 -- always on, there is no switch).
- Exim 4.96 (Debian's exim4-daemon-heavy): `exim -bdf -C conf` with queue_only; Exim fsyncs
  the -D and -H files before 250 (its default build).
- Postfix 3.7 (Debian's package unpacked with `apt-get download postfix; dpkg -x`, as it conflicts
  with exim4): `master -c confdir` with its own queue_directory; cleanup fsyncs the queue file
  before smtpd replies 250 (Postfix always does). qmgr is not run, so queued mail stays queued.
"""
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

HERE = pathlib.Path(__file__).resolve().parent


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.settimeout(5)
            banner = s.recv(512)
            s.close()
            if banner.startswith(b"220"):
                return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


class Server:
    name = "?"
    proc = None

    def __init__(self, workdir, port):
        self.dir = pathlib.Path(workdir) / self.name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.port = port

    def master_pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def queued_count(self):
        return sum(1 for p in self.dir.rglob("*-H"))


class Postern(Server):
    name = "postern"

    def __init__(self, workdir, port, binary, name="postern"):
        self.name = name   # "postern-before": an older build measured beside the current one
        super().__init__(workdir, port)
        self.binary = binary

    def start(self):
        spool = self.dir / "spool"
        conf = self.dir / "postern.conf"
        conf.write_text(
            f"spool_directory = {spool}\n"
            "exim_user = mail\nexim_group = mail\n"
            "local_interfaces = 127.0.0.1\n"
            f"daemon_smtp_ports = {self.port}\n"
            "smtp_accept_max = 0\n"
            "smtp_connect_backlog = 128\n"
            "host_lookup =\n"
            "acl_smtp_rcpt = accept\n"
            "queue_only = true\n"
            "begin routers\nbegin transports\n")
        self.proc = subprocess.Popen([self.binary, "-C", str(conf), "-bdf"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return wait_port(self.port)


class Exim(Server):
    name = "exim"

    def start(self):
        spool = self.dir / "spool"
        spool.mkdir()
        conf = self.dir / "exim.conf"
        conf.write_text(
            f"spool_directory = {spool}\n"
            "exim_user = mail\nexim_group = mail\n"
            f"log_file_path = {spool}/log/%slog\n"
            "local_interfaces = 127.0.0.1\n"
            f"daemon_smtp_ports = {self.port}\n"
            "smtp_accept_max = 0\n"
            "smtp_connect_backlog = 128\n"
            "host_lookup =\n"
            "rfc1413_hosts =\n"
            "tls_advertise_hosts =\n"
            "keep_environment =\n"
            "acl_smtp_rcpt = accept\n"
            "queue_only = true\n"
            "begin routers\nbegin transports\n")
        os.chown(spool, 8, 8)
        self.proc = subprocess.Popen(["exim", "-C", str(conf), "-bdf", "-oX", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return wait_port(self.port)


class Postfix(Server):
    name = "postfix"
    hold = True         # header_checks HOLD: accepted mail stays queued (accept benchmark)
    main_extra = ""     # appended to main.cf / master.cf by the deliver and relay benchmarks
    master_extra = ""

    def fetch(self):
        """Debian's postfix package, unpacked once into bench/accept/.postfix/."""
        root = HERE / ".postfix" / "root"
        if not (root / "usr/lib/postfix/sbin/master").exists():
            dl = HERE / ".postfix"
            dl.mkdir(exist_ok=True)
            subprocess.run(["apt-get", "download", "postfix"], cwd=dl, check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deb = next(dl.glob("postfix_*.deb"))
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
        return root

    def start(self):
        root = self.root = self.fetch()
        libdir = root / "usr/lib/postfix"
        conf = self.dir / "etc"
        queue = self.dir / "queue"
        data = self.dir / "data"
        for d in (conf, queue, data):
            d.mkdir()
        os.chown(data, 8, 8)
        shutil.copy(root / "usr/share/postfix/dynamicmaps.cf", conf / "dynamicmaps.cf")
        shutil.copy(root / "etc/postfix/postfix-files", conf / "postfix-files")
        shutil.copytree(root / "etc/postfix/postfix-files.d", conf / "postfix-files.d")
        (conf / "dynamicmaps.cf.d").mkdir()
        (conf / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {queue}
data_directory = {data}
daemon_directory = {libdir}/sbin
shlib_directory = {libdir}
meta_directory = {conf}
command_directory = {root}/usr/sbin
mail_owner = mail
setgid_group = staff
myhostname = bench.test
mydomain = bench.test
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtpd_sasl_auth_enable = no
default_process_limit = 200
message_size_limit = 0
alias_maps =
alias_database =
local_recipient_maps =
{"header_checks = static:HOLD" if self.hold else ""}
maillog_file = {self.dir}/maillog
maillog_file_prefixes = {self.dir}
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C LD_LIBRARY_PATH={libdir}
{self.main_extra}""")
        # What reception needs: smtpd, cleanup, trivial-rewrite, anvil, logging, and qmgr (cleanup
        # waits for its trigger otherwise). header_checks HOLD puts every accepted message on
        # hold, so it stays queued as with the other two servers.
        (conf / "master.cf").write_text(f"""
127.0.0.1:{self.port} inet n - n - 200 smtpd
cleanup   unix n - n - 0 cleanup
rewrite   unix - - n - - trivial-rewrite
anvil     unix - - n - 1 anvil
proxymap  unix - - n - - proxymap
postlog   unix-dgram n - n - 1 postlogd
qmgr      unix n - n 300 1 qmgr
{self.master_extra}""")
        env = dict(os.environ, LD_LIBRARY_PATH=str(libdir), MAIL_CONFIG=str(conf))
        r = subprocess.run([str(root / "usr/sbin/postfix"), "-c", str(conf), "check"], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix check: " + r.stderr)
        self.proc = subprocess.Popen([str(libdir / "sbin/master"), "-c", str(conf), "-d"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return wait_port(self.port)

    def queued_count(self):
        return sum(1 for d in ("incoming", "active", "deferred", "hold")
                   for p in (self.dir / "queue" / d).rglob("*") if p.is_file())
