# The firmware (firmware/boot.py, main.py, netboot.py, config.json, examples) deployed
# with `python -m host_tools deploy` to the virtual board and used the way a person at
# a serial terminal would: reset, read the boot lines, use `nic` at the REPL, reach
# the app over the simulated Ethernet link, and keep the REPL when things go wrong.
import json
import os
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from host_tools import deploy  # noqa: E402
from host_tools.vboard import VBoard  # noqa: E402
from test_deploy import wait_booted  # noqa: E402
from test_vboard import need_tools  # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Term:
    """A serial terminal on the board's device (pyserial), every read bounded."""

    def __init__(self, dev):
        import serial

        self.s = serial.Serial(dev, 115200, timeout=0.1)
        self.seen = b""

    def read_until(self, token, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.seen += self.s.read(4096)
            i = self.seen.find(token)
            if i >= 0:
                out, self.seen = self.seen[:i + len(token)], self.seen[i + len(token):]
                return out.decode(errors="replace")
        raise AssertionError("no %r within %s s in %r" % (token, timeout, self.seen[-500:]))

    def write(self, data):
        self.s.write(data)

    def repl(self, line, timeout=30):
        self.write(line.encode() + b"\r")
        return self.read_until(b">>> ", timeout)

    def sync(self):
        """To the friendly REPL, past any prompts already on the way."""
        self.write(b"\r\x02")
        self.write(b"print('sy' + 'nced')\r")
        self.read_until(b"synced\r\n>>> ")

    def close(self):
        self.s.close()


def deploy_to(vb, tmp_path, cfg, board="sim_w5500"):
    wait_booted(vb.device)
    p = tmp_path / "cfg.json"
    p.write_text(json.dumps(cfg))
    assert deploy.deploy(vb.device, board, config=str(p)) == 0


def http_get(port, path="/", timeout=20):
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    c.sendall(("GET %s HTTP/1.0\r\n\r\n" % path).encode())
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        b = c.recv(4096)
        if not b:
            break
        data += b
    c.close()
    return data


def test_boot_brings_nic_up_and_main_serves_the_app(tmp_path, capsys):
    need_tools()
    hport = free_port()
    with VBoard(flash=str(tmp_path / "flash"), board="sim_w5500", forward=[(hport, 80)]) as vb:
        deploy_to(vb, tmp_path, {"dhcp": False, "app": "http_server",
                                 "app_args": {"port": 80, "max_requests": 1}})
        capsys.readouterr()
        t = Term(vb.device)
        try:
            t.sync()
            t.write(b"\x04")  # soft reset: boot.py, then main.py starts the app
            # (the virtual board holds the last few bytes of boot output back while it
            # looks for its end-of-boot marker: wait for the start of the line)
            out = t.read_until(b"app: http_server")
            assert "net: 192.0.2.2/24 gw 192.0.2.1 dns 192.0.2.1 via static\r\n" in out, out
            page = http_get(hport)
            assert page.startswith(b"HTTP/1.1 200 OK\r\n"), page[:200]
            assert b"ifconfig 192.0.2.2 255.255.255.0 192.0.2.1 192.0.2.1" in page
            # max_requests=1: the app returns, main.py ends, the REPL comes.
            t.read_until(b">>> ")
            out = t.repl("print('nic', nic is netboot.nic, nic.ifconfig()[0], "
                         "nic.ping('192.0.2.1', 2))")
            assert "nic True 192.0.2.2 [" in out and "None" not in out, out
        finally:
            t.close()


def test_repl_stays_up_without_board_file_and_with_a_broken_config(tmp_path, capsys):
    need_tools()
    flash = tmp_path / "flash"
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        deploy_to(vb, tmp_path, {"dhcp": False, "app": "udp_echo"})
        capsys.readouterr()
        os.remove(str(flash / "board.py"))
        t = Term(vb.device)
        try:
            t.sync()
            t.write(b"\x04")
            out = t.read_until(b">>> ")
            assert "net: down: no board file" in out, out
            assert "app: udp_echo not started: no network" in out, out
            assert "1 + 1 = 2" in t.repl("print('1 + 1 =', 1 + 1)")
            assert "nic None" in t.repl("print('nic', nic)")
            # A config that is not JSON: defaults are used, the board still boots.
            (flash / "config.json").write_text("{nope")
            (flash / "board.py").write_text(
                open(os.path.join(ROOT, "boards", "sim_w5500.py")).read())
            t.write(b"\x04")
            out = t.read_until(b">>> ", timeout=60)
            assert "is not valid JSON" in out, out
            # defaults: DHCP first (none on this link before the lead's peer has
            # it, then static) or a lease — either way one net: line and a REPL.
            assert "\r\nnet: 192.0.2." in out, out
        finally:
            t.close()


def test_dhcp_from_the_peer_names_and_ctrl_c_stops_the_app(tmp_path, capsys):
    need_tools()
    with VBoard(flash=str(tmp_path / "flash"), board="sim_enc28j60") as vb:
        deploy_to(vb, tmp_path, {"dhcp": True, "dhcp_timeout_s": 20, "hostname": "fw-test",
                                 "app": "udp_echo"}, board="sim_enc28j60")
        capsys.readouterr()
        t = Term(vb.device)
        try:
            t.sync()
            t.write(b"\x04")
            out = t.read_until(b"app: udp_echo", timeout=60)
            # The peer's DHCP server: pool from 192.0.2.2, router .1, DNS .53.
            assert "net: 192.0.2.2/24 gw 192.0.2.1 dns 192.0.2.53 via dhcp\r\n" in out, out
            time.sleep(0.5)
            t.write(b"\x03")  # Ctrl-C: the app stops, the REPL comes
            out = t.read_until(b">>> ", timeout=20)
            assert "app: udp_echo stopped (Ctrl-C)" in out, out
            t.sync()
            out = t.repl("from spinet import socket; "
                         "print('ai', socket.getaddrinfo('echo.vboard.test', 7)[0][-1])")
            assert "ai ('192.0.2.1', 7)" in out, out
            out = t.repl("print('lease', nic.ipconfig('has_dhcp4'), nic.hostname)")
            assert "lease True fw-test" in out, out
        finally:
            t.close()


def test_deploy_interrupts_a_running_app(tmp_path, capsys):
    need_tools()
    with VBoard(flash=str(tmp_path / "flash"), board="sim_w5500") as vb:
        deploy_to(vb, tmp_path, {"dhcp": False, "app": "udp_echo"})
        t = Term(vb.device)
        try:
            t.sync()
            t.write(b"\x04")
            t.read_until(b"app: udp_echo", timeout=60)
        finally:
            t.close()
        # main.py is serving forever; deploy's Ctrl-C stops it and finds all in place.
        capsys.readouterr()
        t0 = time.monotonic()
        assert deploy.deploy(vb.device, "sim_w5500") == 0
        out = capsys.readouterr().out
        assert "files: 0 copied" in out and "the board is up to date" in out, out
        assert time.monotonic() - t0 < 15
