"""CHUNKING with PIPELINING beside Exim 4.96: what the client sends in each batch (the bytes it
writes before it waits for a reply) and the delivery's log lines, for whole -odi deliveries by
Exim and by Postern to the same scripted server (smtpclient_batches.BatchServer).

Exim 4.96 (observed) puts the first BDAT in the batch with MAIL and the RCPTs: a message of up to
8192 wire bytes whole ("BDAT <n> LAST" and its bytes), a larger one its headers' chunk
("BDAT <n>"), the body's chunk following after the RCPT replies when a recipient was accepted.
A refused MAIL is named after that BDAT ("after pipelined end of data" / "after pipelined
sending data block"); the BDAT's reply when no recipient was accepted is not logged. The reply
to a headers' chunk is read before the body's chunk goes, with or without PIPELINING; a
refusal there ends the transaction ("after [pipelined ]sending data block: 554 ...").

When nothing will follow on the connection, QUIT goes in the same batch as the data (or after
the RCPT replies when no data was sent), as Exim 4.96 sends it."""
import os
import shutil

import pytest

from smtpclient_batches import Conn, compare

pytestmark = pytest.mark.skipif(shutil.which("exim") is None or os.geteuid() != 0,
                                reason="needs Debian's exim and root")

SMALL = (b"Subject: t\n\nbody\n",)
BIG = (b"Subject: t\n\n" + (b"y" * 70 + b"\n") * 200,)   # 14400 body bytes on the wire
PRDR_EHLO = "250-fake\r\n250-PIPELINING\r\n250-PRDR\r\n250 CHUNKING\r\n"
NOPIPE_EHLO = "250-fake\r\n250 CHUNKING\r\n"

CASES = {
    "small": ({}, {}, ["a@r.test"], SMALL),
    "small_one_refused": ({"RCPT TO:<b@": "550 5.1.1 no b\r\n"}, {}, ["a@r.test", "b@r.test"], SMALL),
    "small_all_refused": ({"RCPT TO:<": "550 5.1.1 no\r\n"}, {}, ["a@r.test", "b@r.test"], SMALL),
    "small_rcpt_451": ({"RCPT TO:<a@": "451 4.3.0 later\r\n"}, {}, ["a@r.test", "b@r.test"], SMALL),
    "small_mail_550": ({"MAIL": "550 5.7.1 no mail\r\n"}, {}, ["a@r.test"], SMALL),
    "small_mail_451": ({"MAIL": "451 4.3.0 no mail now\r\n"}, {}, ["a@r.test"], SMALL),
    "small_bdat_554": ({}, {"eod": "554 5.7.1 content rejected\r\n"}, ["a@r.test"], SMALL),
    "small_prdr": ({"EHLO": PRDR_EHLO}, {"eod": "353 go\r\n250 a ok\r\n550 b no\r\n250 all\r\n"},
                   ["a@r.test", "b@r.test"], SMALL),
    "big": ({}, {}, ["a@r.test"], BIG),
    "big_all_refused": ({"RCPT TO:<": "550 5.1.1 no\r\n"}, {}, ["a@r.test", "b@r.test"], BIG),
    "big_mail_451": ({"MAIL": "451 4.3.0 no mail now\r\n"}, {}, ["a@r.test"], BIG),
    "big_headers_refused": ({}, {"chunk": "554 5.7.1 no headers like that\r\n"}, ["a@r.test"], BIG),
    "data_no_chunking": ({"EHLO": "250-fake\r\n250 PIPELINING\r\n"}, {}, ["a@r.test"], SMALL),
    # without PIPELINING every command waits for its reply, the headers' chunk too
    "no_pipelining_small": ({"EHLO": NOPIPE_EHLO}, {}, ["a@r.test", "b@r.test"], SMALL),
    "no_pipelining_big": ({"EHLO": NOPIPE_EHLO}, {}, ["a@r.test"], BIG),
    "no_pipelining_big_headers_refused": ({"EHLO": NOPIPE_EHLO}, {"chunk": "554 5.7.1 no headers like that\r\n"},
                                          ["a@r.test"], BIG),
}


def message_lines(log):
    """The first message's own log lines (a bounce's differ in ways that are not the client's)."""
    return [l for l in log if l.startswith("M1 ") and "lost privilege" not in l]




@pytest.mark.parametrize("name", sorted(CASES))
def test_bdat_batches_as_exim(name):
    replies, conn_args, rcpts, messages = CASES[name]
    r = compare(lambda: [Conn(replies=replies, **conn_args)], rcpts, messages)
    (ex_b, _, ex_log, _), (pr_b, _, pr_log, _) = r["exim"], r["postern"]
    assert len(ex_b) == len(pr_b) == 1
    assert pr_b[0] == ex_b[0]
    assert message_lines(pr_log) == message_lines(ex_log)
    if name.startswith("small") and "EHLO" not in replies:
        # the whole message went with MAIL and the RCPTs
        assert ex_b[0][1][-3].endswith(" LAST") and ex_b[0][1][0].startswith("MAIL FROM:")
    if name == "big":
        assert ex_b[0][1][-2] == "BDAT 284" and ex_b[0][2][0] == "BDAT 14400 LAST"


def test_pipe_connect_bdat_in_early_batch_as_exim():
    """With PIPECONNECT the early batch (before the banner) holds EHLO, MAIL, RCPT and the small
    message's BDAT LAST with its bytes."""
    ehlo = "250-fake\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 PIPECONNECT\r\n"
    r = compare(lambda: [Conn(replies={"EHLO": ehlo}), Conn(replies={"EHLO": ehlo}, early=True)], ["a@r.test"],
                SMALL, extra="  hosts_pipe_connect = *", times=2)
    (ex_b, _, ex_log, ex_misc), (pr_b, _, pr_log, pr_misc) = r["exim"], r["postern"]
    assert ex_b[1][0][:4] == ["EHLO client.test", "MAIL FROM:<sender@s.test>", "RCPT TO:<a@r.test>", "BDAT 290 LAST"]
    assert pr_b == ex_b
    assert [l for l in pr_log if "lost privilege" not in l] == [l for l in ex_log if "lost privilege" not in l]
    assert pr_misc == ex_misc == ["TIME 127.0.0.1:PORT.EHLO"]
