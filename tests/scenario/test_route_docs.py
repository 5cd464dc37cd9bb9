"""docs/routing.md: its examples print what the document says they print (same conventions as
test_docs.py: "# file: NAME" blocks are written to the example directory, "$ postern ..." blocks
are run there and followed by exactly their output)."""
import os
import pathlib
import re
import subprocess

import pytest

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "routing.md"
FENCE_RE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)


def blocks():
    return [m.group(1) for m in FENCE_RE.finditer(DOC.read_text())]


def examples():
    for body in blocks():
        first, _, rest = body.partition("\n")
        if first.startswith("$ postern "):
            yield pytest.param(first[2:], rest, id=first[2:60])


def test_routing_doc_has_examples():
    assert len(list(examples())) >= 3


@pytest.mark.parametrize("command,expected", list(examples()))
def test_routing_doc_example(postern_bin, tmp_path, command, expected):
    for body in blocks():
        first, _, rest = body.partition("\n")
        if first.startswith("# file: "):
            (tmp_path / first[len("# file: "):].strip()).write_text(rest)
    (tmp_path / "spool").mkdir()
    conf = tmp_path / "routing.conf"
    conf.write_text(f"spool_directory = {tmp_path}/spool\n" + conf.read_text())
    env = dict(os.environ, LC_ALL="C", TZ="UTC", POSTERN_BIN=postern_bin)
    r = subprocess.run(["/bin/sh", "-c", "postern() { \"$POSTERN_BIN\" \"$@\"; }; " + command], cwd=tmp_path,
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.stdout + r.stderr == expected
