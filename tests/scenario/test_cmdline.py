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
