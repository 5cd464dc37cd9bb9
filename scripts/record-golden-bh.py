#!/usr/bin/env python3
"""Record the golden -bh transcripts in tests/golden/bh/expected/ from Debian's Exim 4.96.

Run as root (Exim -bh with a private configuration and spool needs it):
    sudo scripts/record-golden-bh.py [case-name...]
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "golden" / "bh"))
import bhcase  # noqa: E402

EXIM = "/usr/sbin/exim4"


def main():
    wanted = set(sys.argv[1:])
    for case in bhcase.cases():
        if wanted and case.stem not in wanted:
            continue
        out = bhcase.run_case(EXIM, case)
        (bhcase.HERE / "expected" / (case.stem + ".out")).write_text(out)
        print(case.stem)


if __name__ == "__main__":
    main()
