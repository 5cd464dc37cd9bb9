"""pgsql lookups end to end against a real PostgreSQL started by the test (initdb into the test's
temp dir, loopback port; run as the postgres user when the tests run as root)."""
import os
import pathlib
import shutil
import subprocess
import tempfile

import pytest

from daemon_helpers import free_port

from lookup_helpers import be


@pytest.fixture
def pg_port():
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    # Not pytest's tmp_path: its parents are private to root, and postgres must reach the dir.
    tmp_path = pathlib.Path(tempfile.mkdtemp(prefix="postern-pg-"))
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root and runuser is not available to drop to postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(tmp_path, user="postgres")
    port = free_port()
    data = tmp_path / "data"
    r = subprocess.run(prefix + ["initdb", "-N", "-D", str(data), "-A", "trust", "-U", "pgu"], capture_output=True)
    if r.returncode != 0:
        shutil.rmtree(tmp_path, ignore_errors=True)
        pytest.skip("initdb failed: " + r.stderr.decode(errors="replace")[-200:])
    opts = f"-p {port} -k {tmp_path} -c listen_addresses=127.0.0.1 -c fsync=off"
    r = subprocess.run(prefix + ["pg_ctl", "-D", str(data), "-o", opts, "-l", str(tmp_path / "pg.log"), "-w",
                                 "start"], capture_output=True)
    if r.returncode != 0:
        shutil.rmtree(tmp_path, ignore_errors=True)
        pytest.skip("postgres did not start")
    yield port
    subprocess.run(prefix + ["pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_pgsql(run_postern, pg_port):
    conf = f"primary_hostname = test.example\nhide pgsql_servers = 127.0.0.1::{pg_port}/postgres/pgu/\n"
    out = be(run_postern,
             "${lookup pgsql{create table users (id text, home text, name text)}}",
             "${lookup pgsql{insert into users values ('userx', '/home/userx', 'Mister X')}}",
             "${lookup pgsql{select home,name from users where id='userx'}}",
             "${lookup pgsql{select name from users where id='${quote_pgsql:o'neil}'}{$value}{none}}",
             "${lookup pgsql{select name from users where id='userx'}{$value}fail}",
             config=conf)
    assert out == ["0", "1", 'home=/home/userx name="Mister X" ', "none", "Mister X"]
