"""A caller that is neither root nor the exim user, with an untrusted -C, beside live Exim 4.96.

Exim runs as that caller (it gives up its set-uid root), writes its log lines to stderr only and
cannot give the spool files it makes to the exim user, so the message is refused and the process
ends with status 1: "exim.c:878: chown(<spool>//input//<id>-D, 102:105) failed (Operation not
permitted)..." and "Failed setting ownership on spool file ...", or, when the spool directory is
not the caller's to write, "Failed to create spool file ...: Permission denied". With -bs the
process has answered DATA (354) and says nothing more. Compared: status, stdout, stderr, the
messages in the spool and that no log file was made. Exim leaves the empty -D file it could not
give away; Postern removes it (not compared)."""
import os

import pytest

import test_root_config_exim as rc
from test_root_reception_exim import SMTP, AclRun
from test_root_config_exim import MSG

pytestmark = rc.pytestmark


def both(fn, prepare):
    res = []
    for binary in (rc.EXIM, os.environ["POSTERN"]):
        r = AclRun(binary)
        try:
            if prepare:   # root makes the spool (the exim user's, mode 0750) with a message
                r.cmd("-odq", "pd@test.example", stdin=MSG)
            res.append(fn(r))
        finally:
            r.close()
    return res


def outcome(r, proc):
    input_dir = r.d / "spool" / "input"
    return {"rc": proc.returncode,
            "stdout": [rc.clean_line(x, r.d, r.binary) for x in proc.stdout.splitlines()],
            "stderr": [rc.clean_line(x, r.d, r.binary) for x in proc.stderr.splitlines()],
            "messages": len(list(input_dir.glob("*-H"))) if input_dir.exists() else 0,
            "mainlog": r.log("mainlog")}


@pytest.mark.parametrize("prepared", [False, True], ids=["spool-writable", "spool-exim-only"])
@pytest.mark.parametrize("mode", ["-bm", "-bs"])
def test_other_user_untrusted_config_refused_like_exim(mode, prepared):
    def go(r):
        if mode == "-bs":
            p = r.cmd("-odi", "-bs", stdin=SMTP, as_user="nobody")
        else:
            p = r.cmd("-odi", "pd@test.example", stdin=MSG, as_user="nobody")
        return outcome(r, p)
    exim, ours = both(go, prepared)
    assert ours == exim
    assert exim["rc"] == 1
    assert exim["messages"] == (1 if prepared else 0)
    why = "Permission denied" if prepared else "Failed setting ownership"
    assert any(why in x for x in exim["stderr"])
