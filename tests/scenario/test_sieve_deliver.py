"""Sieve and Exim filters in a user's forward file, delivered end to end (-odi): Maildir folders
for fileinto and keep, redirect :copy, vacation replying once per sender, a syntax error keeping
the message, Exim filter mail, forbid_* options. Log lines and the reply's header layout are
Exim 4.96's for the same configuration (recorded with Debian's exim4; ids and times masked)."""
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest


def masked(log):
    out = []
    for line in log.splitlines():
        line = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line)
        line = re.sub(r"\b[0-9A-Za-z]{6}-[0-9A-Za-z]{6}-[0-9A-Za-z]{2}\b", "ID", line)
        out.append(line)
    return out


@pytest.fixture
def world():
    """A directory the transports' user (mail) can write (pytest's tmp_path is private)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run transports as another user")
    d = pathlib.Path(tempfile.mkdtemp(prefix="sieve_e2e_"))
    os.chmod(d, 0o777)
    (d / "mail").mkdir()
    os.chmod(d / "mail", 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def config(d, extra=""):
    return f"""spool_directory = {d}/spool
primary_hostname = test.example
qualify_domain = test.example
domainlist local_domains = test.example
begin routers
userforward:
  driver = redirect
  domains = +local_domains
  local_parts = user1 : user2
  allow_filter
  user = mail
  file = {d}/${{local_part_data}}.fwd
  file_transport = address_file
  pipe_transport = address_pipe
  reply_transport = address_reply
  sieve_vacation_directory = {d}/mail/vac-${{local_part_data}}
{extra}
local:
  driver = accept
  local_parts = user1 : user2 : other : a
  transport = local_delivery
begin transports
local_delivery:
  driver = appendfile
  file = {d}/mail/$local_part_data
  user = mail
address_file:
  driver = appendfile
  maildir_format
  directory = {d}/mail/Maildir${{if eq{{$address_file}}{{inbox}}{{}}{{/.$address_file}}}}
  create_directory
  user = mail
address_pipe:
  driver = pipe
address_reply:
  driver = autoreply
