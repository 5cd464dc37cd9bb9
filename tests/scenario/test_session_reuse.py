"""A pre-forked session process serving several connections (smtp_accept_process_reuse,
src/prog/daemon_pool.c, daemon_reuse.c): each test proves that two or more connections were
served by the same process (the banner shows $pid) and that nothing of one connection is seen by
the next, and that the daemon's session counts stay right while processes are reused."""
import os
import pathlib
import re
import signal
import socket
import ssl
import time

import pytest

import dns_server
from daemon_helpers import Daemon, free_ports, pid_alive, reachable_by_exim_user, wait_for
from test_daemon_pool import idle_of as idle_with_uid


def idle_of(daemon_pid):
    """Pids of the daemon's idle pre-forked processes (named postern-idle)."""
    return {pid for pid, _ in idle_with_uid(daemon_pid)}


class Smtp:
    """A line-level SMTP client: every reply read in full, the banner's pid=N kept."""

    def __init__(self, port, src="127.0.0.1"):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
        self.f = self.s.makefile("rb")
        self.banner = self.reply()
        m = re.search(r"pid=(\d+)", self.banner)
        self.pid = int(m.group(1)) if m else None

    def reply(self):
        text = ""
        while True:
            line = self.f.readline().decode()
            if not line:
                raise EOFError(text)
            text += line
            if len(line) >= 4 and line[3] == " ":
                return text

    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self):
        assert self.cmd("STARTTLS").startswith("220")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.s = ctx.wrap_socket(self.s)
        self.f = self.s.makefile("rb")

    def message(self, n=0):
        assert self.cmd("MAIL FROM:<a@client.test>").startswith("250")
        assert self.cmd("RCPT TO:<r@server.test>").startswith("250")
        assert self.cmd("DATA").startswith("354")
        self.s.sendall(f"Subject: {n}\r\n\r\nbody {n}\r\n.\r\n".encode())
        return self.reply()

    def close(self):
        self.f.close()   # the file holds the socket open too
        self.s.close()

    def quit(self):
        r = self.cmd("QUIT")
        self.close()
        return r


@pytest.fixture
def daemon(postern_bin, tmp_path):
    started = []
    reachable_by_exim_user(tmp_path)

    def make(config, tls_default=False, log="+pid"):
        where = tmp_path / f"d{len(started)}"
        where.mkdir()
        os.chmod(where, 0o755)
        (p,) = free_ports(1)
        d = Daemon(postern_bin, where, f"local_interfaces = 127.0.0.1\ndaemon_smtp_ports = {p}\n"
                   f"smtp_banner = ready pid=$pid\nlog_selector = {log}\n" + config, tls_default=tls_default)
        d.port = p
        d.start()
        started.append(d)
        d.wait_listening(None)
        assert wait_for(lambda: len(idle_of(d.proc.pid)) >= 1)
        return d
    yield make
    for d in started:
        d.stop()


def back_in_pool(d, pid):
    """The process has said its connection ended and waits for the next one. It is named idle
    just before it tells the daemon, which reads that at its next turn: a moment more."""
    assert wait_for(lambda: pid in idle_of(d.proc.pid)), (pid, idle_of(d.proc.pid), d.mainlog)
    time.sleep(0.1)


def start_line(d, pid, n):
    """The n-th START line logged by process pid."""
    lines = [x for x in d.mainlog.splitlines() if f"[{pid}] START " in x]
    assert len(lines) > n, d.mainlog
    return lines[n]


STATE = """acl_smtp_connect = conn
acl_smtp_helo = helo
acl_smtp_rcpt = accept
queue_only = true
smtp_accept_max_per_connection = 1
smtp_accept_max = 20
smtp_accept_reserve = 20
smtp_reserve_hosts = 127.0.0.2 : *.test
dns_servers = 127.0.0.1.{dns}
dns_retrans = 1s
dns_retry = 1
begin acl
conn:
  warn ratelimit = 1000 / 1h / per_conn / leaky / everyone
  warn logwrite = START c0=<$acl_c0> helo=<$sender_helo_name> name=<$sender_host_name> \\
         auth=<$authenticated_id> rate=<$sender_rate> file=<${{lookup{{k}}lsearch{{{file}}}}}>
  accept
helo:
  warn set acl_c0 = c0-$sender_helo_name
  accept
begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = yes
  server_set_id = $auth2
"""


