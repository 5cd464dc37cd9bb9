"""Differential test: the same lookup and list-matching expansions through Debian's Exim 4.96 and
through postern -be must print the same lines. Skipped when exim is not installed (or postern -be
is not implemented). Only lookups Debian's Exim has are used (no json, lmdb, redis)."""
import shutil
import sqlite3
import subprocess

import pytest

from lookup_helpers import be, need, sh

CONF = """primary_hostname = test.example
domainlist dl = a.com : *.b.com
addresslist al = u@a.com
localpartlist ll = ^post
hostlist hl = 10.0.0.0/8
"""


def exim_be(conf_path, expr):
    res = subprocess.run(["exim", "-C", str(conf_path), "-be", expr], capture_output=True, text=True,
                         timeout=30)
    return res.stdout


def make_files(d):
    (d / "l.txt").write_text('foo: bar\n"quoted key": qv\nmulti: line1\n  line2\nk2   data two  \n\n'
                             '   not continued\n*.wild.com: wildval\n*: star\n"q\\tk"  : tab\n'
                             '"\\x41b": hex\n*@dom.example: perdomain\n')
    (d / "w.txt").write_text("*.a.b.c: star suffix\n*fish: anyfish\n^\\d+\\.num\\.example$: regex\n")
    (d / "ip.txt").write_text('1.2.3.4: one\n"::1": v6 one\n10.0.0.0/8 ten\n"2001:db8::/32": doc\n  cont\n')
    (d / "n.txt").write_text("10.1.2.0/24: net24\n10.1.2.3: net\n"
                             "2001.0db8.0000.0000.0000.0000.0000.0001: v6\n")
    (d / "dom.txt").write_text("a.com\n*.wild.org\n# comment\n^re\\d+$ # trailing\n!neg.com\nNeg.org\n")
    (d / "l4.txt").write_text("a.com: bad : >*\n*: worse\nu@x.com: yes\n")
    (d / "dd").mkdir()
    (d / "dd" / "file.txt").write_text("")
    (d / "dd" / "sub").mkdir()
    (d / "cdb.in").write_text("+3,4:abc->defg\n+5,12:multi->with\nnewline\n\n")
    sh(f"cdb -c {d}/t.cdb < {d}/cdb.in")
    (d / "dbm.in").write_text("alpha: one\nbeta: two words\n")
    sh(f"exim_dbmbuild {d}/dbm.in {d}/aliases >/dev/null")
    con = sqlite3.connect(d / "s.db")
    con.executescript("create table t(a,b); insert into t values('k','v'); insert into t values('sp ace','q\"x');"
                      "insert into t values('', NULL);")
    con.commit()
    con.close()