"""


def make_conf(d, script, extra=""):
    conf = d / "c.conf"
    conf.write_text(config(d, extra))
    fwd = d / "user1.fwd"
    fwd.write_text(script)
    os.chmod(fwd, 0o644)
    return conf


def send(postern, conf, subject="hello world", sender="a@test.example", rcpt="user1@test.example",
         extra_headers=""):
    msg = (f"From: {sender}\nTo: {rcpt}\nSubject: {subject}\nMessage-Id: <m1@x>\n{extra_headers}\n"
           "body\n")
    r = subprocess.run([postern, "-C", str(conf), "-odi", "-f", sender, rcpt], input=msg,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def mainlog(d):
    return masked((d / "spool" / "log" / "mainlog").read_text())


def maildir_count(d, folder=""):
    path = d / "mail" / "Maildir" / (("." + folder) if folder else "") / "new"
    return len(list(path.iterdir())) if path.exists() else 0


def test_sieve_fileinto_and_keep_to_maildir_folders(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nrequire "fileinto";\n'
                        'if header :contains "subject" "work" { fileinto "Work"; stop; }\nkeep;\n')
    send(postern_bin, conf, subject="work item")
    send(postern_bin, conf, subject="other stuff")
    assert maildir_count(world, "Work") == 1
    assert maildir_count(world) == 1
    log = mainlog(world)
    # Exim 4.96 logs the directory the transport's "directory" option gave (checked live with
    # this configuration, the transports' user being Debian-exim).
    assert f"ID => {world}/mail/Maildir/.Work <user1@test.example> R=userforward T=address_file" in log
    assert f"ID => {world}/mail/Maildir <user1@test.example> R=userforward T=address_file" in log


def test_sieve_redirect_copy_keeps_a_copy(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nrequire "copy";\nredirect :copy "other@test.example";\n')
    send(postern_bin, conf)
    assert "body" in (world / "mail" / "other").read_text()
    assert maildir_count(world) == 1      # the implicit keep still holds
    log = mainlog(world)
    assert "ID => other <user1@test.example> R=local T=local_delivery" in log


def test_sieve_redirect_without_copy_cancels_keep(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nredirect "other@test.example";\n')
    send(postern_bin, conf)
    assert (world / "mail" / "other").exists()
    assert maildir_count(world) == 0


def test_sieve_discard_is_logged_as_exim_does(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\ndiscard;\n')
    send(postern_bin, conf)
    assert "ID => discarded <user1@test.example> R=userforward" in mainlog(world)
    assert maildir_count(world) == 0


def test_sieve_vacation_replies_once(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nrequire "vacation";\n'
                        'vacation :days 3 :subject "away" "I am away";\n')
    send(postern_bin, conf)
    send(postern_bin, conf)
    replies = (world / "mail" / "a").read_text()
    assert replies.count("\nSubject: away\n") == 1
    # The once file: MD5 of subject, handle-or-from, ":mime" flag and reason (Exim's name).
    name = hashlib.md5(b"away0I am away").hexdigest().upper()
    vac = world / "mail" / "vac-user1"
    assert (vac / name).exists()
    assert oct(vac.stat().st_mode & 0o777) == "0o700"
    # The reply as Exim 4.96 writes it (after its Received: header).
    body = replies.split("\n\n", 1)
    headers = re.sub(r"(?s)^From MAILER-DAEMON.*?\n(From: )", r"\1", body[0])
    headers = re.sub(r"<E[^@]+@test.example>", "<ID>", headers)
    headers = re.sub(r"Date: .*", "Date: DATE", headers)
    assert headers == ("From: user1@test.example\nTo: a@test.example\nSubject: away\nIn-Reply-To: <m1@x>\n"
                       "References: <m1@x>\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
                       "Content-Type: text/plain;\n\tcharset=\"utf-8\"\n"
                       "Content-Transfer-Encoding: quoted-printable\nMessage-Id: <ID>\nDate: DATE")
    assert body[1].startswith("I am away\n")
    log = [l for l in mainlog(world) if ">a@test.example" in l]
    assert log == ["ID => >a@test.example <user1@test.example> R=userforward T=address_reply"] * 2
    assert maildir_count(world) == 2


def test_sieve_vacation_not_for_lists_or_bounces(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nrequire "vacation";\nvacation "I am away";\n')
    send(postern_bin, conf, extra_headers="List-Id: <l.example>\n")
    send(postern_bin, conf, rcpt="user1@test.example", sender="a@test.example",
         extra_headers="Auto-Submitted: auto-generated\n")
    assert not (world / "mail" / "a").exists()
    assert maildir_count(world) == 2


def test_sieve_error_keeps_and_runs_commands_before_it(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nrequire "fileinto";\nfileinto "F1";\nbogus;\n')
    send(postern_bin, conf)
    assert maildir_count(world, "F1") == 1
    assert maildir_count(world) == 1
    assert not any("error" in l for l in mainlog(world))   # Exim logs nothing


def test_exim_filter_mail_goes_to_reply_transport(postern_bin, world):
    conf = make_conf(world, '# Exim filter\nmail to a@test.example subject "hi" text "body text"\n')
    send(postern_bin, conf)
    reply = (world / "mail" / "a").read_text()
    assert "\nSubject: hi\n" in reply and "\n\nbody text\n" in reply
    log = mainlog(world)
    assert "ID => >a@test.example <user1@test.example> R=userforward T=address_reply" in log
    # Not significant: normal delivery goes on with the next router, as in Exim.
    assert "ID => user1 <user1@test.example> R=local T=local_delivery" in log


def test_exim_filter_error_defers(postern_bin, world):
    conf = make_conf(world, '# Exim filter\nsave F2\nbogus\n')
    send(postern_bin, conf)
    assert ('ID == user1@test.example R=userforward defer (-17): error in filter file: '
            'unknown filtering command "bogus" near line 4 of filter file') in mainlog(world)


def test_exim_filter_fail_needs_allow_fail(postern_bin, world):
    conf = make_conf(world, '# Exim filter\nfail text "go away"\n')
    send(postern_bin, conf)
    assert ('ID == user1@test.example R=userforward defer (-17): error in filter file: '
            'filtering command "fail" is disabled: near line 2 of filter file') in mainlog(world)


def test_forbid_filter_reply_fails_the_reply(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nrequire "vacation";\nvacation "I am away";\n',
                     extra="  forbid_filter_reply")
    send(postern_bin, conf)
    # Exim 4.96 (checked live): a Sieve vacation's failure sends nothing back, not even a
    # bounce: "error ignored".
    assert not (world / "mail" / "a").exists()
    assert ("ID ** >a@test.example <user1@test.example> R=userforward T=address_reply: autoreply forbidden"
            in mainlog(world))
    assert "ID >a@test.example <user1@test.example>: error ignored" in mainlog(world)
    assert maildir_count(world) == 1


def test_forbid_sieve_filter(postern_bin, world):
    conf = make_conf(world, '# Sieve filter\nkeep;\n', extra="  forbid_sieve_filter")
    send(postern_bin, conf)
    assert maildir_count(world) == 0
    assert ("ID == user1@test.example R=userforward defer (-17): error in filter file: "
            "Sieve filtering not enabled") in mainlog(world)


SYSTEM_FILTER = """# Exim filter
if $h_subject: contains "sf" then
  mail to a@test.example subject "sf reply" text "from the system filter"
  unseen save {d}/mail/sfsave
  logfile {d}/mail/sflog
  logwrite "seen $h_subject:"