def dns_with(tmp_path, extra_test="", zones_extra=None):
    """NSD with dns_server.py's zones, plus records of this file's tests."""
    zones = dict(dns_server.ZONES)
    zones["test"] = zones["test"] + extra_test
    zones.update(zones_extra or {})
    (tmp_path / "dns").mkdir()
    return dns_server.DnsServer(tmp_path / "dns", zones=zones).start()


LOOP_PTR = {"127.in-addr.arpa": """$ORIGIN 127.in-addr.arpa.
$TTL 300
@       IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@       IN NS  ns.test.
1.0.0   IN PTR loop.test.
"""}


def test_nothing_of_a_connection_is_seen_by_the_next(daemon, tmp_path):
    """$acl_c*, HELO name, authenticated id, the client's name (looked up in the process for
    smtp_reserve_hosts and handed to the session), smtp_accept_max_per_connection's count,
    ratelimit per_conn, and a lookup file changed between the two connections."""
    lookup = tmp_path / "table"
    lookup.write_text("k: first\n")
    os.chmod(lookup, 0o644)
    dns = dns_with(tmp_path, "loop    IN A   127.0.0.1\n", LOOP_PTR)
    try:
        reused_state_checks(daemon(STATE.format(file=lookup, dns=dns.port)), lookup)
    finally:
        dns.stop()


def reused_state_checks(d, lookup):
    c = Smtp(d.port)                          # 127.0.0.1: named loop.test (a reserve host)
    pid = c.pid
    assert c.cmd("EHLO one.test").startswith("250")
    assert c.cmd("AUTH PLAIN AHVzZXIxAHB3").startswith("235")       # user1
    assert c.message(1).startswith("250")
    assert c.cmd("MAIL FROM:<a@client.test>").startswith("421")      # one per connection
    c.quit()
    first = start_line(d, pid, 0)
    assert "c0=<> helo=<> name=<loop.test> auth=<>" in first, first
    lookup.write_text("k: second\n")
    back_in_pool(d, pid)

    c = Smtp(d.port, src="127.0.0.2")         # a reserve host by address: no name looked up
    assert c.pid == pid
    second = start_line(d, pid, 1)
    assert "c0=<> helo=<> name=<> auth=<>" in second, second
    assert "file=<second>" in second and "file=<first>" in first
    rate1 = float(re.search(r"rate=<([\d.]+)>", first).group(1))
    rate2 = float(re.search(r"rate=<([\d.]+)>", second).group(1))
    assert rate2 > rate1, (first, second)     # computed anew: the record counted two connections
    assert c.cmd("EHLO two.test").startswith("250")
    assert c.message(2).startswith("250")     # the count of messages starts again
    c.quit()
    back_in_pool(d, pid)
    c = Smtp(d.port)
    assert c.pid == pid
    assert "c0=<> helo=<> name=<loop.test>" in start_line(d, pid, 2)
    c.quit()
    assert len(list((d.spool / "input").glob("*-H"))) == 2
    assert "not in reserve list" not in d.mainlog and "refused" not in d.mainlog, d.mainlog


def test_a_dns_answer_changed_between_connections_is_seen(daemon, tmp_path):
    dns = dns_with(tmp_path, 'reuse   IN TXT "one"\n')
    zones = dns.zones
    try:
        d = daemon(f"dns_servers = 127.0.0.1.{dns.port}\ndns_retrans = 1s\ndns_retry = 1\n"
                   "acl_smtp_connect = accept logwrite = START txt=<${lookup dnsdb{txt=reuse.test}}>\n")
        c = Smtp(d.port)
        pid = c.pid
        c.quit()
        assert "txt=<one>" in start_line(d, pid, 0)
        # the same server (port) with the record changed (TTL 300: a kept answer would be used)
        port = dns.port
        dns.stop()
        zones["test"] = zones["test"].replace('reuse   IN TXT "one"', 'reuse   IN TXT "two"')
        saved = dns_server._free_port
        dns_server._free_port = lambda: port
        try:
            dns.start()
        finally:
            dns_server._free_port = saved
        back_in_pool(d, pid)
        c = Smtp(d.port)
        assert c.pid == pid
        c.quit()
        assert "txt=<two>" in start_line(d, pid, 1)
    finally:
        dns.stop()


