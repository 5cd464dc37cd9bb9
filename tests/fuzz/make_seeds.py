#!/usr/bin/env python3
"""Regenerate the seed corpora and dictionaries that come from project data (not hand-written).

  fuzz_expand: expansion strings from tests/golden/expand/*.be, chosen greedily so that every
               item, operator, condition and variable name used there appears in some seed,
               then topped up with a deterministic sample; dictionary of those names.
  fuzz_conf:   the real configurations (Debian's template, Exim's example, tests/golden configs),
               plus each of their sections on its own so short inputs reach every section.
  fuzz_match:  "kind subject NUL list" inputs from the list cases in lists.be.

Run from anywhere: python3 tests/fuzz/make_seeds.py. Seeds are text; each file is one input.
"""
import hashlib
import os
import random
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(ROOT, "tests", "golden")


def write_seeds(target, inputs):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    for data in inputs:
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(inputs)} seeds")


def be_lines():
    lines = []
    d = os.path.join(GOLDEN, "expand")
    for fn in sorted(os.listdir(d)):
        if not fn.endswith(".be"):
            continue
        with open(os.path.join(d, fn), "rb") as f:
            for raw in f.read().split(b"\n"):
                if not raw.strip() or raw.startswith(b"#"):
                    continue
                lines.append(raw)
    return list(dict.fromkeys(lines))


NAME_RE = re.compile(rb"\$\{(?:if\s+)?!?([a-z_0-9]+)|\$([a-z_][a-z_0-9]*)")


def expand_seeds(lines, limit=400):
    names = lambda l: {m.group(1) or m.group(2) for m in NAME_RE.finditer(l)}
    covered, chosen = set(), []
    for l in sorted(lines, key=lambda l: (-len(names(l)), len(l))):
        new = names(l) - covered
        if new and len(l) <= 400:
            chosen.append(l)
            covered |= new
    rest = [l for l in lines if l not in chosen and len(l) <= 400]
    random.Random(4096).shuffle(rest)
    chosen += rest[: max(0, limit - len(chosen))]
    return chosen, covered


def expand_dict(names):
    entries = set()
    for n in names:
        n = n.decode()
        entries.update({"${%s:" % n, "${%s{" % n, "${if %s{" % n, "$%s" % n})
    entries.update(["${", "}", "{", "}{", "\\\\", "\\N", "${if ", " fail}", "<,", "<;", "::",
                    "{$value}", "{$item}", "lsearch;", "partial-", "net24-", "+caseful", "!"])
    esc = lambda s: s.replace("\\", "\\\\").replace('"', '\\"')
    return "".join('"%s"\n' % esc(e) for e in sorted(entries))


def conf_seeds():
    files = ["/etc/exim4/exim4.conf.template", "/usr/share/doc/exim4-base/examples/example.conf"]
    for d in ("bP-configs", "expand", "drivers"):
        p = os.path.join(GOLDEN, d)
        if os.path.isdir(p):
            files += [os.path.join(p, f) for f in sorted(os.listdir(p)) if f.endswith(".conf")]
    out = []
    for fn in files:
        if not os.path.exists(fn):
            continue
        with open(fn, "rb") as f:
            text = f.read()
        # Whole file, and each "begin" section alone (after the main part).
        out.append(text[:65536])
        parts = re.split(rb"(?m)^(?=begin\s)", text)
        for part in parts:
            if len(part) > 64:
                out.append(part[:16384])
    return list(dict.fromkeys(out))


def conf_dict():
    """Option names (main and driver), section and list keywords, directives."""
    words = set()
    with open(os.path.join(ROOT, "src", "conf", "main_options.h")) as f:
        words.update(re.findall(r"\b(?:X|ALIAS)\(([a-z_0-9]+),", f.read()))
    for dirpath, _, files in os.walk(os.path.join(ROOT, "src", "drivers")):
        for fn in files:
            if fn.endswith(".c"):
                with open(os.path.join(dirpath, fn)) as f:
                    words.update(re.findall(r'\bROW\("([a-z_0-9]+)"', f.read()))
    entries = {w + " = " for w in words} | {"no_" + w for w in words}
    entries |= {"begin acl", "begin routers", "begin transports", "begin retry", "begin rewrite",
                "begin authenticators", "begin local_scan", "driver = ", "domainlist ", "hostlist ",
                "addresslist ", "localpartlist ", ".include ", ".include_if_exists ", ".ifdef ",
                ".ifndef ", ".elifdef ", ".elifndef ", ".else", ".endif", "hide ", "not_",
                "accept", "deny", "defer", "warn", "require", "discard", "drop", "\\\n", "==",
                "MACRO = ", "! ", ":", "${", "}"}
    esc = lambda s: s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\x0a")
    return "".join('"%s"\n' % esc(e) for e in sorted(entries))


def match_seeds(lines):
    kinds = {b"match_domain": b"d", b"match_local_part": b"l", b"match_address": b"a",
             b"match_ip": b"h", b"inlist": b"s", b"inlisti": b"S"}
    out = []
    pat = re.compile(rb"\$\{if\s+(match_domain|match_local_part|match_address|match_ip|inlisti|inlist)"
                     rb"\{([^{}]*)\}\{([^{}]*)\}")
    for l in lines:
        for m in pat.finditer(l):
            out.append(kinds[m.group(1)] + m.group(2) + b"\0" + m.group(3))
    return list(dict.fromkeys(out))


def main():
    lines = be_lines()
    chosen, names = expand_seeds(lines)
    write_seeds("fuzz_expand", chosen)
    with open(os.path.join(HERE, "fuzz_expand.dict"), "w") as f:
        f.write("# Generated by make_seeds.py from tests/golden/expand/*.be\n")
        f.write(expand_dict(names))
    write_seeds("fuzz_conf", conf_seeds())
    with open(os.path.join(HERE, "fuzz_conf.dict"), "w") as f:
        f.write("# Generated by make_seeds.py from src/conf/main_options.h and driver option rows\n")
        f.write(conf_dict())
    write_seeds("fuzz_match", match_seeds(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
