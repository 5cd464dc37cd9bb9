"""-be / -bem end to end: argument and stdin modes, Exim's output format (expected outputs were
recorded from Exim 4.96 -be)."""
import os
import re
import subprocess
import tempfile

import pytest

CONF = "primary_hostname = test.example\n"


def test_arguments_one_line_each_and_exit_zero(run_postern):
    r = run_postern("-be", "${if eq{a}{a}{yes}{no}}", "$foo", "${lc:ABC}", config=CONF)
    assert r.returncode == 0
    assert r.stdout == 'yes\nFailed: unknown variable name "foo"\nabc\n'


def test_stdin_prompts_and_final_prompt(run_postern):
    r = run_postern("-be", input="abc\n${lc:X}\n$bar\n", config=CONF)
    assert r.returncode == 0
    assert r.stdout == '> abc\n> x\n> Failed: unknown variable name "bar"\n> \n'


def test_stdin_continuation_comments_blank_lines(run_postern):
    # Comments are not special on stdin; a trailing backslash joins the next line, whose
    # leading white space is dropped; blank lines give empty results.
    r = run_postern("-be", input="# comment\n  a \\\n   b\n\n${lc:X}\n  # c2\nlast", config=CONF)
    assert r.stdout == "> # comment\n>   a b\n> \n> x\n>   # c2\n> last\n> \n"


def test_stdin_backslash_at_end_of_input(run_postern):
    r = run_postern("-be", input="a\\", config=CONF)
    assert r.stdout == "> a\n> \n"


def test_multiline_result_and_error_with_newline(run_postern):
    r = run_postern("-be", "${if eq{a}{a}{y}{n}x}", "a\\nb", config=CONF)
    assert r.stdout == ("Failed: curly-bracket problem in conditional yes/no parsing: did not close with '}'\n"
                        " remaining string is 'x}'\na\nb\n")


def test_nul_in_result_ends_the_line(run_postern):
    r = run_postern("-be", "a\\x00b", config=CONF)
    assert r.stdout == "a\n"


def test_environment_is_emptied(run_postern):
    r = run_postern("-be", "${env{PATH}{y}{n}}", config=CONF)
    assert r.stdout == "n\n"


def test_deep_nesting_on_stdin_is_an_error_not_a_crash(run_postern):
    n = 100000
    line = "${if eq{a}{a}{" * n + "x" + "}}" * n
    r = run_postern("-be", input=line + "\n", config=CONF)
    assert r.returncode == 0
    assert r.stdout.startswith("> Failed: expansion is too deeply nested")


def test_bem_headers_and_body(run_postern, tmp_path):
    msg = tmp_path / "msg"
    msg.write_text("Subject:   Hello  World  \nX-Multi: line1\n  line2\nX-Multi: second\n\nbody line\n\nthird\n")
    r = run_postern("-bem", str(msg), "[$h_subject:]", "[$rh_subject:]", "[$h_x-multi:]",
                    "[$lh_x-multi:]", "[$message_body]", "$body_linecount",
                    "${if def:h_nope:{y}{n}}", "${expand:$h_subject:}", config=CONF)
    assert r.returncode == 0
    assert r.stdout.split("\n")[:-1] == [
        "[Hello  World]",
        "[   Hello  World  ",
        "]",
        "[line1",
        "  line2",
        "second]",
        "[ line1",
        "  line2: second]",
        "[body line  third ]",
        "2",
        "n",
        "Failed: internal expansion of \"Hello  World\" failed: attempt to expand tainted string 'Hello  World'",
    ]


def test_bem_missing_file(run_postern, tmp_path):
    r = run_postern("-bem", str(tmp_path / "nope"), "x", config=CONF)
    assert r.returncode != 0
    assert "failed to open" in r.stderr