def test_tls_then_plain(daemon):
    d = daemon("tls_advertise_hosts = *\nacl_smtp_connect = conn\nacl_smtp_quit = quit\n"
               "begin acl\nconn:\n  accept logwrite = START tls=<$tls_in_cipher> sni=<$tls_in_sni>\n"
               "quit:\n  accept logwrite = END tls=<$tls_in_cipher> sni=<$tls_in_sni>\n", tls_default=True)
    c = Smtp(d.port)
    pid = c.pid
    assert c.cmd("EHLO one.test").startswith("250")
    c.starttls()
    assert c.cmd("EHLO one.test").startswith("250")
    c.quit()
    ends = lambda: [x for x in d.mainlog.splitlines() if f"[{pid}] END " in x]
    assert wait_for(lambda: len(ends()) == 1)
    assert "END tls=<TLS" in ends()[0], ends()
    back_in_pool(d, pid)
    for _ in range(2):                         # twice: the process is still usable after it
        c = Smtp(d.port)
        assert c.pid == pid
        assert c.cmd("EHLO two.test").startswith("250")
        c.quit()
        back_in_pool(d, pid)
    assert wait_for(lambda: len(ends()) == 3)
    assert all(x.endswith("END tls=<> sni=<>") for x in ends()[1:]), ends()
    assert start_line(d, pid, 1).endswith("START tls=<> sni=<>")
    # and TLS again on the same process
    c = Smtp(d.port)
    assert c.pid == pid
    c.cmd("EHLO three.test")
    c.starttls()
    assert c.cmd("EHLO three.test").startswith("250")
    c.quit()
    assert wait_for(lambda: len(ends()) == 4)
    assert "END tls=<TLS" in ends()[3], ends()


def test_a_connection_dropped_mid_data_then_a_clean_one(daemon):
    d = daemon("acl_smtp_rcpt = accept\nqueue_only = true\n")
    c = Smtp(d.port)
    pid = c.pid
    c.cmd("EHLO one.test")
    assert c.cmd("MAIL FROM:<a@client.test>").startswith("250")
    assert c.cmd("RCPT TO:<r@server.test>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.s.sendall(b"Subject: lost\r\n\r\nhalf a body")
    c.close()
    assert wait_for(lambda: "unexpected disconnection while reading SMTP command" in d.mainlog
                    or "lost while reading message data" in d.mainlog), d.mainlog
    back_in_pool(d, pid)
    c = Smtp(d.port)
    assert c.pid == pid
    c.cmd("EHLO two.test")
    assert c.message(2).startswith("250")
    c.quit()
    hs = list((d.spool / "input").glob("*-H"))
    assert len(hs) == 1 and "Subject: 2" in (d.spool / "input" / (hs[0].name[:-2] + "-H")).read_text()
    assert not list((d.spool / "input").glob("*-D"))[1:]
    assert len(re.findall(r"<= a@client.test", d.mainlog)) == 1


def fds(pid):
    # A spare file made with O_TMPFILE keeps the name "<dir>/#<inode> (deleted)" in /proc after
    # it is linked; the set of spares is remade after each message, so only its place is compared.
    return sorted(re.sub(r"/#\d+ \(deleted\)$", "/#<spare> (deleted)", os.readlink(f"/proc/{pid}/fd/{x}"))
                  for x in os.listdir(f"/proc/{pid}/fd"))


def zombies_of(pid):
    out = []
    for x in os.listdir("/proc"):
        try:
            if x.isdigit() and f") Z {pid} " in pathlib.Path(f"/proc/{x}/stat").read_text():
                out.append(int(x))
        except OSError:
            pass
    return out


def rss_kb(pid, field="VmRSS"):
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def test_fds_and_memory_stable_over_many_connections(daemon, tmp_path):
    """About 2000 connections (EHLO, a lookup, every fourth a message, QUIT) on a daemon whose
    processes serve up to 5000: the process that served the most has the same descriptors as
    before and its anonymous memory does not grow (0.5 KB per message did, before reception
    gave its scratch memory back)."""
    lookup = tmp_path / "table"
    lookup.write_text("k: v\n")
    os.chmod(lookup, 0o644)
    d = daemon(f"smtp_accept_process_reuse = 5000\nacl_smtp_rcpt = accept\nqueue_only = true\n"
               f"acl_smtp_helo = accept condition = ${{lookup{{k}}lsearch{{{lookup}}}{{yes}}}}\n"
               "acl_smtp_connect = accept set acl_c1 = ${str2b64:${sha256:$tod_log}}\n")
    seen = {}

    def run(n):
        for i in range(n):
            c = Smtp(d.port)
            seen[c.pid] = seen.get(c.pid, 0) + 1
            assert c.cmd(f"EHLO c{i}.test").startswith("250")
            if i % 4 == 0:
                assert c.message(i).startswith("250")
            c.quit()
            # mostly the same process next time: wait until it is idle again
            deadline = time.time() + 2
            while time.time() < deadline:
                try:
                    if pathlib.Path(f"/proc/{c.pid}/comm").read_text().strip() == "postern-idle":
                        break
                except OSError:
                    break
                time.sleep(0.0005)
            time.sleep(0.001)

    run(300)
    busiest = max(seen, key=seen.get)
    assert seen[busiest] > 50, seen
    back_in_pool(d, busiest)
    fds_before, rss_before = fds(busiest), rss_kb(busiest, "RssAnon")
    before = seen[busiest]
    run(1700)
    assert seen[busiest] - before > 1000, seen
    back_in_pool(d, busiest)
    assert fds(busiest) == fds_before
    assert zombies_of(busiest) == []          # nothing it started is left unreaped
    assert rss_kb(busiest, "RssAnon") - rss_before < 100, (rss_before, rss_kb(busiest, "RssAnon"))
    assert len(list((d.spool / "input").glob("*-H"))) == 500
    assert "PANIC" not in d.mainlog and not d.paniclog


def test_session_counts_while_processes_are_reused(daemon):
    """smtp_accept_max = 2: two connections held, the third refused; once they end (the
    processes back in the pool, not exited) two more are accepted by the same processes."""
    d = daemon("smtp_accept_max = 2\n", log="+pid +smtp_connection")
    a, b = Smtp(d.port), Smtp(d.port)
    assert a.banner.startswith("220") and b.banner.startswith("220")
    refused = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    assert refused.recv(200).startswith(b"421 Too many concurrent SMTP connections")
    refused.close()
    a.quit()
    b.quit()
    back_in_pool(d, a.pid)
    back_in_pool(d, b.pid)
    c, e = Smtp(d.port), Smtp(d.port)
    assert {c.pid, e.pid} == {a.pid, b.pid}
    assert c.banner.startswith("220") and e.banner.startswith("220")
    counts = re.findall(r"connection count = (\d+)", d.mainlog)
    assert counts == ["1", "2", "1", "2"], d.mainlog    # the refused one is not counted
    c.quit()
    e.quit()


def test_a_process_killed_mid_connection_is_uncounted_and_replaced(daemon):
    d = daemon("smtp_accept_max = 1\n", log="+pid +smtp_connection")
    c = Smtp(d.port)
    c.quit()
    back_in_pool(d, c.pid)
    c = Smtp(d.port)
    victim = c.pid
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(victim))
    with pytest.raises((EOFError, ConnectionError, OSError)):
        c.cmd("EHLO x.test")
    # the daemon reaped it: its connection no longer counts, and the pool is refilled
    assert wait_for(lambda: len(idle_of(d.proc.pid)) == 1)
    deadline = time.time() + 5
    while True:
        c = Smtp(d.port)
        if c.banner.startswith("220") or time.time() > deadline:
            break
        c.close()
        time.sleep(0.1)
    assert c.banner.startswith("220"), c.banner
    assert c.pid != victim
    c.quit()


