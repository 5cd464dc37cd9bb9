"""Golden expansion corpus: postern -be must answer like Exim 4.96 did when the corpus was
recorded (tests/golden/expand/*.out).  The ratchet file known_passing.txt lists cases that must
keep passing and the minimum pass rate.  See docs/testing.md."""
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "golden" / "expand"))
import goldenlib  # noqa: E402

SHOW_DIFFS = 25


def _placeholder(postern_bin):
    """True when `postern -be` is still the 'not built yet' placeholder."""
    proc = subprocess.run([postern_bin, "-be"], input=b"x\n", capture_output=True, timeout=30)
    text = (proc.stdout + proc.stderr).decode("utf-8", errors="replace")
    return "not built yet" in text


@pytest.fixture(scope="module")
def corpus_run(postern_bin):
    if _placeholder(postern_bin):
        pytest.skip("postern -be prints the placeholder 'not built yet'")
    return goldenlib.run_corpus(postern_bin)


def test_golden_expand(corpus_run):
    run = corpus_run
    passed, total, rate = run.summary()
    print(f"\ngolden expand: {passed}/{total} lines equal ({rate:.1f}%)")
    print("  " + ", ".join(f"{name} {p}/{t}" for name, (p, t) in run.per_file().items()))
    gaps = [r for r in run.results if r.status == "gap"]
    if gaps:
        equal = sum(1 for r in gaps if r.expected.matches(r.got))
        print(f"  not counted (reference lacks the feature): {len(gaps)} cases, {equal} equal")
    unavailable = [r for r in run.results if r.status == "unavailable"]
    if unavailable:
        print(f"  not counted (database could not be built here): {len(unavailable)} cases")
    for problem in run.problems:
        print("  problem: " + problem)
    failures = [r for r in run.results if r.status == "fail"]
    for r in failures[:SHOW_DIFFS]:
        print("  " + r.describe())
    if len(failures) > SHOW_DIFFS:
        print(f"  ... and {len(failures) - SHOW_DIFFS} more differing cases")

    assert total > 0, "golden expand: no cases were compared"
    assert passed > 0, (
        f"golden expand: 0/{total} cases equal - the expansion engine is missing or `postern -be` "
        "does not follow Exim's stdin format (\"> result\" per line); problems: "
        + "; ".join(run.problems[:5]))

    min_rate, known = goldenlib.read_ratchet()
    now_passing = run.passing_ids()
    all_ids = {r.id for r in run.results}
    regressions = sorted(known & all_ids - now_passing)
    stale = sorted(known - all_ids)
    if stale:
        print(f"  {len(stale)} ratchet ids no longer in the corpus (edited cases?): {stale[:5]}")
    by_id = {r.id: r for r in run.results}
    assert not regressions, (
        f"{len(regressions)} cases listed in known_passing.txt now fail:\n"
        + "\n".join(by_id[i].describe() for i in regressions[:SHOW_DIFFS]))
    assert rate >= min_rate, f"pass rate {rate:.1f}% fell below min_pass_rate {min_rate:.1f}%"


def test_survives_inputs_that_crash_exim(postern_bin, tmp_path):
    """Inputs that make Exim 4.96 itself crash or exit (so they cannot be recorded): postern must
    answer each with one result line and not die."""
    if _placeholder(postern_bin):
        pytest.skip("postern -be prints the placeholder 'not built yet'")
    crashers = goldenlib.HERE / "robustness" / "exim-crashers.be"
    cases = goldenlib.parse_cases(crashers)
    workdir = goldenlib.Workdir()
    try:
        results, stderr, rc, _ = goldenlib.run_be(postern_bin, workdir, crashers, cases, timeout=60)
    finally:
        workdir.cleanup()
    assert rc >= 0, f"postern died with signal {-rc}; stderr: {stderr[-500:]}"
    missing = [c.where + ": " + c.text for c, r in zip(cases, results) if r is None]
    assert not missing, "no result for: " + "; ".join(missing)


# ---------------------------------------------------------------------------------------------
# Self-tests of the harness (they do not need postern).

def test_split_output_multiline_missing_and_silent_cases():
    sep = goldenlib.SEPARATOR
    out = (f"> one\n> {sep}0\n"
           f"> two\nlines\n> {sep}1\n"     # a result spanning two lines
           f"> > {sep}2\n"                  # a case that printed nothing at all
           f"> \n> {sep}3\n"                # an empty result
           f"> x\n")                        # the binary stopped before separator 4
    got = goldenlib.split_output(out, 5)
    assert got == ["one", "two\nlines", goldenlib.NO_NEWLINE, "", None]


def test_split_output_result_that_looks_like_a_prompt():
    sep = goldenlib.SEPARATOR
    out = f"> a\n> b\n> {sep}0\n> \n"
    assert goldenlib.split_output(out, 1) == ["a\n> b"]