endif
"""


def test_system_filter_user_and_transports(postern_bin, world):
    """The system filter runs as system_filter_user; its mail, save and logwrite work through
    system_filter_reply_transport and system_filter_file_transport. Lines as Exim 4.96's."""
    (world / "sysfilter").write_text(SYSTEM_FILTER.format(d=world))
    conf = world / "c.conf"
    conf.write_text(f"system_filter = {world}/sysfilter\nsystem_filter_user = mail\n"
                    "system_filter_reply_transport = address_reply\n"
                    "system_filter_file_transport = sf_file\n"
                    + config(world) + "sf_file:\n  driver = appendfile\n  file = $address_file\n  user = mail\n")
    send(postern_bin, conf, subject="sf test", rcpt="other@test.example")
    log = mainlog(world)
    assert "ID => >a@test.example <system-filter> T=address_reply" in log
    assert f"ID => {world}/mail/sfsave <system-filter> T=sf_file" in log
    assert "ID => other <other@test.example> R=local T=local_delivery" in log
    assert "\nSubject: sf reply\n" in (world / "mail" / "a").read_text()
    import pwd
    mail_uid = pwd.getpwnam("mail").pw_uid
    # logwrite ran in the filter's process, as its user (the reply ran the filter too).
    assert (world / "mail" / "sflog").stat().st_uid == mail_uid
    assert (world / "mail" / "sflog").read_text() == "seen sf test\nseen sf reply\n"
    assert (world / "mail" / "sfsave").stat().st_uid == mail_uid


def test_system_filter_unset_reply_transport_fails_the_reply(postern_bin, world):
    (world / "sysfilter").write_text('# Exim filter\nmail to a@test.example subject "x" text "y"\n')
    conf = world / "c.conf"
    conf.write_text(f"system_filter = {world}/sysfilter\n" + config(world))
    send(postern_bin, conf, rcpt="other@test.example")
    assert any(l.startswith("ID ** >a@test.example <system-filter>") and "system_filter_reply_transport is unset" in l
               for l in mainlog(world))
