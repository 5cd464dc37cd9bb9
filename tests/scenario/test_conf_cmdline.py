"""postern -bP items and configuration errors, end to end.

Expected outputs, streams and exit statuses are those of Debian's Exim 4.96 for the same
configuration and arguments (captured with `exim -C FILE -bP ...`).
"""
import pytest

CONFIG = """AB = x
CD = y
domainlist local_domains = a : b
hide hostlist hh = 1.2.3.4
primary_hostname = AB
begin routers
r1:
 driver = accept
 transport = t
begin transports
t:
 driver = appendfile
 file = /x
"""

CASES = [
    (["xyz", "primary_hostname"], "xyz is not a known option\nprimary_hostname = x\n", 0),
    (["primary_hostname", "xyz"], "primary_hostname = x\nxyz is not a known option\n", 1),
    (["-n", "primary_hostname", "queue_only"], "x\nno_queue_only\n", 0),
    (["macro", "AB"], "AB=x\n", 0),
    (["-n", "macro", "CD"], "y\n", 0),
    (["macro", "ZZ"], "macro ZZ not found\n", 1),
    (["macro", "ZZ", "primary_hostname"], "macro ZZ not found\nprimary_hostname = x\n", 0),
    (["+local_domains", "+hh", "+nope"],
     "domainlist local_domains = a : b\nhostlist hh = <value not displayable>\n"
     "no address, domain, host, or local part list called \"nope\" exists\n", 1),
    (["-n", "+local_domains"], "a : b\n", 0),
    (["router", "nosuch"], "router nosuch not found\n", 1),
    (["router_list", "transport_list", "authenticator_list"], "r1\nt\n", 0),
    (["-DAB=z", "primary_hostname"], "primary_hostname = z\n", 0),
    (["-DAB", "primary_hostname"], "primary_hostname = \n", 0),
    (["domainlist", "local_domains"],
     "domainlist is not a known option\nlocal_domains is not a known option\n", 1),
    (["auto_thaw", "daemon_smtp_port", "return_size_limit"],
     "auto_thaw = 0s\ndaemon_smtp_port = smtp\nreturn_size_limit = 100K\n", 0),
]


