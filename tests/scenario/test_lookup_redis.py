"""redis lookups end to end against a real redis-server started on a loopback port in the test's
temp dir (facts §15 behaviour with Exim's reply-mapping bugs fixed)."""
import socket
import subprocess
import time

import pytest

from daemon_helpers import free_port

from lookup_helpers import be, need


@pytest.fixture
def redis_port(tmp_path):
    need("redis-server")
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait()


def test_redis(run_postern, redis_port):
    r = f"redis,servers=127.0.0.1::{redis_port}//"
    out = be(run_postern,
             f"${{lookup {r}{{set keyname ${{quote_redis:objvalue plus}}}}}}",
             f"${{lookup {r}{{get keyname}}}}",
             f"${{lookup {r}{{incr n}}}}",
             f"${{lookup {r}{{get nokey}}{{found}}{{not found}}}}")
    assert out == ["OK", "objvalue plus", "1", "not found"]


def test_redis_servers_option(run_postern, redis_port):
    """Servers from the redis_servers main option; ",servers=" may name one of them by host."""
    conf = f"primary_hostname = test.example\nredis_servers = 127.0.0.1::1// : 127.0.0.1::{redis_port}//\n"
    out = be(run_postern,
             "${lookup redis{set k2 v2}}",
             "${lookup redis{get k2}}",
             f"${{lookup redis,servers=127.0.0.1::{redis_port}{{get k2}}}}",
             "${lookup redis{lrange nolist 0 -1}{yes}{no}}",
             config=conf)
    assert out == ["OK", "v2", "v2", "no"]
