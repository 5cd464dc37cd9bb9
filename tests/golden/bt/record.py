#!/usr/bin/python3
"""Record -bt / -bv / -bvs golden outputs from Exim 4.96 (run as root on a machine with Debian's
exim4 installed): for each configs/<name>.conf and cases/<name>.txt, write expected/<name>.out.

Placeholders in the configurations: @DIR@ is this directory, @SPOOL@ a private spool directory.
The test (tests/scenario/test_route_bt_golden.py) runs Postern on the same cases and compares
stdout, stderr and the exit status.

    tests/golden/bt/record.py [exim-binary]
"""
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def prepare(name, tmp):
    text = (HERE / "configs" / f"{name}.conf").read_text()
    spool = pathlib.Path(tmp) / "spool"
    spool.mkdir(exist_ok=True)
    conf = pathlib.Path(tmp) / f"{name}.conf"
    conf.write_text(text.replace("@DIR@", str(HERE)).replace("@SPOOL@", str(spool)))
    return conf


def cases(name):
    for line in (HERE / "cases" / f"{name}.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            yield line.split("\t")


def run_case(binary, conf, args):
    # A last argument "stdin=TEXT" (with \n for newlines) is fed on stdin instead.
    stdin = None
    if args and args[-1].startswith("stdin="):
        stdin = args[-1][len("stdin="):].replace("\\n", "\n")
        args = args[:-1]
    p = subprocess.run([binary, "-C", str(conf)] + args, input=stdin, capture_output=True, text=True, timeout=60)
    if stdin is not None:
        args = args + ["<stdin>"]
    return f"### {' '.join(args)}\n--- stdout\n{p.stdout}--- stderr\n{p.stderr}--- rc {p.returncode}\n"


def render(binary, name, tmp):
    conf = prepare(name, tmp)
    # This directory's path is written back as @DIR@, so that the outputs do not depend on it.
    return "".join(run_case(binary, conf, args) for args in cases(name)).replace(str(HERE), "@DIR@")


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "/usr/sbin/exim"
    with tempfile.TemporaryDirectory() as tmp:
        for c in sorted((HERE / "cases").glob("*.txt")):
            out = render(binary, c.stem, tmp)
            (HERE / "expected" / f"{c.stem}.out").write_text(out)
            print(f"recorded {c.stem}: {out.count('### ')} cases")


if __name__ == "__main__":
    main()
