"""docs/: the generated options reference is current, and the examples in the hand-written
documents print what the documentation says they print."""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_options_md_is_current(postern_bin, tmp_path):
    out = tmp_path / "options.md"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen-options-doc.py"),
                    "--postern", postern_bin, "--out", str(out)], check=True, timeout=120)
    assert out.read_text() == (DOCS / "options.md").read_text(), \
        "docs/options.md is stale: run scripts/gen-options-doc.py and commit the result"


def test_options_md_lists_every_main_option(postern_bin, tmp_path):
    conf = tmp_path / "empty.conf"
    conf.write_text("")
    r = subprocess.run([postern_bin, "-C", str(conf), "-bP"], capture_output=True, text=True, timeout=30)
    names = {re.sub(r"^no_", "", l.split(" =")[0]) for l in r.stdout.splitlines() if l}
    text = (DOCS / "options.md").read_text()
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, re.M))
    assert names and names <= documented, sorted(names - documented)


# Examples in the hand-written documents. A fenced block whose first line is "# file: NAME" is
# written to NAME in the example directory (configurations and data the examples use). A fenced
# block whose first line is "$ postern ..." is a shell command run there, followed by exactly what
# it prints (stdout, then stderr).
DOC_NAMES = ("configuration.md", "expansions.md", "lookups.md", "command-line.md")
FENCE_RE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)


def fenced_blocks():
    for name in DOC_NAMES:
        path = DOCS / name
        if path.exists():
            for m in FENCE_RE.finditer(path.read_text()):
                yield name, m.group(1)


def doc_examples():
    for name, body in fenced_blocks():
        first, _, rest = body.partition("\n")
        if first.startswith("$ postern "):
            yield pytest.param(name, first[2:], rest, id=f"{name}:{first[2:60]}")


@pytest.fixture
def example_dir(tmp_path):
    for _, body in fenced_blocks():
        first, _, rest = body.partition("\n")
        if first.startswith("# file: "):
            target = tmp_path / first[len("# file: "):].strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(rest)
    return tmp_path


def test_docs_have_examples():
    assert len(list(doc_examples())) >= 20


@pytest.mark.parametrize("doc,command,expected", list(doc_examples()))
def test_doc_example_output(postern_bin, example_dir, doc, command, expected):
    env = dict(os.environ, LC_ALL="C", TZ="UTC")
    cmd = "postern() { \"$POSTERN_BIN\" \"$@\"; }; " + command
    env["POSTERN_BIN"] = postern_bin
    r = subprocess.run(["/bin/sh", "-c", cmd], cwd=example_dir, capture_output=True,
                       text=True, timeout=30, env=env)
    got = r.stdout + r.stderr
    assert got == expected, f"{doc}: `{command}` printed:\n{got}"


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text):
    found = {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}
    return found | set(re.findall(r'<a id="([^"]+)"></a>', text))


def test_doc_links_resolve():
    bad = []
    for name in DOC_NAMES + ("options.md",):
        text = (DOCS / name).read_text()
        for target in re.findall(r"\]\(([^)#\s]+\.md)?(?:#([^)\s]+))?\)", text):
            file, anchor = target
            path = DOCS / (file or name)
            if not path.exists():
                bad.append(f"{name}: missing {file}")
            elif anchor and anchor not in anchors(path.read_text()):
                bad.append(f"{name}: no anchor #{anchor} in {path.name}")
    assert not bad, bad