def test_escape_round_trip():
    for text in ["plain", "back\\slash", "nl\nx\r\t", "\x01\x7f", "caf\u00e9",
                 "bad\udcff byte", "\\n literal", goldenlib.NO_NEWLINE]:
        line = goldenlib.encode_result(goldenlib.Case(pathlib.Path("x.be"), 1, ["x"]), text)
        assert "\n" not in line
        assert goldenlib.Expected(line).matches(text), (text, line)


def test_volatile_cases_are_regexes():
    case = goldenlib.Case(pathlib.Path("x.be"), 1, ["$tod_log"])
    line = goldenlib.encode_result(case, "2026-01-02 03:04:05")
    assert line.startswith("~ ")
    assert not goldenlib.Expected(line).matches("2026-01-02 03:04")
    with pytest.raises(ValueError):
        goldenlib.encode_result(case, "not a time")


def test_parse_cases_continuations_and_comments(tmp_path):
    be = tmp_path / "t.be"
    be.write_text("# comment\n\none \\\n  two\nthree\\  \nfour\n  # indented is a case\n")
    cases = goldenlib.parse_cases(be)
    assert [(c.lineno, c.lines) for c in cases] == [
        (3, ["one \\", "  two"]), (5, ["three\\  ", "four"]), (7, ["  # indented is a case"])]
    be.write_text("a \\\n")
    with pytest.raises(ValueError):
        goldenlib.parse_cases(be)


def test_case_ids_distinguish_repeated_texts():
    case = goldenlib.Case(pathlib.Path("x.be"), 1, ["NEWMAC"])
    assert goldenlib.case_id(case) != goldenlib.case_id(case, 2)
    assert goldenlib.case_id(case).startswith("x.be#")


def test_runner_resumes_after_a_crashing_case(tmp_path):
    fake = tmp_path / "fake-postern"
    fake.write_text("#!/bin/sh\n"
                    "while IFS= read -r l; do\n"
                    "  case \"$l\" in boom) kill -SEGV $$;; esac\n"
                    "  printf '> %s\\n' \"$l\"\n"
                    "done\nprintf '> \\n'\n")
    fake.chmod(0o755)
    be = tmp_path / "t.be"
    be.write_text("a\nboom\nb\n")
    cases = goldenlib.parse_cases(be)
    workdir = goldenlib.Workdir()
    problems = []
    try:
        results = goldenlib._run_with_restarts(str(fake), workdir, be, cases, 30, problems)
    finally:
        workdir.cleanup()
    assert results == ["a", None, "b"]
    assert len(problems) == 1 and "t.be:2" in problems[0] and "signal 11" in problems[0]


def test_cdb_writer_matches_the_format(tmp_path):
    """Read our cdb file back with an independent lookup written from the format description."""
    import struct
    import builddata
    pairs = [(b"alpha", b"one"), (b"beta", b"two words"), (b"dup", b"1"), (b"dup", b"2")]
    path = tmp_path / "t.cdb"
    builddata.write_cdb(pairs, path)
    blob = path.read_bytes()

    def lookup(key):
        h = builddata._cdb_hash(key)
        tpos, slots = struct.unpack_from("<II", blob, (h & 255) * 8)
        for i in range(slots):
            sh, rpos = struct.unpack_from("<II", blob, tpos + ((h >> 8) + i) % slots * 8)
            if rpos == 0:
                return None
            klen, dlen = struct.unpack_from("<II", blob, rpos)
            if sh == h and blob[rpos + 8:rpos + 8 + klen] == key:
                return blob[rpos + 8 + klen:rpos + 8 + klen + dlen]
        return None

    assert lookup(b"alpha") == b"one"
    assert lookup(b"beta") == b"two words"
    assert lookup(b"dup") == b"1"
    assert lookup(b"gamma") is None


def test_corpus_is_recorded_and_consistent():
    for be in goldenlib.corpus_files():
        cases = goldenlib.parse_cases(be)
        expected = goldenlib.read_expected(be.with_suffix(".out"))
        assert len(cases) == len(expected), f"{be.name}: re-record with the recorder"
    total = sum(len(goldenlib.parse_cases(be)) for be in goldenlib.corpus_files())
    assert total >= 1200


SPEC = pathlib.Path("/usr/share/doc/exim4-doc-html/spec_html/ch-string_expansions.html")


@pytest.mark.skipif(not SPEC.exists(), reason="Exim's HTML spec is not installed")
def test_corpus_mentions_every_documented_item_operator_condition():
    import html
    import re
    text = re.sub(r"<[^>]+>", "", html.unescape(SPEC.read_text(errors="replace")))
    corpus = "\n".join(be.read_text() for be in goldenlib.corpus_files())
    placeholders = {"hash_n", "nhash_n", "substr_start", "length_number", "quote_lookup",
                    "hash__", "nhash__", "substr__"}
    names = set(re.findall(r"^\$\{([a-z_0-9]+)", text, re.M)) - placeholders
    missing = sorted(n for n in names if "${" + n not in corpus)
    assert not missing, f"documented items/operators without a golden case: {missing}"
