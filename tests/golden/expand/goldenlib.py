"""Shared machinery of the golden expansion corpus: parsing .be files, running `-be`, splitting
and encoding results, comparing against .out files.  Used by the recorder
(scripts/record-golden-expand.py), the pytest runner (tests/scenario/test_golden_expand.py), the
ratchet tool (scripts/golden-ratchet.py) and the benchmark (bench/expand/run.py).

Corpus format (see docs/testing.md for the full story):
  * A `.be` file holds one test case per logical line, in Exim's -be stdin syntax: a physical line
    ending in a backslash (trailing white space allowed) continues on the next line.
  * Lines starting with `#` in column 1 and blank lines are corpus comments: they are NOT sent to
    the binary (in -be they would just echo themselves, which tests nothing).
  * `@DATA@` and `@TMP@` in .be and .conf files are replaced by the absolute paths of the per-run
    data directory and its parent, so the corpus does not depend on where the checkout lives.
    In results the same paths are turned back into the placeholders.
  * `X.be` runs with `X.conf` when it exists, else with `default.conf`.  When `X.msg` exists, the
    cases run in -bem mode with that message (headers and body are then tainted data).
  * `X.out` holds one line per case: `> ` and the result, escaped (backslash, \\n, \\r, \\t,
    other control characters and invalid UTF-8 bytes as \\xHH), or `~ ` and a Python regular
    expression the raw result must fully match (only for time-, pid- or build-dependent values;
    the table VOLATILE below is the complete normaliser).
"""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import builddata  # noqa: E402  (lives next to this file)

# Every case is followed on stdin by this line plus its index.  It is plain text, so it expands to
# itself; it has no upper-case letters, so no macro can rewrite it.  Splitting the output on these
# echoes is robust even for results that span several lines or contain "> ".
SEPARATOR = "postern-golden-sep-9c41e-"

# Appended to a result that was not followed by a newline (Exim never prints NUL, so this cannot
# clash with real output; in .out files it shows as \x00 at the end of the line).
NO_NEWLINE = "\x00"

# The normaliser: cases whose text is exactly one of these keys are recorded as a regular
# expression instead of a literal, because the value depends on the clock, the process, the build
# or the installation.  The recorder checks that Exim's output matches before writing the regex.
_DAY = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_MON = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
VOLATILE = {
    "$tod_bsdinbox": _DAY + r" " + _MON + r" [ 0-9]\d \d\d:\d\d:\d\d \d{4}",
    "$tod_epoch": r"\d{10}",
    "$tod_epoch_l": r"\d{16}",
    "$tod_full": _DAY + r", [ 0-9]?\d " + _MON + r" \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
    "$tod_log": r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
    "$tod_logfile": r"\d{8}",
    "$tod_zone": r"[+-]\d{4}",
    "$tod_zulu": r"\d{14}Z",
    "$pid": r"[1-9]\d*",
    "$compile_date": r".+",
    "$compile_number": r"\d+",
    "$exim_path": r"/.+",
    "$exim_uid": r"\d+",
    "$exim_gid": r"\d+",
    "$caller_uid": r"\d+",
    "$caller_gid": r"\d+",
    "$originator_uid": r"\d+",
    "$originator_gid": r"\d+",
    "${randint:10}": r"\d",
    "${randint:1000000}": r"\d{1,6}",
    "${eval:$tod_epoch - $tod_epoch}": r"0",
    "${strlen:$tod_epoch}": r"10",
    # Values derived from the login name of the user running the test.
    "[$authenticated_id]": r"\[[^@\s]+\]",
    "[$sender_ident]": r"\[[^@\s]+\]",
    "[$sender_address_local_part]": r"\[[^@\s]+\]",
    "[$authenticated_sender]": r"\[[^@\s]+@example\.org\]",
    "[$sender_address]": r"\[[^@\s]+@example\.org\]",
    # Host state.
    "[$load_average]": r"\[-?\d+\]",
    "[$log_inodes]": r"\[-?\d+\]",
    "[$log_space]": r"\[-?\d+\]",
    "[$spool_inodes]": r"\[-?\d+\]",
    "[$spool_space]": r"\[-?\d+\]",
    # Tainted file names in -bem: the error shows the ids Exim runs as.
    "${readfile{@DATA@/$h_x-file:}}":
        r"Failed: failed to open @DATA@/plain.txt: Permission denied \(euid=\d+ egid=\d+\)",
    "${readfile{@DATA@/$h_subject:}}":
        r"Failed: failed to open @DATA@/alpha: Permission denied \(euid=\d+ egid=\d+\)",
    # prvs and SRS embed the current day in the result (and in the hash).
    "${prvs{user@example.com}{secret}}": r"prvs=0\d{3}[0-9a-f]{6}=user@example.com",
    "${prvs{user@example.com}{secret}{3}}": r"prvs=3\d{3}[0-9a-f]{6}=user@example.com",
    "${srs_encode{secret}{user@example.com}{forwarder.example}}":
        r"SRS0=[0-9a-f]{4}=[0-9a-z]{2}=example.com=user@forwarder.example",
    "${srs_encode{secret}{notanaddress}{forwarder.example}}":
        r"SRS0=[0-9a-f]{4}=[0-9a-z]{2}==notanaddress@forwarder.example",
}


