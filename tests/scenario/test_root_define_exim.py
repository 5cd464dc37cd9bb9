"""-D on its own (the -C file trusted) by root, beside live Exim 4.96.

A -D definition is untrusted unless every macro is whitelisted (Debian: OUTGOING) with a plain
value. With only the -D untrusted, Exim behaves as for an untrusted -C: the delivery after a
reception by root runs again as the exim user, writes "exim user lost privilege for using -D
option" and cannot deliver to another user. A whitelisted definition keeps root (nobody gets the
mail). The -C file is made trusted by listing it, as test_root_config_exim.py does."""
import os
import shutil

import pytest

import test_root_config_exim as rc
from test_root_config_exim import MSG, RCPTS, Run

EXIM_TRUSTED_LIST = rc.EXIM_TRUSTED_LIST
POSTERN_TRUSTED_LIST = rc.POSTERN_TRUSTED_LIST

pytestmark = [rc.pytestmark,
              pytest.mark.skipif(EXIM_TRUSTED_LIST.exists() or POSTERN_TRUSTED_LIST.exists(),
                                 reason="a trusted configuration list exists already: not touched")]


def both_trusted(define):
    made_dir = not POSTERN_TRUSTED_LIST.parent.exists()
    res = []
    try:
        for binary in (rc.EXIM, os.environ["POSTERN"]):
            r = Run(binary)
            listing = EXIM_TRUSTED_LIST if binary == rc.EXIM else POSTERN_TRUSTED_LIST
            listing.parent.mkdir(exist_ok=True)
            listing.write_text(f"{r.d / 'conf'}\n")
            os.chmod(listing, 0o644)
            try:
                r.cmd(define, "-odi", *RCPTS, stdin=MSG)
                res.append(r.result())
            finally:
                listing.unlink()
                r.close()
    finally:
        if made_dir:
            shutil.rmtree(POSTERN_TRUSTED_LIST.parent, ignore_errors=True)
    for x in res:
        # Exim runs itself again (-Mc) for every delivery; Postern only when it must lose root.
        x["out"].pop("pd.cmdline")
    return res


def test_root_untrusted_define_loses_privilege_like_exim():
    exim, ours = both_trusted("-DFOO=bar")
    assert ours == exim
    assert "exim user lost privilege for using -D option" in exim["mainlog"]
    assert "pn" not in exim["out"]


@pytest.mark.parametrize("define", ["-DOUTGOING=x", "-DOUTGOING=a b"])
def test_root_whitelisted_define_like_exim(define):
    """A whitelisted macro keeps root only with a plain value."""
    exim, ours = both_trusted(define)
    assert ours == exim
    lost = "exim user lost privilege for using -D option" in exim["mainlog"]
    assert lost == (define != "-DOUTGOING=x")
    assert ("pn" in exim["out"]) == (not lost)
