"""End-to-end file and database lookups through `postern -be`; expected output is what Exim 4.96
prints for the same expansions (checked with Debian's exim4 where it has the lookup)."""
import sqlite3

from lookup_helpers import be, need, sh


def test_lsearch_family(run_postern, tmp_path):
    f = tmp_path / "l.txt"
    f.write_text('foo: bar\n"quoted key": qv\nmulti: line1\n  line2\n*.wild.com: wildval\n*: star\n')
    out = be(run_postern,
             f"${{lookup{{foo}}lsearch{{{f}}}}}",
             f"${{lookup{{quoted key}}lsearch{{{f}}}}}",
             f"${{lookup{{multi}}lsearch{{{f}}}}}",
             f"${{lookup{{x}}lsearch*{{{f}}}}}",
             f"${{lookup{{a.b.wild.com}}partial-lsearch{{{f}}}}}",
             f"${{lookup{{a.b.wild.com}}nwildlsearch{{{f}}}}}",
             f"${{lookup{{foo}}lsearch,ret=key{{{f}}}}}",
             f"${{lookup{{nothere}}lsearch{{{f}}}{{y}}{{n}}}}",
             "${lookup{x}lsearch{/nonexist}}",
             f"${{lookup{{x}}nosuch{{{f}}}}}",
             f"${{lookup{{x}}partial(ab)lsearch{{{f}}}}}")
    assert out == ["bar", "qv", "line1 line2", "star", "wildval", "wildval", "foo", "n",
                   "Failed: failed to open /nonexist for linear search: No such file or directory",
                   'Failed: unknown lookup type "nosuch"',
                   'Failed: format error in lookup type "partial(ab)lsearch"']


def test_iplsearch_dsearch(run_postern, tmp_path):
    f = tmp_path / "ip.txt"
    f.write_text('1.2.3.4: one\n10.0.0.0/8 ten\n"2001:db8::/32": doc\n')
    d = tmp_path / "dir"
    d.mkdir()
    (d / "entry").write_text("")
    out = be(run_postern,
             f"${{lookup{{10.9.8.7}}iplsearch{{{f}}}}}",
             f"${{lookup{{2001:db8::1}}iplsearch,ret=full{{{f}}}}}",
             f"${{lookup{{entry}}dsearch{{{d}}}}}",
             f"${{lookup{{entry}}dsearch,ret=full{{{d}}}}}",
             f"${{lookup{{a/b}}dsearch{{{d}}}}}")
    assert out == ["ten", "2001:db8::/32: doc", "entry", f"{d}/entry",
                   'Failed: lookup of "a/b" gave DEFER: key for dsearch lookup contains a slash: a/b']


def test_cdb_dbm_lmdb(run_postern, tmp_path):
    need("cdb")
    need("exim_dbmbuild")
    need("mdb_load")
    src = tmp_path / "src.txt"
    src.write_text("alpha: one\nbeta: two words\n")
    sh(f"exim_dbmbuild {src} {tmp_path}/db")
    cdbin = tmp_path / "cdb.in"
    cdbin.write_text("+5,3:alpha->one\n\n")
    sh(f"cdb -c {tmp_path}/t.cdb < {cdbin}")
    dump = tmp_path / "lm.txt"
    dump.write_text("VERSION=3\nformat=print\ntype=btree\nHEADER=END\n first\n 1\n second\n A=1 B=2\nDATA=END\n")
    sh(f"mdb_load -n -f {dump} {tmp_path}/lm.mdb")
    out = be(run_postern,
             f"${{lookup{{beta}}dbm{{{tmp_path}/db}}}}",
             f"${{lookup{{beta}}dbmnz{{{tmp_path}/db}}{{y}}{{n}}}}",
             f"${{lookup{{alpha}}cdb{{{tmp_path}/t.cdb}}}}",
             f"${{lookup{{first}}lmdb{{{tmp_path}/lm.mdb}}}}",
             f"${{lookup{{second}}lmdb{{{tmp_path}/lm.mdb}}{{${{extract{{A}}{{$value}}}}}}fail}}",
             f"${{lookup{{xxx}}lmdb{{{tmp_path}/lm.mdb}}{{$value}}{{failure value}}}}",
             f"${{lookup{{xxx}}lmdb{{{tmp_path}/lm.mdb}}{{$value}}fail}}")
    assert out == ["two words", "n", "one", "1", "1", "failure value",
                   'Failed: "lookup" failed and "fail" requested']


def test_sqlite_json_passwd(run_postern, tmp_path):
    db = tmp_path / "s.db"
    con = sqlite3.connect(db)
    con.executescript("create table t(a,b); insert into t values('k','v'); insert into t values('sp ace','x');")
    con.commit()
    con.close()
    j = tmp_path / "j.json"
    j.write_text('{"a": {"b": "bee", "arr": [1, "two"]}}')
    out = be(run_postern,
             f"${{lookup sqlite{{{db} select b from t where a='k'}}}}",
             f"${{lookup sqlite{{{db} select a,b from t where a='sp ace'}}}}",
             f"${{lookup sqlite{{{db} select b from t where a='${{quote_sqlite:it's}}'}}{{y}}{{n}}}}",
             f"${{lookup{{a:arr:1}}json{{{j}}}}}",
             "${lookup passwd{root}{$value}{n}}",
             f"${{lookup{{root}}passwd{{{j}}}}}")
    assert out == ["v", 'a="sp ace" b=x ', "n", "two", "*:0:0:root:/root:/bin/bash",
                   'Failed: a single key was given for lookup type "passwd", which is not a single-key lookup type']