# Corpus files whose recorded answers do not show the documented behaviour because the reference
# binary lacks the feature.  They are run and reported, but kept out of the pass rate and ratchet.
REFERENCE_GAPS = {
    "lookups-json.be": "Debian's exim 4.96 is built without LOOKUP_JSON",
}


class Case:
    """One logical -be line: where it starts, its physical lines, and its text as fed."""

    def __init__(self, path, lineno, lines):
        self.path = path
        self.lineno = lineno
        self.lines = lines

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def where(self):
        return f"{self.path.name}:{self.lineno}"


def _continues(line):
    return line.rstrip().endswith("\\")


def parse_cases(path):
    """Split a .be file into cases.  Raises ValueError on a continuation at end of file, since the
    separator line would be swallowed into it."""
    path = pathlib.Path(path)
    raw = path.read_text(encoding="utf-8", errors="surrogateescape").split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    cases, i = [], 0
    while i < len(raw):
        line = raw[i]
        if line.startswith("#") or line.strip() == "":
            i += 1
            continue
        start, lines = i + 1, [line]
        while _continues(lines[-1]):
            i += 1
            if i >= len(raw):
                raise ValueError(f"{path.name}:{start}: continuation at end of file")
            lines.append(raw[i])
        cases.append(Case(path, start, lines))
        i += 1
    return cases


def config_for(be_path):
    be_path = pathlib.Path(be_path)
    own = be_path.with_suffix(".conf")
    return own if own.exists() else HERE / "default.conf"


def build_stdin(cases, subst):
    parts = []
    for n, case in enumerate(cases):
        parts.append(subst(case.text))
        parts.append(f"{SEPARATOR}{n}")
    return ("\n".join(parts) + "\n").encode("utf-8", errors="surrogateescape")


def split_output(stdout, count):
    """Cut `-be` stdout (text) into `count` results.  Each case normally prints "> ", its result
    and a newline.  A case that prints no result line at all (a failed macro definition in the
    input: the error goes to stderr) leaves just the prompt; such results end in NO_NEWLINE.
    Missing results (the binary stopped early) come back as None."""
    results, pos = [], 0
    for n in range(count):
        idx = stdout.find(f"> {SEPARATOR}{n}\n", pos)
        if idx < 0:
            results.extend([None] * (count - n))
            break
        chunk = stdout[pos:idx]
        if chunk.endswith("\n"):
            chunk = chunk[:-1]
        else:
            chunk += NO_NEWLINE
        results.append(chunk[2:] if chunk.startswith("> ") else "<<no prompt>>" + chunk)
        pos = idx + len(SEPARATOR) + len(str(n)) + 3
    return results


def escape(result):
    out = []
    for ch in result:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif 0xDC80 <= o <= 0xDCFF:          # undecodable byte kept by surrogateescape
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        else:
            out.append(ch)
    return "".join(out)


def unescape(text):
    out, i = [], 0
    simple = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if nxt == "x" and i + 3 < len(text):
                val = int(text[i + 2:i + 4], 16)
                out.append(chr(0xDC00 + val) if val >= 0x80 else chr(val))
                i += 4
                continue
        out.append(ch)
        i += 1
    return "".join(out)


class Expected:
    """One line of a .out file: a literal result or a regex."""

    def __init__(self, line):
        if line.startswith("~ "):
            self.regex = re.compile(line[2:], re.S)
            self.literal = None
        elif line.startswith("> "):
            self.regex = None
            self.literal = unescape(line[2:])
        else:
            raise ValueError(f"bad expected line: {line!r}")
        self.line = line

    def matches(self, result):
        if result is None:
            return False
        if self.regex is not None:
            return self.regex.fullmatch(result) is not None
        return result == self.literal


def read_expected(out_path):
    text = pathlib.Path(out_path).read_text(encoding="utf-8", errors="surrogateescape")
    return [Expected(line) for line in text.split("\n") if line != ""]


