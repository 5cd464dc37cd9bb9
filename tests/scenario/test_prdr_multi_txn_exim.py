"""PRDR over several transactions of one message on one connection (max_rcpt smaller than the
recipient count, remote_max_parallel = 1), by Exim 4.96 and by Postern, to the same server;
the commands sent, the log lines and the bounce's account must be Exim's.

Observed with Exim: each transaction of two or more recipients asks for PRDR; a 2xx overall
reply is added to the confirmation of every delivered recipient of the message so far, once per
transaction (the first one's C= ends "\\n250 OK done" three times after three transactions). A
failed overall reply ends the message's transactions (QUIT): the recipients not sent get the
same error (4xx: "== ... defer (-46) ... after end of data: 451 ..."; 5xx: "**"). Without PRDR
the earlier transactions keep their results.

Not copied: after PRDR, Exim 4.96 applies the failed overall reply to the earlier transactions'
recipients too (5xx: all of them fail, those the server accepted included, and r2's own PRDR
error is overwritten; 4xx: the accepted ones defer and are sent again). The server took
responsibility for those (RFC 5321 4.1.1.4); a bounce for them is false and a retry duplicates
them. Postern leaves the earlier transactions' results as they were (EARLIER_KEPT)."""
import os
import re
import socket
import threading

import pytest

import test_smtpclient_e2e as e2e
from test_smtpclient_e2e import failure_part, pytestmark  # noqa: F401  (skip without exim/root)

REPLY = {"r1": "250 ok one", "r2": "550 5.7.1 no two", "r3": "451 4.2.0 three later",
         "r4": "250 ok four", "r5": "250 ok five", "r6": "550 no six"}


