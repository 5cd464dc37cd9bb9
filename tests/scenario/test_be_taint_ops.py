"""Which operators pass the subject's taint on, recorded from Exim 4.96: a tainted value used as a
${readfile} name is refused ("Permission denied"); an untainted one is tried ("No such file").
Numbers, counts and digests of tainted data are untainted; text derived from it stays tainted."""
import pytest

UNTAINTED = ["strlen", "md5", "sha1", "sha2_512", "sha3", "nhash_5", "eval", "eval10", "base62",
             "base32", "randint", "listcount"]
TAINTED = ["lc", "hash_3", "length_2", "base64"]


@pytest.mark.parametrize("op", UNTAINTED + TAINTED)
def test_operator_taint(run_postern, tmp_path, op):
    msg = tmp_path / "msg.txt"
    msg.write_text("Subject: 12\n\nbody\n")
    r = run_postern("-bem", str(msg), "${readfile{/nonexist${%s:$h_subject:}}}" % op,
                    config="primary_hostname = a.example\n")
    assert r.returncode == 0, r.stderr
    want = "No such file or directory" if op in UNTAINTED else "Permission denied"
    assert want in r.stdout, r.stdout