def test_sighup_lets_a_busy_process_finish_then_retires_it(daemon):
    d = daemon("")
    c = Smtp(d.port)
    busy = c.pid
    d.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: d.mainlog.count("daemon started") == 2), d.mainlog
    assert c.cmd("EHLO one.test").startswith("250")     # still served
    c.quit()
    assert wait_for(lambda: not pid_alive(busy))        # not reused by the new daemon
    c = Smtp(d.port)
    assert c.pid != busy
    c.quit()


VARS = ("c0=<$acl_c0> c9=<$acl_c9> m0=<$acl_m0> helo=<$sender_helo_name> name=<$sender_host_name> "
        "hlf=<$host_lookup_failed> auth=<$authenticated_id> asnd=<$authenticated_sender> "
        "sha=<$sender_host_authenticated> tls=<$tls_in_cipher> sni=<$tls_in_sni> peerdn=<$tls_in_peerdn> "
        "snd=<$sender_address> rc=<$recipients_count> proto=<$received_protocol> "
        "svf=<$sender_verify_failure> rvf=<$recipient_verify_failure> avm=<$acl_verify_message> "
        "dnsl=<$dnslist_domain> dnssec=<$lookup_dnssec_authenticated> tout=<$tls_out_cipher> "
        "count=<$smtp_count_at_connection_start>")

