"""`-bP router|transport|authenticator NAME` must print exactly what Exim 4.96 prints.

The references in tests/golden/drivers/expected/ were recorded from Debian's Exim 4.96 by
tests/golden/drivers/record.sh. Postern is an OpenSSL build with experimental features, so it
declares a few options Debian's binary lacks; their lines are dropped from Postern's output
before comparing (EXTRA_OPTIONS below), everything else must match line for line.
"""
import pathlib
import re
import subprocess

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "drivers"

# Options Postern declares that Debian's Exim 4.96 build does not have (see the driver files).
EXTRA_OPTIONS = {
    "router": {"bmi_deliver_alternate", "bmi_deliver_default", "bmi_dont_deliver", "bmi_rule",
               "translate_ip_address",
               "srs", "srs_alias", "srs_condition", "srs_dbinsert", "srs_dbselect"},
    "transport": {"tpda_delivery_action", "arc_sign", "tpda_host_defer_action",
                  "connection_idle_timeout"},  # beyond Exim: the delivery workers' connection cache
    "authenticator": set(),
}

PROBE_CONFIG = """
begin routers
probe_r:
  driver = accept
  transport = probe_t
begin transports
probe_t:
  driver = smtp
begin authenticators
probe_a:
  driver = plaintext
"""
PROBE_NAME = {"router": "probe_r", "transport": "probe_t", "authenticator": "probe_a"}


def cases():
    for path in sorted(GOLDEN.glob("expected/*/*.*")):
        kind, name = path.name.split(".", 1)
        yield pytest.param(path.parent.name, kind, name, id=f"{path.parent.name}-{kind}-{name}")


def option_name(line):
    name = re.split(r" = ?", line, maxsplit=1)[0]
    return name[3:] if name.startswith("no_") else name


_support = {}


def bp_supported(postern_bin, tmp_path_factory, kind):
    """Whether this postern's -bP knows `KIND NAME` at all (decided once per kind)."""
    if kind not in _support:
        conf = tmp_path_factory.mktemp("probe") / "probe.conf"
        conf.write_text(PROBE_CONFIG)
        r = subprocess.run([postern_bin, "-C", str(conf), "-bP", kind, PROBE_NAME[kind]],
                           capture_output=True, text=True, timeout=30)
        _support[kind] = (r.returncode == 0 and "driver = " in r.stdout, r)
    return _support[kind]


@pytest.mark.parametrize("conf,kind,name", list(cases()))
def test_driver_bP_matches_exim(postern_bin, tmp_path_factory, conf, kind, name):
    ok, probe = bp_supported(postern_bin, tmp_path_factory, kind)
    if not ok:
        pytest.skip(f"postern -bP does not support '{kind} NAME' yet (probe exit {probe.returncode}: "
                    f"{(probe.stderr or probe.stdout).strip()[:120]!r})")
    r = subprocess.run([postern_bin, "-C", str(GOLDEN / f"{conf}.conf"), "-bP", kind, name],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    got = [ln for ln in r.stdout.splitlines() if option_name(ln) not in EXTRA_OPTIONS[kind]]
    want = (GOLDEN / "expected" / conf / f"{kind}.{name}").read_text().splitlines()
    assert got == want