class Server:
    """Any number of connections, PRDR offered; per-recipient replies from REPLY, the overall
    reply of the n-th transaction on a connection from finals (default "250 OK done"; without
    PRDR "250 ok all" for the first). Records the commands as "connection> command"."""

    def __init__(self, finals):
        self.finals = finals
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.n = 0
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.n += 1
            threading.Thread(target=self.conn, args=(c, self.n), daemon=True).start()

    def conn(self, c, n):
        f = c.makefile("rb")
        c.sendall(b"220 fake\r\n")
        rcpts, prdr, ntx = [], False, 0
        while True:
            line = f.readline()
            if not line:
                return
            t = line.decode().rstrip("\r\n")
            self.lines.append(f"{n}> {t}")
            u = t.upper()
            if u.startswith("EHLO"):
                c.sendall(b"250-fake\r\n250-PIPELINING\r\n250 PRDR\r\n")
            elif u.startswith("MAIL"):
                rcpts, prdr = [], "PRDR" in u
                c.sendall(b"250 ok\r\n")
            elif u.startswith("RCPT"):
                rcpts.append(re.search(r"<(.*?)@", t).group(1))
                c.sendall(b"250 ok\r\n")
            elif u.startswith("DATA"):
                c.sendall(b"354 go\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                ntx += 1
                final = self.finals.get(ntx, "250 OK done" if prdr or ntx > 1 else "250 ok all")
                out = "".join(REPLY[r] + "\r\n" for r in rcpts) if prdr else ""
                c.sendall(((("353 PRDR go\r\n" + out) if prdr else "") + final + "\r\n").encode())
            elif u.startswith("QUIT"):
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")

    def wait(self):
        pass

    def abandon(self):
        pass


CONF = e2e.CONF.replace("never_users =", "remote_max_parallel = 1\nnever_users =", 1)

CASES = {
    "three-prdr": (6, 2, True, {}),
    "last-single": (5, 2, True, {}),
    "three-rcpt": (6, 3, True, {}),
    "prdr-451-second": (6, 2, True, {2: "451 4.3.0 later all"}),
    "prdr-550-second": (6, 2, True, {2: "550 5.7.0 no all"}),
    "plain-451-second": (6, 2, False, {2: "451 4.3.0 later all"}),
    "plain-550-second": (6, 2, False, {2: "550 5.7.0 no all"}),
}


def run(who, nrcpt, max_rcpt, prdr, finals, monkeypatch, rcpts=None):
    monkeypatch.setattr(e2e, "ScriptedServer", lambda *a: Server(finals))
    monkeypatch.setattr(e2e, "CONF", CONF)
    extra = f"  max_rcpt = {max_rcpt}" + ("" if prdr else "\n  hosts_try_prdr =")
    srv, lines, bounce, _ = e2e.deliver(who, ("", [1]), rcpts=rcpts or [f"r{i}@r.test" for i in range(1, nrcpt + 1)],
                                        extra=extra)
    return srv.lines, lines, failure_part(bounce)


# The cases where Exim's failed later PRDR transaction rewrites the first transaction's results
# (r1 accepted, r2 refused by its PRDR reply): what Postern logs for those two instead.
EARLIER_KEPT = {"prdr-451-second", "prdr-550-second"}
FIRST_TXN = ['=> r1@r.test R=r T=t H=127.0.0.1 [127.0.0.1] PRDR C="250 ok one\\\\n250 OK done"',
             "** r2@r.test R=r T=t H=127.0.0.1 [127.0.0.1]: PRDR error after DATA: 550 5.7.1 no two"]


def first_txn(lines):
    return [x for x in lines if re.match(r"(=>|==|\*\*) r[12]@", x)]


@pytest.mark.parametrize("case", sorted(CASES))
def test_prdr_transactions_like_exim(case, monkeypatch):
    exim = run("exim", *CASES[case], monkeypatch)
    ours = run("postern", *CASES[case], monkeypatch)
    assert ours[0] == exim[0]
    if case not in EARLIER_KEPT:
        assert ours[1] == exim[1]
        assert ours[2] == exim[2]
        return
    # Exim's bug, still there: the server's acceptance of r1 is overridden.
    assert first_txn(exim[1])[0].startswith(("** r1@", "== r1@"))
    assert first_txn(ours[1]) == FIRST_TXN
    assert [x for x in ours[1] if x not in FIRST_TXN] == [x for x in exim[1] if x not in first_txn(exim[1])]
    assert "r1@r.test" not in ours[2]
    assert "r2@r.test\n    host 127.0.0.1 [127.0.0.1]\n    PRDR error after DATA: 550 5.7.1 no two" in ours[2]


def test_what_exim_showed(monkeypatch):
    """The facts the comparison rests on, as Exim 4.96 showed them."""
    cmds, lines, _ = run("postern", *CASES["three-prdr"], monkeypatch)
    assert sum(c.startswith("1> MAIL") for c in cmds) == 3 and not any(c.startswith("2>") for c in cmds)
    assert 'r1@r.test R=r T=t H=127.0.0.1 [127.0.0.1] PRDR C="250 ok one\\\\n250 OK done\\\\n250 OK done' \
        '\\\\n250 OK done"' in "\n".join(lines)
    _, lines, _ = run("postern", *CASES["prdr-550-second"], monkeypatch)
    assert sum(x.startswith("** ") for x in lines) == 5 and sum(x.startswith("=> ") for x in lines) == 1


def test_duplicate_remote_recipient_like_exim(monkeypatch):
    """r1@r.test and r1@R.TEST are one address (the domain is caseless): Exim sends one RCPT for
    them and logs one line."""
    rcpts = ["r1@r.test", "r1@R.TEST", "r4@r.test"]
    exim = run("exim", 0, 10, True, {}, monkeypatch, rcpts)
    ours = run("postern", 0, 10, True, {}, monkeypatch, rcpts)
    assert sum(c.startswith("1> RCPT") for c in exim[0]) == 2
    assert ours == exim


def test_later_transaction_4xx_retry_record(monkeypatch):
    """Without PRDR, a 4xx to the second or third transaction's data: Exim 4.96 writes the host's
    message retry record (T:host:ip:port:id) with the failing reply's more_errno but errno 0 and
    the FIRST transaction's 2xx reply as its text (the error of the message's first address,
    delivered before the failure). Not copied: the record is about the failure, so Postern's
    has errno -46 and the reply that failed (docs/smtp-client.md). The key and more_errno agree."""
    def norm(dump):
        return [(re.sub(r":\d+:[0-9A-Za-z-]+$", ":<port>:<id>", k), e, m, t) for k, e, m, t in dump]

    monkeypatch.setattr(e2e, "CONF", CONF)
    for finals, code in [({1: "250 first ok", 2: "451 4.3.0 later all"}, "13121"),
                         ({1: "250 first ok", 3: "452 4.3.0 third"}, "13377")]:
        monkeypatch.setattr(e2e, "ScriptedServer", lambda *a: Server(finals))
        extra = "  max_rcpt = 2\n  hosts_try_prdr ="
        rcpts = [f"r{i}@r.test" for i in range(1, 7)]
        _, ex_lines, _, ex_dump = e2e.deliver("exim", ("", [1]), rcpts=rcpts, extra=extra)
        _, pr_lines, _, pr_dump = e2e.deliver("postern", ("", [1]), rcpts=rcpts, extra=extra)
        assert pr_lines == ex_lines
        failed = [v for v in finals.values() if v[0] == "4"][0]
        key = "T:127.0.0.1:127.0.0.1:<port>:<id>"
        assert norm(ex_dump) == [(key, "0", code, "H=127.0.0.1 [127.0.0.1]: 250 first ok")]
        assert norm(pr_dump) == [(key, "-46", code, "H=127.0.0.1 [127.0.0.1]: SMTP error from remote mail "
                                  "server after end of data: " + failed)]
