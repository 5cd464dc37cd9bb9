"""Command-line errors are reported with Exim's wording and a non-zero exit."""


def test_unknown_option(run_postern):
    r = run_postern("-bQ")
    assert r.returncode == 1
    assert "unknown, malformed, or incomplete option -bQ" in r.stderr


def test_define_must_start_upper_case(run_postern):
    r = run_postern("-Dfoo=bar", "-bV")
    assert r.returncode == 1
    assert "macro name set by -D must start with an upper case letter" in r.stderr


def test_define_name_characters(run_postern):
    r = run_postern("-DFO-O=bar", "-bV")
    assert r.returncode == 1
    assert "letters, digits, and underscores" in r.stderr


def test_bem_needs_file(run_postern):
    r = run_postern("-bem")
    assert r.returncode == 1


import pytest


@pytest.mark.parametrize("flag,message", [
    ("-dxyz", 'exim: malformed debug_selector setting: + or - expected but found "xyz"'),
    ("-d=zz", "exim: malformed numeric debug_selector setting: =zz"),
    ("-d+expand+bogus", "exim: unknown debug_selector setting: +bogus"),
])
def test_bad_debug_selector(run_postern, flag, message):
    """Recorded from exim -C conf <flag> -be x."""
    r = run_postern(flag, "-be", "x", config="primary_hostname = a.example\n")
    assert r.returncode == 1
    assert r.stderr.strip() == message


def test_debug_expand_traces(run_postern):
    r = run_postern("-d+expand", "-be", "${lc:ABC}", config="primary_hostname = a.example\n")
    assert r.returncode == 0
    assert r.stdout.strip() == "abc"
    assert "ABC" in r.stderr  # the trace shows the operator's input


def test_works_from_root_like_exim(postern_bin, tmp_path):
    """Recorded from Exim 4.96: $config_dir is absolute for a relative -C, $initial_cwd is where we
    started, and relative file names (lookups, -bem) fail because expansion runs from "/"."""
    import subprocess
    (tmp_path / "t.conf").write_text("primary_hostname = a.example\n")
    (tmp_path / "rel.txt").write_text("k: v\n")
    (tmp_path / "msg.txt").write_text("Subject: hi\n\nbody\n")
    run = lambda *a: subprocess.run([postern_bin, "-C", "t.conf", *a], cwd=tmp_path,
                                    capture_output=True, text=True, timeout=30)
    r = run("-be", "$config_dir|$initial_cwd")
    assert r.stdout.strip() == f"{tmp_path}/|{tmp_path}"
    r = run("-be", "${lookup{k}lsearch{rel.txt}}")
    assert r.stdout.strip() == "Failed: failed to open rel.txt for linear search: No such file or directory"
    r = run("-bem", "msg.txt", "$h_subject:")
    assert r.returncode == 1
    assert r.stderr.strip() == "exim: failed to open msg.txt: No such file or directory"
    r = run("-bem", str(tmp_path / "msg.txt"), "$h_subject:")
    assert r.stdout.strip() == "hi"


def test_builtin_configuration(run_postern):
    """-C @builtin selects the embedded default configuration (what `make run` uses)."""
    r = run_postern("-C", "@builtin", "-bP", "config_file", "daemon_smtp_ports", "local_interfaces")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["builtin", "daemon_smtp_ports = 2525", "local_interfaces = 127.0.0.1"]


def test_missing_configuration_file(run_postern, tmp_path):
    r = run_postern("-C", str(tmp_path / "nope.conf"), "-bP", "config_file")
    assert r.returncode == 1
    assert "non-existent configuration file(s): " + str(tmp_path / "nope.conf") in r.stderr


def test_exim_uid_follows_configuration(run_postern):
    """Recorded from Exim 4.96: $exim_uid/$exim_gid are the configured exim_user/exim_group."""
    import grp
    import pwd
    r = run_postern("-be", "$exim_uid $exim_gid",
                    config="exim_user = nobody\nexim_group = nogroup\n")
    assert r.stdout.strip() == f"{pwd.getpwnam('nobody').pw_uid} {grp.getgrnam('nogroup').gr_gid}"