def encode_result(case, result):
    """The .out line for a freshly recorded result (applies the VOLATILE normaliser)."""
    key = case.text.strip()
    if key in VOLATILE:
        rx = VOLATILE[key]
        if re.fullmatch(rx, result, re.S) is None:
            raise ValueError(f"{case.where}: volatile value {result!r} does not match {rx!r}")
        return "~ " + rx
    return "> " + escape(result)


# ---------------------------------------------------------------------------------------------
# The per-run directory: generated configs and data files (including the binary databases, which
# are built here from their text sources every time and never committed).

class Workdir:
    """A temporary directory holding `data/` (copied + generated) and the instantiated configs.
    Readable by everyone, because Exim drops to its own user when given -C."""

    def __init__(self):
        self.root = pathlib.Path(tempfile.mkdtemp(prefix="postern-golden-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        shutil.copytree(HERE / "data", self.data)
        (self.root / "spool").mkdir()
        self.unavailable = builddata.build_binary_data(self.data)
        for p in [self.root, *self.root.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(self.root / "spool", 0o777)

    def subst(self, text):
        return text.replace("@DATA@", str(self.data)).replace("@TMP@", str(self.root))

    def unsubst(self, text):
        return text.replace(str(self.data), "@DATA@").replace(str(self.root), "@TMP@")

    def instantiate(self, src):
        """Copy a .conf or .msg file into the work directory with placeholders replaced."""
        dst = self.root / src.name
        if not dst.exists():
            dst.write_text(self.subst(src.read_text()))
            os.chmod(dst, 0o644)
        return dst

    def config(self, be_path):
        return self.instantiate(config_for(be_path))

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def run_be(binary, workdir, be_path, cases, timeout=120):
    """Run `binary -C conf -be` on the cases; returns (results, stderr, returncode, stdout), where
    the return code is "timeout" if the binary hung (results then hold what it printed before)."""
    conf = workdir.config(be_path)
    stdin = build_stdin(cases, workdir.subst)
    mode = ["-be"]
    msg = pathlib.Path(be_path).with_suffix(".msg")
    if msg.exists():                  # X.msg next to X.be: run in -bem mode with that message
        mode = ["-bem", str(workdir.instantiate(msg))]
    try:
        proc = subprocess.run([binary, "-C", str(conf)] + mode, input=stdin, capture_output=True,
                              timeout=timeout, cwd=workdir.root)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:          # keep what was printed before the hang
        out, err, rc = exc.stdout or b"", exc.stderr or b"", "timeout"
    stdout = out.decode("utf-8", errors="surrogateescape")
    results = split_output(stdout, len(cases))
    results = [None if r is None else workdir.unsubst(r) for r in results]
    return results, err.decode("utf-8", errors="replace"), rc, stdout


def corpus_files(only=None):
    files = sorted(HERE.glob("*.be"))
    if only:
        files = [f for f in files if f.stem in only or f.name in only]
    return files


def case_id(case, occurrence=1):
    """Stable name of a case for the ratchet file: file and a short hash of its text (plus the
    occurrence number when the same text appears again in the file), so that editing a case or
    inserting another before it does not silently carry over an old status."""
    digest = hashlib.sha1(case.text.encode("utf-8", errors="surrogateescape")).hexdigest()[:10]
    suffix = f".{occurrence}" if occurrence > 1 else ""
    return f"{case.path.name}#{digest}{suffix}"


# ---------------------------------------------------------------------------------------------
# Running the whole corpus against a binary and comparing with the recorded answers.

_DBM_RE = re.compile(r"\bdbm(nz|jz)?\b")


class CaseResult:
    def __init__(self, case, cid, expected, got, status):
        self.case, self.id, self.expected, self.got, self.status = case, cid, expected, got, status

    def describe(self):
        want = self.expected.line if self.expected else "<no recording>"
        got = "<no result: binary stopped or timed out>" if self.got is None else \
            "> " + escape(self.got)
        return f"{self.case.where}: {self.case.text}\n    expected {want}\n    got      {got}"


class CorpusRun:
    """Per-case outcomes.  status: pass, fail, gap (file listed in REFERENCE_GAPS) or
    unavailable (needs a database that could not be built here)."""

    def __init__(self):
        self.results = []
        self.problems = []          # per-file problems: crashes, timeouts, missing .out

    def counted(self):
        return [r for r in self.results if r.status in ("pass", "fail")]

    def passing_ids(self):
        return {r.id for r in self.results if r.status == "pass"}

    def per_file(self):
        """{file name: (passed, counted)} in corpus order."""
        table = {}
        for r in self.results:
            passed, total = table.get(r.case.path.name, (0, 0))
            if r.status in ("pass", "fail"):
                table[r.case.path.name] = (passed + (r.status == "pass"), total + 1)
            else:
                table.setdefault(r.case.path.name, (passed, total))
        return table

    def summary(self):
        counted = self.counted()
        passed = sum(1 for r in counted if r.status == "pass")
        rate = 100.0 * passed / len(counted) if counted else 0.0
        return passed, len(counted), rate


MAX_RESTARTS = 20


def _run_with_restarts(binary, workdir, be, cases, timeout, problems):
    """Run a file's cases; when the binary stops early (crash, fatal exit, hang), the case it
    stopped at fails and the run resumes after it, so one bad case does not hide the rest.
    Cases after a restart lose state set earlier in the file (macro definitions)."""
    results, start, restarts = [], 0, 0
    while start < len(cases):
        part, stderr, rc, stdout = run_be(binary, workdir, be, cases[start:], timeout=timeout)
        done = next((i for i, r in enumerate(part) if r is None), len(part))
        results.extend(part[:done])
        if done == len(part):
            break
        if start == 0 and done == 0:
            hint = ("" if not stdout else " - stdout does not follow the \"> result\" format, "
                    f"it starts {stdout[:80]!r}")
            problems.append(f"{be.name}: no results at all (exit status {rc}; stderr: "
                            f"{stderr.strip()[:300]!r}){hint}")
            break
        culprit = cases[start + done]
        what = "timed out" if rc == "timeout" else (
            f"died with signal {-rc}" if isinstance(rc, int) and rc < 0 else f"exited ({rc})")
        problems.append(f"{culprit.where}: binary {what} at this case; "
                        f"stderr: {stderr.strip()[-200:]!r}")
        results.append(None)
        start += done + 1
        restarts += 1
        if restarts >= MAX_RESTARTS:
            problems.append(f"{be.name}: giving up after {MAX_RESTARTS} restarts")
            break
    return results + [None] * (len(cases) - len(results))


def run_corpus(binary, only=None, timeout=60):
    run = CorpusRun()
    workdir = Workdir()
    try:
        for be in corpus_files(only):
            cases = parse_cases(be)
            out = be.with_suffix(".out")
            if not out.exists():
                run.problems.append(f"{be.name}: no recording ({out.name} missing)")
                continue
            expected = read_expected(out)
            if len(expected) != len(cases):
                run.problems.append(f"{be.name}: {len(cases)} cases but {len(expected)} recorded "
                                    "answers; re-record with scripts/record-golden-expand.py")
                continue
            results = _run_with_restarts(binary, workdir, be, cases, timeout, run.problems)
            seen = {}
            for case, exp, got in zip(cases, expected, results):
                seen[case.text] = seen.get(case.text, 0) + 1
                cid = case_id(case, seen[case.text])
                if be.name in REFERENCE_GAPS:
                    status = "gap"
                elif "dbm" in workdir.unavailable and _DBM_RE.search(case.text):
                    status = "unavailable"
                else:
                    status = "pass" if exp.matches(got) else "fail"
                run.results.append(CaseResult(case, cid, exp, got, status))
    finally:
        workdir.cleanup()
    return run


# ---------------------------------------------------------------------------------------------
# The ratchet file: known_passing.txt lists the ids of cases that passed when it was generated,
# and the minimum pass rate.  scripts/golden-ratchet.py writes it; the pytest runner enforces it.

RATCHET = HERE / "known_passing.txt"


def read_ratchet(path=RATCHET):
    min_rate, ids = 0.0, set()
    if not pathlib.Path(path).exists():
        return min_rate, ids
    for line in pathlib.Path(path).read_text(encoding="utf-8").split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("min_pass_rate"):
            min_rate = float(line.split("=", 1)[1])
        else:
            ids.add(line)
    return min_rate, ids


def write_ratchet(run, path=RATCHET, margin=0.0):
    passed, total, rate = run.summary()
    min_rate = max(0.0, int((rate - margin) * 10) / 10.0)
    lines = [
        "# Golden expansion ratchet, written by scripts/golden-ratchet.py from a run of postern -be.",
        "# Every case id below passed then and must keep passing; the pass rate must stay at or",
        "# above min_pass_rate.  Ids are <file>#<sha1 of the case text>; see docs/testing.md.",
        f"# At generation: {passed}/{total} cases equal ({rate:.1f}%).",
        f"min_pass_rate = {min_rate:.1f}",
    ]
    lines += sorted(run.passing_ids())
    pathlib.Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return min_rate