def expressions(d):
    return [
        f"${{lookup{{foo}}lsearch{{{d}/l.txt}}}}",
        f"${{lookup{{FOO}}lsearch{{{d}/l.txt}}}}",
        f"${{lookup{{quoted key}}lsearch{{{d}/l.txt}}}}",
        f"${{lookup{{multi}}lsearch{{{d}/l.txt}}}}",
        f"<${{lookup{{k2}}lsearch{{{d}/l.txt}}}}>",
        f"<${{lookup{{k2}}lsearch,ret=full{{{d}/l.txt}}}}>",
        f"${{lookup{{q\tk}}lsearch{{{d}/l.txt}}}}",
        f"${{lookup{{Ab}}lsearch{{{d}/l.txt}}}}",
        f"${{lookup{{x}}lsearch*{{{d}/l.txt}}}}",
        f"${{lookup{{}}lsearch*{{{d}/l.txt}}}}",
        f"${{lookup{{u@dom.example}}lsearch*@{{{d}/l.txt}}}}",
        f"${{lookup{{a.b.wild.com}}partial-lsearch{{{d}/l.txt}}}}",
        f"${{lookup{{a.b.wild.com}}partial-lsearch,ret=key{{{d}/l.txt}}}}",
        f"${{lookup{{nothere}}lsearch{{{d}/l.txt}}{{y}}{{n}}}}",
        f"${{lookup{{x.a.b.c}}nwildlsearch{{{d}/w.txt}}}}",
        f"${{lookup{{goldfish}}nwildlsearch{{{d}/w.txt}}}}",
        f"${{lookup{{123.NUM.example}}nwildlsearch{{{d}/w.txt}}}}",
        f"${{lookup{{10.9.8.7}}iplsearch{{{d}/ip.txt}}}}",
        f"${{lookup{{2001:db8::5}}iplsearch,ret=full{{{d}/ip.txt}}}}",
        f"${{lookup{{::ffff:1.2.3.4}}iplsearch{{{d}/ip.txt}}}}",
        f"${{lookup{{x}}iplsearch{{{d}/ip.txt}}}}",
        f"${{lookup{{file.txt}}dsearch{{{d}/dd}}}}",
        f"${{lookup{{file.txt}}dsearch,ret=full{{{d}/dd}}}}",
        f"${{lookup{{sub}}dsearch,filter=file{{{d}/dd}}{{y}}{{n}}}}",
        f"${{lookup{{..}}dsearch,filter=subdir{{{d}/dd}}{{y}}{{n}}}}",
        f"${{lookup{{a/b}}dsearch{{{d}/dd}}}}",
        f"${{lookup{{abc}}cdb{{{d}/t.cdb}}}}",
        f"${{lookup{{multi}}cdb{{{d}/t.cdb}}}}",
        f"${{lookup{{beta}}dbm{{{d}/aliases}}}}",
        f"${{lookup{{beta}}dbmnz{{{d}/aliases}}{{y}}{{n}}}}",
        f"${{lookup sqlite{{{d}/s.db select a,b from t}}}}",
        f"${{lookup sqlite{{{d}/s.db select b from t where a=''}}}}",
        f"${{lookup sqlite,file={d}/s.db{{select b from t where a='k'}}}}",
        f"${{lookup{{x}}lsearch{{{d}/nonexist}}}}",
        f"${{lookup{{x}}lsearch{{{d}/dd}}}}",
        f"${{lookup{{x}}cdb{{{d}/l.txt}}}}",
        f"${{lookup{{x}}nosuch{{{d}/l.txt}}}}",
        f"${{lookup{{x}}partial(ab)lsearch{{{d}/l.txt}}}}",
        "${lookup partial-passwd{root}}",
        "${lookup passwd*{root}}",
        "${lookup passwd{root}}",
        f"${{lookup{{root}}passwd{{{d}/l.txt}}}}",
        "${if match_domain{x.b.com}{+dl}{y}{n}}",
        "${if match_domain{A.COM}{a.com}{y}{n}}",
        "${if match_domain{a.com}{^(?-i)A\\\\.COM\\$}{y}{n}}",
        f"${{if match_domain{{re12}}{{{d}/dom.txt}}{{y}}{{n}}}}",
        f"${{if match_domain{{neg.com}}{{!{d}/dom.txt}}{{y}}{{n}}}}",
        "${if match_domain{x.y}{!a:!b}{y}{n}}",
        "${if match_domain{a.com}{!!a.com}{y}{n}}",
        "${if match_domain{test.example}{@}{y}{n}}",
        f"${{if match_domain{{a/b}}{{dsearch;{d}/dd}}{{y}}{{n}}}}",
        "${if match_address{U@A.com}{+al}{y}{n}}",
        "${if match_address{u@a.com}{*u@a.com}{y}{n}}",
        "${if match_address{u@a.com}{u*@a.com}{y}{n}}",
        "${if match_address{a@b@c.com}{a@b@*}{y}{n}}",
        f"${{if match_address{{worse@a.com}}{{@@lsearch;{d}/l4.txt}}{{y}}{{n}}}}",
        f"${{if match_address{{u@x.com}}{{lsearch*@;{d}/l4.txt}}{{y}}{{n}}}}",
        "${if match_address{Mixed@Example.COM}{+caseful : mixed@example.com}{y}{n}}",
        "${if match_local_part{postmaster}{+ll}{y}{n}}",
        "${if match_local_part{Post}{+caseful:post}{y}{n}}",
        "${if match_ip{10.1.2.3}{+hl}{y}{n}}",
        "${if match_ip{::ffff:10.1.2.3}{10.0.0.0/8}{y}{n}}",
        "${if match_ip{2001:db8::1}{<; 2001:db8::/32}{y}{n}}",
        f"${{if match_ip{{10.1.2.3}}{{net24-lsearch;{d}/n.txt}}{{y}}{{n}}}}",
        f"${{if match_ip{{2001:db8::1}}{{net-lsearch;{d}/n.txt}}{{y}}{{n}}}}",
        f"${{if match_ip{{2001:db8::7}}{{net-iplsearch;{d}/ip.txt}}{{y}}{{n}}}}",
        "${if match_ip{10.1.2.3}{*.example : 10.1.2.3}{y}{n}}",
        "${if match_ip{10.1.2.3}{+ignore_unknown : *.example : 10.1.2.3}{y}{n}}",
        "${if match_ip{10.1.2.3}{10.1.2.0/33}{y}{n}}",
        "${if match_ip{127.0.0.1}{@[]}{y}{n}}",
        "${if match_ip{x}{1.2.3.4}{y}{n}}",
        "${if inlist{a}{A:b}{y}{n}}",
        "${if inlisti{a}{A:b}{y}{n}}",
        "${quote_pgsql:a'b\"c\\\\d}",
        "${quote_sqlite:it's}",
    ]


def test_same_as_exim(run_postern, tmp_path):
    if shutil.which("exim") is None:
        pytest.skip("Debian's exim (the reference) is not installed")
    need("cdb")
    need("exim_dbmbuild")
    make_files(tmp_path)
    conf = tmp_path / "exim.conf"
    conf.write_text(CONF)
    be(run_postern, "probe", config=CONF)  # skips if -be is not implemented
    diffs = []
    for e in expressions(tmp_path):
        # One expression per run: results may span lines.
        ours = run_postern("-be", e, config=CONF).stdout
        theirs = exim_be(conf, e)
        if ours != theirs:
            diffs.append((e, theirs, ours))
    assert diffs == []
