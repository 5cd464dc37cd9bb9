"""The <= line's L and M8S= fields for SMTP input (log_selector +pipelining +8bitmime), as
Exim 4.96's daemon writes them (observed): "L" when PIPELINING was offered, then "." when
PIPECONNECT was offered too, then "-" unless a MAIL or RCPT arrived with more input already
waiting; M8S= is 8 for BODY=8BITMIME, 7 for BODY=7BIT and 0 without BODY=."""
import os
import re
import shutil
import socket
import tempfile
import time

from daemon_helpers import Daemon, free_ports, wait_for


def session(port, chunks):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.recv(1000)
    for c in chunks:
        s.sendall(c.encode())
        time.sleep(0.3)
        s.recv(10000)
    s.close()


BODY = "Subject: x\r\n\r\nhi\r\n.\r\n"


def test_l_and_m8s_fields(postern_bin):
    port, = free_ports(1)
    # The sessions run as the exim user: the spool must be reachable (pytest's tmp_path is not).
    top = tempfile.mkdtemp(prefix="postern-arrival-")
    os.chmod(top, 0o755)
    d = Daemon(postern_bin, top, f"daemon_smtp_ports = {port}\nlocal_interfaces = 127.0.0.1\n"
               "primary_hostname = mx.local\n"
               "log_selector = +pipelining +8bitmime\nacl_smtp_rcpt = accept\nqueue_only = true\n")
    d.start(wait_port=port)
    try:
        session(port, ["ehlo x\r\n", "mail from:<a@b.example> BODY=8BITMIME\r\nrcpt to:<c@d.example>\r\ndata\r\n",
                       BODY, "quit\r\n"])
        session(port, ["ehlo x\r\n", "mail from:<a@b.example> BODY=7BIT\r\n", "rcpt to:<c@d.example>\r\n",
                       "data\r\n", BODY, "quit\r\n"])
        session(port, ["ehlo x\r\n", "mail from:<a@b.example>\r\n", "rcpt to:<c@d.example>\r\ndata\r\n",
                       BODY, "quit\r\n"])
        session(port, ["helo x\r\n", "mail from:<a@b.example>\r\n", "rcpt to:<c@d.example>\r\n", "data\r\n",
                       BODY, "quit\r\n"])
        assert wait_for(lambda: d.mainlog.count(" <= ") == 4), d.mainlog + d.paniclog
        fields = [re.sub(r"^.* <= a@b\.example H=\(x\) \[127\.0\.0\.1\] ", "", l)
                  for l in d.mainlog.splitlines() if " <= " in l]
    finally:
        d.stop()
        shutil.rmtree(top)
    assert fields == ["P=esmtp L. S=190 M8S=8", "P=esmtp L.- S=190 M8S=7", "P=esmtp L. S=190 M8S=0",
                      "P=smtp S=189 M8S=0"]
