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
        results, stderr, rc = goldenlib.run_be(postern_bin, workdir, crashers, cases, timeout=60)
    finally:
        workdir.cleanup()
    assert rc >= 0, f"postern died with signal {-rc}; stderr: {stderr[-500:]}"
    missing = [c.where + ": " + c.text for c, r in zip(cases, results) if r is None]
    assert not missing, "no result for: " + "; ".join(missing)
