#!/usr/bin/env python3
"""Record `exim -bP` answers for the realistic configurations in this directory.

For every X.conf this writes
  X.bP.out       one section per query: "### -bP <args> (exit N)", the stdout lines, and when
                 stderr is not empty a "### stderr" part.  Queries are DEFAULT_QUERIES plus the
                 lines of X.queries if that file exists; a query starting "@user " runs as that
                 user (a non-admin caller: hidden options print "<value not displayable>").
  X.options.out  every main-section option line of X.conf probed alone (a config of
                 primary_hostname plus that line): "accepted: <-bP output>" or "rejected: <error>".
                 This is the machine-checked list of the main options Debian's exim rejects;
                 driver options it rejects are marked "# debian-rejects" by hand in the configs.
The configuration's directory is written as @DIR@ and probe files as @PROBE@, so the recordings do
not depend on the checkout path.  Runs with a fixed environment (PATH only) so that
`-bP environment` is reproducible.

Usage: tests/golden/bP-configs/record.py [--exim PATH] [X.conf ...]
The comparison test belongs to the config reader (it can parse the sections described above).
"""
import argparse
import pathlib
import re
import subprocess
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
DEFAULT_QUERIES = ["", "router_list", "routers", "transport_list", "transports",
                   "authenticator_list", "authenticators", "macros", "config", "config_file",
                   "+local_domains", "environment", "nosuchoption"]


def run(exim, conf, args, user=None):
    """exim -C conf -bP args, as root or, with user, as that (non-admin) user via runuser."""
    prefix = ["runuser", "-u", user, "--"] if user else []
    proc = subprocess.run(prefix + [exim, "-C", str(conf), "-bP"] + args, capture_output=True,
                          env=ENV, timeout=60)
    return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
            proc.stderr.decode("utf-8", "replace"))


def strip_log_stamp(text):
    # Exim prefixes panic-log lines on stderr with a timestamp; keep the message only.
    return re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", text, flags=re.M)


def record_queries(exim, conf):
    queries = list(DEFAULT_QUERIES)
    extra = conf.with_suffix(".queries")
    if extra.exists():
        queries += [q for q in extra.read_text().split("\n") if q.strip() and not q.startswith("#")]
    parts = []
    for query in queries:
        words, user = query.split(), None
        if words and words[0].startswith("@"):          # "@nobody option": run as that user
            user, words = words[0][1:], words[1:]
        rc, out, err = run(exim, conf, words, user)
        parts.append(f"### -bP {query} (exit {rc})\n{out}")
        if err:
            parts.append(f"### stderr\n{strip_log_stamp(err)}")
    text = "".join(p if p.endswith("\n") else p + "\n" for p in parts)
    return text.replace(str(conf.parent), "@DIR@")


def main_option_lines(conf):
    """Option settings of the main section: lines before the first `begin`, not comments,
    macro definitions (upper-case start), named lists or conditional directives."""
    for line in conf.read_text().split("\n"):
        if line.startswith("begin "):
            break
        s = line.strip()
        if (not s or s.startswith("#") or s[0].isupper() or s.startswith(".")
                or re.match(r"(domain|host|address|localpart)list\s", s)):
            continue
        yield s


def probe_options(exim, conf):
    lines = []
    with tempfile.TemporaryDirectory(prefix="postern-bP-") as tmp:
        probe = pathlib.Path(tmp) / "probe.conf"
        for setting in main_option_lines(conf):
            name = re.split(r"[\s=]", setting, maxsplit=1)[0]
            base = "" if name == "primary_hostname" else "primary_hostname = probe.example\n"
            probe.write_text(f"{base}{setting}\n")
            rc, out, err = run(exim, probe, [name])
            if rc == 0 and not err:
                verdict = "accepted: " + out.strip().replace("\n", " | ")
            else:
                msg = " ".join(strip_log_stamp(err).split())
                verdict = "rejected: " + msg.replace(str(probe), "@PROBE@")
            lines.append(f"{setting}\n    {verdict}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--exim", default="exim")
    ap.add_argument("configs", nargs="*")
    args = ap.parse_args()
    confs = [pathlib.Path(c).resolve() for c in args.configs] or sorted(HERE.glob("*.conf"))
    for conf in confs:
        conf.with_suffix(".bP.out").write_text(record_queries(args.exim, conf))
        conf.with_suffix(".options.out").write_text(probe_options(args.exim, conf))
        print(f"{conf.name}: recorded")


if __name__ == "__main__":
    main()
