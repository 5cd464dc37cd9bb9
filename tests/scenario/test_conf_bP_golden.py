"""postern -C X -bP against Exim 4.96's recorded output (tests/golden/bP, see record.sh).

Each configuration is compared four ways: all main options (-bP), the configuration as read
(-bP config), every driver instance's options and the driver instance lists. At least 98% of the lines must be equal; differing
lines are printed. Build-dependent options are left out of the comparison (BUILD_DEPENDENT), as
are the -bP config lines that differ only because Exim's reference build is GnuTLS and Postern's
is OpenSSL (the configurations choose settings with .ifdef _HAVE_OPENSSL / _HAVE_GNUTLS).
"""
import difflib
import pathlib
import re
import subprocess

import pytest

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / "golden" / "bP"
CONFIGS = sorted(p.stem for p in GOLDEN.glob("*.conf"))
THRESHOLD = 0.98

BUILD_DEPENDENT = {
    # compiled-in paths and the user Exim runs as (Debian's build values vs Postern's)
    "exim_user", "exim_group", "exim_path", "log_file_path", "pid_file_path", "process_log_path",
    "spool_directory",
    # GnuTLS-only options of Debian's build (Postern is an OpenSSL build)
    "gnutls_allow_auto_pkcs11", "gnutls_compat_mode",
    # options of features Debian's build lacks and Postern has (BMI, DCC, DMARC, Redis, ...)
    "bmi_config_file", "dcc_direct_add_header", "dccifd_address", "dccifd_options", "disable_fsync",
    "dmarc_forensic_sender", "dmarc_history_file", "dmarc_tld_file", "ibase_servers",
    "oracle_servers", "panic_coredump", "redis_servers", "srs_config", "srs_hashlength",
    "srs_hashmin", "srs_maxage", "srs_secrets", "srs_usehash", "srs_usetimestamp",
    # Postern's own options beyond Exim
    "dns_servers", "dsn_extra_information", "tls_ocsp_refresh",
}
# Driver options Postern declares that Debian's build lacks (experimental features).
DRIVER_EXTRAS = {
    "bmi_deliver_alternate", "bmi_deliver_default", "bmi_dont_deliver", "bmi_rule",
    "translate_ip_address", "srs", "srs_alias", "srs_condition", "srs_dbinsert", "srs_dbselect",
    "tpda_delivery_action", "arc_sign", "tpda_host_defer_action",
}
TLS_LIBRARY_LINE = re.compile(r"^\s*tls_require_ciphers = ")


def run_bP(postern_bin, conf, *args):
    res = subprocess.run([postern_bin, "-C", conf + ".conf", "-bP", *args], cwd=GOLDEN,
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def option_name(line):
    name = re.match(r"^([a-z0-9_]+)", line).group(1)
    return name[3:] if name.startswith("no_") and " = " not in line and not line.endswith(" =") else name


def compare_options(expected, got):
    want = {option_name(l): l for l in expected}
    have = {option_name(l): l for l in got}
    names = sorted((set(want) | set(have)) - BUILD_DEPENDENT)
    bad = [(n, want.get(n), have.get(n)) for n in names if want.get(n) != have.get(n)]
    return len(names), bad


def report(label, total, nbad, differing):
    ratio = (total - nbad) / total if total else 1.0
    print(f"{label}: {total - nbad}/{total} lines equal ({100 * ratio:.2f}%)")
    for item in differing:
        print("  differs:", item)
    return ratio


@pytest.mark.parametrize("conf", CONFIGS)
def test_all_main_options(postern_bin, conf):
    expected = (GOLDEN / "expected" / f"{conf}.all").read_text().splitlines()
    total, bad = compare_options(expected, run_bP(postern_bin, conf))
    assert total > 250
    assert report(f"{conf} -bP", total, len(bad), bad) >= THRESHOLD


@pytest.mark.parametrize("conf", CONFIGS)
def test_config_listing(postern_bin, conf):
    expected = [l for l in (GOLDEN / "expected" / f"{conf}.config").read_text().splitlines()
                if not TLS_LIBRARY_LINE.match(l)]
    got = [l for l in run_bP(postern_bin, conf, "config") if not TLS_LIBRARY_LINE.match(l)]
    matcher = difflib.SequenceMatcher(a=expected, b=got, autojunk=False)
    equal = sum(block.size for block in matcher.get_matching_blocks())
    total = max(len(expected), len(got))
    bad = [(op, expected[i1:i2], got[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes()
           if op != "equal"]
    assert report(f"{conf} -bP config", total, total - equal, bad) >= THRESHOLD


def driver_line_kept(line):
    if TLS_LIBRARY_LINE.match(line):
        return False
    m = re.match(r"^(?:no_)?([a-z0-9_]+)(?: =|$)", line)
    return not (m and m.group(1) in DRIVER_EXTRAS)


@pytest.mark.parametrize("conf", CONFIGS)
def test_driver_instances(postern_bin, conf):
    expected = [l for l in (GOLDEN / "expected" / f"{conf}.drivers").read_text().splitlines()
                if driver_line_kept(l)]
    got = [l for l in run_bP(postern_bin, conf, "routers", "transports", "authenticators")
           if driver_line_kept(l)]
    matcher = difflib.SequenceMatcher(a=expected, b=got, autojunk=False)
    equal = sum(block.size for block in matcher.get_matching_blocks())
    total = max(len(expected), len(got))
    bad = [(op, expected[i1:i2], got[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes()
           if op != "equal"]
    assert report(f"{conf} -bP routers transports authenticators", total, total - equal, bad) >= THRESHOLD


@pytest.mark.parametrize("conf", CONFIGS)
def test_driver_lists(postern_bin, conf):
    expected = (GOLDEN / "expected" / f"{conf}.lists").read_text().splitlines()
    assert run_bP(postern_bin, conf, "router_list", "transport_list", "authenticator_list") == expected