@pytest.mark.parametrize("args,stdout,status", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bP_items(run_postern, args, stdout, status):
    opts = [a for a in args if a.startswith("-")]
    names = [a for a in args if not a.startswith("-")]
    r = run_postern(*opts, "-bP", *names, config=CONFIG)
    assert r.stdout == stdout
    assert r.returncode == status
    assert r.stderr == ""


def test_bP_all_lists_main_options_only(run_postern):
    r = run_postern("-bP", config=CONFIG)
    lines = r.stdout.splitlines()
    assert r.returncode == 0
    assert lines[0] == "accept_8bitmime"
    assert "primary_hostname = x" in lines
    assert not any(l.startswith(("daemon_smtp_port ", "return_size_limit")) for l in lines)
    assert len(lines) > 280


def test_bP_config_stops_after_config(run_postern):
    r = run_postern("-bP", "config", "primary_hostname", config="primary_hostname = a  b\n")
    assert r.stdout.endswith("# 1 \"" + r.stdout.split('"')[1] + "\"\nprimary_hostname = a b\n")
    assert "primary_hostname = a  b" not in r.stdout


def test_bP_macros_lists_builtins_then_user(run_postern):
    r = run_postern("-bP", "macros", config=CONFIG)
    lines = r.stdout.splitlines()
    assert lines[-2:] == ["AB=x", "CD=y"]
    assert "_HAVE_TLS=y" in lines and "_OPT_MAIN_TLS_OCSP_FILE=y" in lines
    assert "_OPT_TRANSPORT_SMTP_HOSTS_REQUIRE_OCSP=y" in lines
    assert "_OPT_ROUTER_REDIRECT_ALLOW_FAIL=y" in lines
    assert any(l.startswith("_RESUME_DECODE=not requested or offered : 0x02 :") for l in lines)


def test_bP_macros_order_is_exims(run_postern):
    """Exim 4.96 prints builtins newest first (recorded from `exim -bP macros`): TLS library
    features, _RESUME_DECODE, log selectors, then each driver class (drivers in reverse name
    order, a driver's options before its _DRIVER_ macro), main options, ACL names, features."""
    r = run_postern("-bP", "macros", config=CONFIG)
    names = [l.split("=", 1)[0] for l in r.stdout.splitlines()]
    def pos(n):
        return names.index(n)
    assert names[:2] == ["_HAVE_TLS_ALPN", "_HAVE_TLS_OCSP_LIST"]
    assert pos("_HAVE_TLS1_3") < pos("_RESUME_DECODE") < pos("_LOG_UNKNOWN_IN_LIST")
    assert pos("_LOG_DELIVERY_SIZE") < pos("_LOG_DELIVER_TIME") < pos("_LOG_8BITMIME")
    assert pos("_OPT_AUTHENTICATOR_PLAINTEXT_SERVER_PROMPTS") < pos("_DRIVER_AUTHENTICATOR_PLAINTEXT") \
        < pos("_OPT_AUTHENTICATOR_DOVECOT_SERVER_SOCKET") < pos("_DRIVER_AUTHENTICATOR_CRAM_MD5") \
        < pos("_OPT_AUTHENTICATORS_SERVER_SET_ID") < pos("_OPT_TRANSPORT_SMTP_UTF8_DOWNCONVERT")
    assert pos("_DRIVER_ROUTER_IPLOOKUP") + 1 == pos("_DRIVER_ROUTER_IPLITERAL")
    assert pos("_OPT_ROUTERS_VERIFY_SENDER") < pos("_OPT_MAIN_WRITE_REJECTLOG") \
        < pos("_OPT_MAIN_ACL_SMTP_DATA_PRDR") < pos("_OPT_MAIN_ACL_SMTP_DATA")
    assert pos("_ACL_COND_VERIFY") < pos("_ACL_MOD_UDPSEND") < pos("_ACL_COND_ACL") \
        < pos("_HAVE_TRANSPORT_APPEND_MBX") < pos("_HAVE_LOOKUP_PASSWD") < pos("_HAVE_LOOKUP_CDB") \
        < pos("_HAVE_LOOKUP_LSEARCH") < pos("_HAVE_TLS_RESUME") < pos("_HAVE_TLS") < pos("_HAVE_IPV6")
    assert names[-2:] == ["AB", "CD"]


ERRORS = [
    ("foo_bar = 1\n", ' in line 1 of {f}:\n  main option "foo_bar" unknown'),
    ("primary_hostname\n", " in line 1 of {f}:\n  unexpected end of line (data missing) after primary_hostname"),
    ("begin foo\n", ' in line 1 of {f}:\n  "foo" is not a known configuration section name'),
    ("AB = x\nAB = y\n", ':\n  macro "AB" is already defined (use "==" if you want to redefine it)'),
    (".ifdef X\n", " in line 1 of {f}:\n  Unexpected end of configuration file: .endif missing"),
    ("begin routers\nr1:\n  driver = nosuch\n", ' in line 3 of {f}:\n  router r1: cannot find router driver "nosuch"'),
    ("begin routers\nr1:\n  driver = accept\n  foo = 1\n", ' in line 4 of {f}:\n  option "foo" unknown'),
    ("begin transports\nt1:\n  driver = appendfile\n  no_file\n",
     " in line 4 of {f}:\n  negation prefix applied to a non-boolean option"),
]


@pytest.mark.parametrize("config,message", ERRORS, ids=[e[0].split("\n")[0] for e in ERRORS])
def test_configuration_errors(run_postern, tmp_path, config, message):
    r = run_postern("-bP", "primary_hostname", config=config)
    f = str(tmp_path / "test.conf")
    assert r.returncode == 1
    assert r.stdout == ""
    # Exim heads macro-definition errors "LOG: PANIC" rather than "LOG: PANIC DIE"
    head = "LOG: PANIC\n" if "macro" in message else "LOG: PANIC DIE\n"
    assert r.stderr == head + "  Exim configuration error" + message.format(f=f) + "\n"


def test_missing_configuration_file(postern_bin):
    import subprocess
    r = subprocess.run([postern_bin, "-C", "/nonexistent/postern.conf", "-bP"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1
    assert r.stderr == "LOG: MAIN PANIC DIE\n  non-existent configuration file(s): /nonexistent/postern.conf\n"


def test_be_and_bV_read_the_configuration(run_postern):
    for mode in (["-be", "x"], ["-bV"]):
        r = run_postern(*mode, config="foo_bar = 1\n")
        assert r.returncode == 1
        assert 'Exim configuration error in line 1 of ' in r.stderr
        assert 'main option "foo_bar" unknown' in r.stderr


def test_startup_check_heading(run_postern):
    r = run_postern("-bP", "smtp_ratelimit_mail", config="smtp_ratelimit_mail = 2,1h,1,1\n")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == "LOG: MAIN PANIC DIE\n  malformed ratelimit data: 2,1h,1,1\n"


DUP_AUTH = """begin authenticators
a:
  driver = plaintext
  public_name = PLAIN
  server_condition = yes
b:
  driver = plaintext
  public_name = plain
  server_condition = yes
"""


def test_duplicate_server_public_name_is_a_config_error(run_postern, tmp_path):
    # Exim 4.96 refuses the configuration in every mode, -bP included (captured from exim -bP).
    conf = tmp_path / "conf"
    conf.write_text(DUP_AUTH)
    r = run_postern("-C", str(conf), "-bP", "primary_hostname")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == ("LOG: PANIC DIE\n  Exim configuration error:\n  two server authenticators "
                        "(a and b) have the same public name (PLAIN)\n")


def test_acl_syntax_error_is_a_config_error_in_every_mode(run_postern, tmp_path):
    # Exim 4.96 checks ACL syntax while reading the configuration: -bP and -be both refuse it.
    conf = tmp_path / "conf"
    conf.write_text("acl_smtp_rcpt = r\nbegin acl\nr:\n  acept hosts = *\n")
    msg = (f"Exim configuration error in line 4 of {conf}:\n"
           "  error in ACL: unknown ACL verb \"acept\" in \"acept hosts = *\"\n")
    r = run_postern("-C", str(conf), "-bP", "primary_hostname")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "LOG: PANIC DIE\n  " + msg)
    r = run_postern("-C", str(conf), "-be", "x")
    assert r.returncode == 1 and r.stderr.endswith(" " + msg)
