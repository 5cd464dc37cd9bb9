#!/usr/bin/env python3
"""Differential check of a fuzz corpus against Debian's Exim 4.96: expand every suitable input
with `postern -be` and `exim -be` (same configuration) and list the ones whose results differ.

  python3 tests/fuzz/diff_exim.py POSTERN_BINARY [CORPUS_DIR...] [--show N]

Default corpus: tests/fuzz/corpus-fuzz_expand and tests/fuzz/seeds/fuzz_expand. Only one-line
printable inputs are used, and none that could reach outside the process or that read clocks,
randomness or the process id (run, readfile, readsocket, lookup, perl, dlfunc, acl, stat,
exists, file names, tod, randint ...): Exim runs as user nobody and has no expand_forbid
switch on the command line, so such inputs are filtered out here rather than refused there.
Both programs run as nobody when started by root.
The configuration is tests/golden/expand/default.conf with its @DATA@/@TMP@ in a scratch dir.
Exit status: 0 when nothing differs, 1 otherwise.
"""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
UNSAFE = re.compile(r"run|readfile|readsocket|lookup|perl|dlfunc|acl|stat|exists|expand|tod|"
                    r"randint|pid|time|load|inode|space|certextract|prvs|imapfolder|srs|/|"
                    r"env|dns|queue|spool|log|config|exim_|home|bmi|malware|spam|dkim|dmarc|arc|"
                    # Build differences (Debian's exim has no redis, postern has no ldap/mysql...):
                    r"ldap|mysql|redis|oracle|ibase|nis|whoson|pam|radius|saslauthd|compile_",
                    re.I)


def inputs(dirs):
    seen = set()
    for d in dirs:
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            with open(os.path.join(d, fn), "rb") as f:
                raw = f.read()
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                continue
            if (not text or len(text) > 300 or any(c < " " or c == "\x7f" for c in text)
                    or text.endswith("\\") or text.startswith(" ") or UNSAFE.search(text)
                    or text in seen or text.startswith("-")):
                continue
            seen.add(text)
            yield text


def run_be(argv, cases, cwd):
    """One process per case: Exim keeps some state ($value, $prvscheck_*) from one -be line to
    the next, and some inputs crash it (tests/golden/expand/robustness), so lines would not be
    independent in one process."""
    res = {}
    for i, c in enumerate(cases):
        try:
            p = subprocess.run(argv + [c], cwd=cwd, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, timeout=20)
        except subprocess.TimeoutExpired:
            res[i] = "<timeout>"
            continue
        out = p.stdout.decode("latin-1")
        res[i] = out[:-1] if out.endswith("\n") else out
        if p.returncode < 0:
            res[i] += "<signal %d>" % -p.returncode
    return res


def main():
    args = sys.argv[1:]
    show = 20
    if "--show" in args:
        k = args.index("--show")
        show = int(args[k + 1])
        del args[k:k + 2]
    if not args:
        print(__doc__)
        return 2
    postern = os.path.abspath(args[0])
    dirs = args[1:] or [os.path.join(HERE, "corpus-fuzz_expand"), os.path.join(HERE, "seeds", "fuzz_expand")]
    cases = list(inputs(dirs))
    with tempfile.TemporaryDirectory(prefix="postern-diff-") as tmp:
        os.chmod(tmp, 0o755)
        with open(os.path.join(ROOT, "tests", "golden", "expand", "default.conf")) as f:
            conf = f.read().replace("@DATA@", tmp).replace("@TMP@", tmp)
        cpath = os.path.join(tmp, "conf")
        with open(cpath, "w") as f:
            f.write(conf)
        open(os.path.join(tmp, "domains.txt"), "w").close()
        os.chmod(cpath, 0o644)
        # Both run as the same unprivileged user, so $caller_uid and friends agree.
        as_nobody = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        want = run_be(as_nobody + ["exim", "-C", cpath, "-be"], cases, tmp)
        got = run_be(as_nobody + [postern, "-C", cpath, "-be"], cases, tmp)
    # Inputs that crash Exim have no answer to compare with.
    diffs = [i for i in range(len(cases)) if "<signal" not in want[i] and want[i] != got[i]]
    for i in diffs[:show]:
        print("input:  %s\n  exim:    %r\n  postern: %r" % (cases[i], want[i], got.get(i)))
    print("diff_exim: %d inputs, %d compared, %d differ" % (len(cases), len(want), len(diffs)))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
