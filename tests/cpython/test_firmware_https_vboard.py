# firmware/examples/https_client.py as a firmware app on the virtual board: deployed
# with `python -m host_tools deploy`, the CA written to the board's flash as /ca.der,
# DHCP and DNS from the board's peer (peer.vboard.test), and the peer relaying the
# board's connection to port 4433 on to `openssl s_server` on the host's loopback
# (VBoard(reverse=...)). The board prints what it fetched; the test compares.
import os
import shutil
import socket
import subprocess
import time

import pytest

from host_tools.vboard import VBoard
from test_firmware_vboard import Term, deploy_to, free_port
from test_tls_realpeer import make_pki
from test_vboard import need_tools

NAME = "peer.vboard.test"  # the board's DNS (the peer's) answers it with 192.0.2.1
PEER_PORT = 4433


def _need_openssl():
    if shutil.which("openssl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("openssl missing (see .ci/run)")
        pytest.skip("openssl missing (apt-get install openssl)")


def test_https_client_app_on_the_virtual_board(tmp_path, capsys):
    need_tools()
    _need_openssl()
    os.makedirs(str(tmp_path / "pki"))
    pki = make_pki(str(tmp_path / "pki"), host=NAME)
    hport = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % hport,
                            "-cert", "srv.pem", "-key", "srv.key", "-HTTP"], cwd=pki,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        end = time.monotonic() + 10
        while True:  # until s_server takes connections
            try:
                socket.create_connection(("127.0.0.1", hport), timeout=1).close()
                break
            except OSError:
                assert srv.poll() is None and time.monotonic() < end, "s_server did not start"
                time.sleep(0.05)
        flash = tmp_path / "flash"
        url = "https://%s:%d/blob.http" % (NAME, PEER_PORT)
        with VBoard(flash=str(flash), board="sim_w5500",
                    reverse=[(PEER_PORT, hport)]) as vb:
            deploy_to(vb, tmp_path, {"dhcp": True, "dhcp_timeout_s": 20, "app": "https_client",
                                     "app_args": {"url": url, "ca": "/ca.der"}})
            shutil.copy(os.path.join(pki, "ca.der"), str(flash / "ca.der"))
            capsys.readouterr()
            t = Term(vb.device)
            try:
                t.sync()
                t.write(b"\x04")  # soft reset: boot.py, then main.py starts the app
                out = t.read_until(b">>> ", timeout=60)  # main returns, the REPL comes
            finally:
                t.close()
            assert "net: 192.0.2.2/24 gw 192.0.2.1 dns 192.0.2.53 via dhcp" in out, out
            assert "app: https_client" in out, out
            size = os.path.getsize(os.path.join(pki, "blob.bin"))
            assert "https 200 %d\r\n" % size in out, out
            assert vb.peer.served["reversed"] >= 1, vb.peer.served
    finally:
        srv.kill()
        srv.wait(10)
