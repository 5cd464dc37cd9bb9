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
