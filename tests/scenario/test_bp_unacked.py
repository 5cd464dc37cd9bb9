"""The queue listing after a restart (docs/spool.md, "Durability"): a message whose integrity
line is of another boot and whose files are not as written was never acknowledged, so -bp and
its variants (-bpc, -bpr, -bpi, -bpj, -bp <id>) leave it out, as a delivery attempt would move it
out of the queue; the listing itself moves nothing. A message of this boot is not checked (its
files are what was written), and an intact one of another boot is listed as before."""
import json
import os
import subprocess

import pytest

from test_spool_integrity import as_if_restarted, daemon, hfile, receive  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the daemon drops to the mail user")


def bp(d, postern_bin, *args):
    r = subprocess.run([postern_bin, "-C", str(d.conf)] + list(args), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def damage_body(d, mid):
    p = d.spool / "input" / f"{mid}-D"
    p.write_bytes(p.read_bytes().replace(b"bad body", b"old byte"))


def test_unacked_left_out_of_every_listing(daemon, postern_bin):  # noqa: F811
    d = daemon
    good, bad, fresh = receive(d, ["Subject: good\r\n\r\ngood body\r\n", "Subject: bad\r\n\r\nbad body\r\n",
                                   "Subject: fresh\r\n\r\nbad body\r\n"])
    for mid in (good, bad):
        as_if_restarted(d, mid)
    damage_body(d, bad)
    damage_body(d, fresh)   # this boot's: not checked, listed
    assert bp(d, postern_bin, "-bpc") == "2\n"
    listing = bp(d, postern_bin, "-bp")
    assert good in listing and fresh in listing and bad not in listing
    assert bad not in bp(d, postern_bin, "-bpr") and good in bp(d, postern_bin, "-bpr")
    assert sorted(bp(d, postern_bin, "-bpi").split()) == sorted([good, fresh])
    assert bp(d, postern_bin, "-bp", bad) == ""
    assert good in bp(d, postern_bin, "-bp", good)
    ids = [json.loads(l)["id"] for l in bp(d, postern_bin, "-bpj").splitlines()]
    assert sorted(ids) == sorted([good, fresh])
    assert json.loads(bp(d, postern_bin, "-bpcj")) == {"count": 2}
    # Nothing was moved: that is a delivery attempt's work (with the message's lock).
    assert hfile(d, bad).exists() and not (d.spool / "unacked").exists()


def test_intact_after_restart_still_listed(daemon, postern_bin):  # noqa: F811
    d = daemon
    mids = receive(d, [f"Subject: n{i}\r\n\r\nbody {i}\r\n" for i in range(3)])
    for mid in mids:
        as_if_restarted(d, mid)
    assert bp(d, postern_bin, "-bpc") == "3\n"
    assert sorted(bp(d, postern_bin, "-bpi").split()) == sorted(mids)
