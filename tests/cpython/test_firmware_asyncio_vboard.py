# firmware/examples/asyncio_http_server.py on the virtual board (MicroPython unix port,
# emulated W5500 on the fake SPI bus, simulated link to host_tools/peer.py): deployed
# with host_tools deploy, started by main.py, reached through the peer's forward of a
# host TCP port, several pages fetched at once. The server stops after max_requests
# and main.py gives the REPL back.
import hashlib
import threading

from host_tools.vboard import VBoard
from test_firmware_vboard import Term, deploy_to, free_port, http_get
from test_vboard import need_tools

SIZES = [20_000, 35_000, 50_000, 8_000, 0]  # /bytes/N; plus one "/" page


def pattern(n):
    return bytes(i % 251 for i in range(n))


def test_asyncio_http_server_example_answers_concurrent_clients(tmp_path, capsys):
    need_tools()
    hport = free_port()
    nreq = len(SIZES) + 1
    with VBoard(flash=str(tmp_path / "flash"), board="sim_w5500", forward=[(hport, 80)]) as vb:
        deploy_to(vb, tmp_path, {"dhcp": False, "app": "asyncio_http_server",
                                 "app_args": {"port": 80, "max_requests": nreq}})
        capsys.readouterr()
        t = Term(vb.device)
        try:
            t.sync()
            t.write(b"\x04")  # soft reset: boot.py, then main.py starts the app
            t.read_until(b"app: asyncio_http_server")
            got = {}
            paths = ["/bytes/%d" % n for n in SIZES] + ["/"]

            def fetch(p):
                got[p] = http_get(hport, p, timeout=60)

            threads = [threading.Thread(target=fetch, args=(p,)) for p in paths]
            for th in threads:
                th.start()
            for th in threads:
                th.join(90)
            assert not any(th.is_alive() for th in threads), "a fetch hung"
            for n in SIZES:
                resp = got["/bytes/%d" % n]
                head, _, body = resp.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
                assert b"Content-Length: %d\r\n" % n in head, head
                assert len(body) == n and hashlib.sha256(body).digest() == \
                    hashlib.sha256(pattern(n)).digest(), (n, len(body))
            head, _, body = got["/"].partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Server: spinet-asyncio" in head
            assert body.startswith(b"spinet asyncio_http_server\naddress 192.0.2.2\n"), body
            # Every request logged by the app, then the REPL once max_requests is done.
            out = t.read_until(b">>> ", timeout=60)
            for n in SIZES:
                assert " 200 %d\r\n" % n in out, out
        finally:
            t.close()