def test_bem_message_id_and_added_headers(run_postern, tmp_path):
    msg = tmp_path / "msg"
    msg.write_text("Subject: s\n\nbody\n")
    r = run_postern("-bem", str(msg), "$message_id", "$h_message-id:", "${if def:h_date:{y}{n}}",
                    "$received_count", "[$message_headers_raw]", config=CONF)
    lines = r.stdout.split("\n")
    mid = lines[0]
    assert re.fullmatch(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", mid)
    assert lines[1] == f"<E{mid}@" + lines[1].split("@", 1)[1] and lines[1].endswith(">")
    assert lines[2:5] == ["y", "1", "[Subject: s"]


MACRO_CONF = "MAC = hello\nprimary_hostname = test.example\n"


def test_macros_in_input_lines(run_postern):
    # Recorded from Exim 4.96: definitions print "Defined macro" (naming the most recently
    # added macro), errors print nothing on stdout, uses are substituted then expanded.
    lines = ["MAC", "MAC x", "MACx", "MAC=y", "MAC == z", "MAC", "XYZ", "XYZ abc", "X = 1", "X",
             "A-B", "Q x = 1", "ABC = 1 ${lc:X}", "ABC", "MY_VAR", "NEWMAC = q", "NEWMAC", "lower MAC"]
    r = run_postern("-be", input="\n".join(lines) + "\n", config=MACRO_CONF)
    assert r.returncode == 0
    assert r.stdout == ("> hello\n> hello x\n> hellox\n> > Defined macro 'MAC'\n> z\n> > > "
                        "Defined macro 'X'\n> 1\n> > > Defined macro 'ABC'\n> 1 1\n> > > > "
                        "lower z\n> \n")
    assert "malformed macro definition" in r.stderr
    assert 'macro "MAC" is already defined' in r.stderr


def test_malformed_macro_names_the_config_line(run_postern):
    # Exim 4.96 reports it against the configuration's last line, with a log timestamp.
    r = run_postern("-be", "XYZ", config=MACRO_CONF)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Exim configuration error in line 2 of "
                        r"\S+/test\.conf:\n  malformed macro definition\n", r.stderr)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")
def test_macros_hidden_from_non_admin_callers(postern_bin):
    # Recorded from Exim 4.96 run as nobody: no builtin, -D or configuration macro is visible
    # to -be (a hidden value could be read back), but -be definitions work.
    with tempfile.TemporaryDirectory() as d:  # pytest's tmp_path is not readable by nobody
        os.chmod(d, 0o755)
        conf = os.path.join(d, "test.conf")
        with open(conf, "w") as f:
            f.write(MACRO_CONF)
        os.chmod(conf, 0o644)
        r = subprocess.run(["runuser", "-u", "nobody", "--", postern_bin, "-C", conf, "-DDEE=5", "-be"],
                           input="_HAVE_TLS x\nDEE\nZZ = 3\nZZ\nMACX = 1\n", capture_output=True,
                           text=True, timeout=30, cwd="/")
    assert r.stdout == "> _HAVE_TLS x\n> > Defined macro 'ZZ'\n> 3\n> Defined macro 'MACX'\n> \n"
    assert "malformed macro definition" in r.stderr


def test_macros_in_arguments(run_postern):
    r = run_postern("-be", "Hello", "MACRO", "X = 1", config=MACRO_CONF)
    assert r.stdout == "helloRO\nDefined macro 'X'\n"


def test_debug_expand_traces_on_stderr(run_postern):
    r = run_postern("-d+expand", "-be", "${if eq{a}{a}{${lc:X}}}", config=CONF)
    assert r.stdout == "x\n"
    assert "considering: ${if eq{a}{a}{${lc:X}}}" in r.stderr
    assert "condition eq => true" in r.stderr
    assert 'op ${lc:} "X" => "x"' in r.stderr
    plain = run_postern("-be", "${if eq{a}{a}{${lc:X}}}", config=CONF)
    assert "considering" not in plain.stderr


def test_stdin_trailing_white_space_and_backslash(run_postern):
    # Exim strips trailing white space of each line, then a final backslash continues it.
    r = run_postern("-be", input="a  \n  b \\ \t\nc\nx\\\\\ny\n", config=CONF)
    assert r.stdout == "> a\n>   b c\n> xy\n> \n"


def test_bem_reception_variables(run_postern, tmp_path):
    msg = tmp_path / "msg"
    msg.write_text("From: a@b\nReply-To:   \nSubject: a fairly long subject line\n\nx\n")
    r = run_postern("-bem", str(msg), "$max_received_linelength", "[$reply_address]",
                    "${if >{$received_time}{0}{y}{n}}", config=CONF)
    assert r.stdout == "35\n[a@b]\ny\n"