COMPARE = """acl_smtp_connect = conn
acl_smtp_helo = helo
acl_smtp_mail = mail
acl_smtp_rcpt = rcpt
acl_smtp_data = data
acl_smtp_quit = quit
queue_only = true
begin acl
conn:
  accept logwrite = CONN {v}
helo:
  accept logwrite = HELO {v}
mail:
  accept logwrite = MAIL {v}
rcpt:
  warn   condition = ${{if eq{{$local_part}}{{dirty}}}}
         set acl_c0 = dirty-c0
         set acl_c9 = dirty-c9
         set acl_m0 = dirty-m0
  accept logwrite = RCPT {v}
data:
  accept logwrite = DATA {v}
quit:
  accept logwrite = QUIT {v}
begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = yes
  server_set_id = $auth2
"""


def conversation(port, dirty):
    c = Smtp(port)
    assert c.cmd("EHLO dirty.test" if dirty else "EHLO clean.test").startswith("250")
    if dirty:
        assert c.cmd("AUTH PLAIN AHVzZXIxAHB3").startswith("235")
        assert c.cmd("MAIL FROM:<d@client.test> AUTH=<d@client.test>").startswith("250")
        assert c.cmd("RCPT TO:<dirty@server.test>").startswith("250")
        assert c.cmd("DATA").startswith("354")
        c.s.sendall(b"Subject: dirty\r\n\r\nx\r\n.\r\n")
        assert c.reply().startswith("250")
        c.cmd("MAIL FROM:<half@client.test>")     # a transaction left open
    else:
        assert c.message(1).startswith("250")
    c.quit()
    return c.pid


def clean_lines(d, pid):
    """The ACL lines of the connection served last by pid, without time, pid and message id."""
    acl = r"^.*?\[\d+\] (\w{6}-\w{6}-\w{2} )?(?=(CONN|HELO|MAIL|RCPT|DATA|QUIT) )"
    lines = [re.sub(acl, "", x) for x in d.mainlog.splitlines() if f"[{pid}] " in x and re.match(acl, x)]
    if not any(x.startswith("CONN ") for x in lines):
        return []
    last = max(i for i, x in enumerate(lines) if x.startswith("CONN "))
    return lines[last:]


def test_a_second_connection_logs_what_a_fresh_process_logs(daemon):
    """The same two conversations (a dirty one: AUTH, ACL variables set, a message, a
    transaction left open; then a plain one) on a daemon that reuses its processes and on one
    with a process per connection: the second conversation's variables at every ACL are the
    same in both."""
    cfg = COMPARE.format(v=VARS)
    fresh = daemon("smtp_accept_process_reuse = 1\n" + cfg)
    reused = daemon(cfg)
    out = {}
    for name, d in (("fresh", fresh), ("reused", reused)):
        first = conversation(d.port, dirty=True)
        if name == "reused":
            back_in_pool(d, first)
        second = conversation(d.port, dirty=False)
        assert (second == first) == (name == "reused"), (name, first, second)
        assert wait_for(lambda: len(clean_lines(d, second)) == 6), d.mainlog
        out[name] = clean_lines(d, second)
    assert out["reused"] == out["fresh"], "\n".join(out["reused"] + ["---"] + out["fresh"])
    assert "c0=<> c9=<> m0=<>" in out["reused"][0] and "helo=<>" in out["reused"][0]


def test_a_tls_connection_that_changed_the_shared_context_ends_its_process(daemon, tmp_path):
    """A certificate named by an expansion is loaded into the daemon's cached context by each
    connection (it is not cached): that would stay for the next client, so the process that
    served such a TLS connection exits instead of serving another; a plain connection does not
    touch the context and the process serves on."""
    import subprocess
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem"), "-days", "2",
                    "-subj", "/CN=reuse.test"], check=True, capture_output=True)
    os.chmod(tmp_path / "k.pem", 0o644)
    d = daemon(f"tls_advertise_hosts = *\n"
               f"tls_certificate = ${{if eq{{$received_port}}{{0}}{{/nonexistent}}{{{tmp_path}/c.pem}}}}\n"
               f"tls_privatekey = {tmp_path}/k.pem\n")
    c = Smtp(d.port)
    plain = c.pid
    c.cmd("EHLO one.test")
    c.quit()
    back_in_pool(d, plain)                       # plain: serves on
    c = Smtp(d.port)
    assert c.pid == plain
    c.cmd("EHLO two.test")
    c.starttls()
    assert c.cmd("EHLO two.test").startswith("250")
    c.quit()
    assert wait_for(lambda: not pid_alive(plain)), "served TLS with a changed context, still alive"
    c = Smtp(d.port)
    assert c.pid != plain
    c.cmd("EHLO three.test")
    c.starttls()
    assert c.cmd("EHLO three.test").startswith("250")
    c.quit()
