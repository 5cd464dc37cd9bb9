"""A user's filter runs as the user the router set, as Exim 4.96 runs it (issue 4 §2).

Exim interprets a redirect router's filter in a subprocess under the router's uid and gid, so a
${run} in a user's .forward filter runs as that user, not as root (observed: "id -u" gives the
user's uid), and the Sieve vacation directory is created by the user. Postern's delivery
process is root: it must hand the interpretation to a child that gave up root. Checked beside
live Exim with the same configuration (the router's user is Debian-exim, whom Exim, giving up
root for -C, can become)."""
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import tempfile
import time

import pytest

EXIM = "/usr/sbin/exim"

CONF = """exim_user = Debian-exim
exim_group = Debian-exim
spool_directory = {d}/spool
log_file_path = {d}/spool/log/%slog
primary_hostname = test.example
keep_environment =
begin routers
userforward:
  driver = redirect
  local_parts = user1
  allow_filter
  user = Debian-exim
  file = {d}/user1.fwd
  reply_transport = address_reply
  file_transport = address_file
  sieve_vacation_directory = {d}/vac
  sieve_enotify_mailto_owner = owner@test.example
local:
  driver = accept
  local_parts = user1 : other : a
  transport = local_delivery
begin transports
local_delivery:
  driver = appendfile
  file = {d}/mail/$local_part_data
  user = Debian-exim
address_file:
  driver = appendfile
  file = {d}/mail/keep
  user = Debian-exim
address_reply:
  driver = autoreply
"""

pytestmark = pytest.mark.skipif(not os.path.exists(EXIM) or os.geteuid() != 0,
                                reason="needs Exim 4.96 and root")


def run(binary, script):
    d = pathlib.Path(tempfile.mkdtemp(prefix="fuser_"))
    try:
        os.chmod(d, 0o777)
        for sub in ("mail", "spool"):
            (d / sub).mkdir()
            os.chmod(d / sub, 0o777)
        (d / "user1.fwd").write_text(script.format(d=d))
        os.chmod(d / "user1.fwd", 0o644)
        (d / "conf").write_text(CONF.format(d=d))
        r = subprocess.run([binary, "-C", str(d / "conf"), "-odi", "-f", "a@test.example", "user1@test.example"],
                           input="From: a@test.example\nTo: user1@test.example\nSubject: hi\n\nbody\n",
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        # A notification is delivered by a process of its own: wait for the queue to empty.
        end = time.time() + 20
        while time.time() < end and list((d / "spool" / "input").glob("*-D")):
            time.sleep(0.1)
        whoami = (d / "whoami").read_text().strip() if (d / "whoami").exists() else None
        vac = d / "vac"
        owner = pwd.getpwuid(vac.stat().st_uid).pw_name if vac.exists() else None
        other = d / "mail" / "other"
        note = other.read_text() if other.exists() else None
        if note:
            note = re.sub(r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}", "ID", note)
            note = re.sub(r"(?m)^(From \S+|\t|Date:).*$", r"\1", note)
        arrivals = sorted(re.sub(r"^.*? [0-9A-Za-z-]{16} ", "", l)
                          for l in (d / "spool" / "log" / "mainlog").read_text().splitlines() if " <= " in l)
        return whoami, owner, note, [re.sub(r"R=\S+", "R=ID", l) for l in arrivals]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_run_in_exim_filter_is_the_users():
    script = ('# Exim filter\nif "${{run{{/bin/sh -c \\"id -u > {d}/whoami\\"}}{{yes}}{{no}}}}" is "yes"'
              " then seen finish endif\n")
    ex = run(EXIM, script)
    po = run(os.environ["POSTERN"], script)
    assert ex[0] == str(pwd.getpwnam("Debian-exim").pw_uid)
    assert po == ex


def test_sieve_vacation_directory_is_made_by_the_user():
    script = '# Sieve filter\nrequire "vacation";\nvacation "I am away";\n'
    ex = run(EXIM, script)
    po = run(os.environ["POSTERN"], script)
    assert ex[1] == "Debian-exim"
    assert po == ex


def test_sieve_notify_is_submitted_as_exim_does():
    script = ('# Sieve filter\nrequire "enotify";\n'
              'notify :message "hello there" "mailto:other@test.example?subject=S%20x&body=B%20y";\n')
    ex = run(EXIM, script)
    po = run(os.environ["POSTERN"], script)
    assert "\nAuto-Submitted: auto-notified; owner@test.example\nS%20x: \nB%20y: \nSubject: hello there\n" \
        in ex[2]
    assert "<= user1@test.example R=ID U=Debian-exim P=local S=402" in ex[3], ex[3]
    assert po == ex
