# The virtual board (host_tools/vboard.py) as the host tools see it: a pty that acts
# like a Pico's USB REPL. Plain mpremote (no `resume`) must work against it, its
# flash must be a folder nothing escapes, and a soft reset must come back the way a
# board does. CPython host side; the board is the MicroPython unix port.
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

sys.path.insert(0, os.path.join(ROOT, "tests"))

import tshark  # noqa: E402
from host_tools.vboard import VBoard, micropython_path  # noqa: E402

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


def need_tools():
    if not micropython_path() or not os.path.exists(MPREMOTE):
        if os.environ.get("CI") == "true":
            pytest.fail("micropython / mpremote missing (make venv installs them)")
        pytest.skip("micropython / mpremote missing (make venv installs them)")


def mpremote(dev, *args, timeout=60):
    r = subprocess.run([MPREMOTE, "connect", dev] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, "mpremote %s: %s%s" % (args, r.stdout, r.stderr)
    return r.stdout


def test_plain_mpremote_fs_run_soft_reset(tmp_path):
    need_tools()
    flash = tmp_path / "flash"
    src = tmp_path / "hello.py"
    src.write_text("import os\nprint('hello', os.getcwd(), sorted(os.listdir('/')))\n")
    with VBoard(flash=str(flash)) as vb:
        assert vb.device.startswith("/dev/pts/")
        assert "lib/" in mpremote(vb.device, "fs", "ls")
        mpremote(vb.device, "fs", "cp", str(src), ":main.py")
        mpremote(vb.device, "fs", "mkdir", ":lib/pkg")
        assert (flash / "main.py").read_text() == src.read_text()
        assert (flash / "lib" / "pkg").is_dir()
        # The board's / is the flash folder, and '..' never leaves it.
        out = mpremote(vb.device, "run", str(src))
        assert "hello / ['lib', 'main.py']" in out, out
        out = mpremote(vb.device, "exec", "print(sorted(__import__('os').listdir('/../..')))")
        assert "['lib', 'main.py']" in out, out
        boots = vb.boots
        mpremote(vb.device, "soft-reset")
        assert vb.boots > boots
        # statvfs reports the flash size, not the host disk's.
        out = mpremote(vb.device, "exec", "import os; s = os.statvfs('/'); print(s[0] * s[2])")
        assert out.split()[-1] == "1441792", out


def test_soft_reboot_runs_boot_and_main_and_friendly_banner(tmp_path):
    need_tools()
    import serial  # pyserial, as a terminal user would connect

    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "boot.py").write_text("print('boot.py ran')\n")
    (flash / "main.py").write_text("print('main.py ran')\nx_from_main = 42\n")
    with VBoard(flash=str(flash)) as vb:
        s = serial.Serial(vb.device, 115200, timeout=0.2)

        def read_until(token, limit=100):
            out = b""
            for _ in range(limit):
                out += s.read(4096)
                if token in out:
                    return out
            raise AssertionError("no %r in %r" % (token, out))

        first = read_until(b">>> ")
        assert b"boot.py ran\r\nmain.py ran\r\n" in first, first
        s.write(b"print(x_from_main)\r")
        assert b"42\r\n" in read_until(b"42\r\n>>> ")
        s.write(b"\x04")  # Ctrl-D in the friendly REPL: a soft reset
        again = read_until(b">>> ")
        assert again.lstrip(b"\r\n").startswith(b"MPY: soft reboot\r\n"), again
        assert b"boot.py ran\r\nmain.py ran\r\nMicroPython" in again, again
        s.close()


def test_board_reaches_host_side_peer_over_simulated_link(tmp_path):
    need_tools()
    flash = tmp_path / "flash"
    (flash / "lib").mkdir(parents=True)
    subprocess.run(["cp", "-r", os.path.join(ROOT, "lib", "spinet"), str(flash / "lib")],
                   check=True)
    (flash / "board.py").write_text(
        "import vboard, spinet\n"
        "def nic():\n"
        "    n = spinet.Interface(vboard.wire(b'\\x02\\x00\\x00\\x00\\x00\\x02'))\n"
        "    n.ifconfig(('192.0.2.2', '255.255.255.0', '192.0.2.1', '192.0.2.1'))\n"
        "    n.active(True)\n"
        "    return n\n")
    code = ("import board\nfrom spinet import socket\nnic = board.nic()\n"
            "print('ping', nic.ping('192.0.2.1', count=3))\n"
            "s = socket.socket()\ns.connect(('192.0.2.1', 7))\n"
            "s.sendall(b'x' * 3000)\nn = 0\n"
            "while n < 3000:\n    n += len(s.recv(1500))\n"
            "print('echoed', n)\ns.close()\n")
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        out = mpremote(vb.device, "exec", code)
        assert "echoed 3000" in out, out
        rtts = out.split("ping ")[1].split("\n")[0]
        assert "None" not in rtts, out
        assert vb.peer.served["echo_tcp"] == 1 and vb.peer.error is None


def _flash_with_spinet(tmp_path):
    flash = tmp_path / "flash"
    (flash / "lib").mkdir(parents=True)
    subprocess.run(["cp", "-r", os.path.join(ROOT, "lib", "spinet"), str(flash / "lib")],
                   check=True)
    return flash


# On the board: the emulated chip (its wire is the board's link by default), DHCP,
# a name from the peer's DNS, and a TCP echo whose bytes are checked.
_NET_CHECK = (
    "from boards import {chip} as B\nfrom spinet import socket\n"
    "nic = B.nic(hostname='vb')\nnic.ifconfig('dhcp')\nprint('addr', nic.ifconfig())\n"
    "print('ping', nic.ping('192.0.2.1', count=3))\n"
    "a = socket.getaddrinfo('echo.vboard.test', 7)[0][-1]\nprint('echo at', a)\n"
    "s = socket.socket()\ns.connect(a)\nsent = bytes(i % 251 for i in range({n}))\n"
    "got = b''\n"
    "for i in range(0, len(sent), 2000):\n    s.sendall(sent[i:i + 2000])\n"
    "    while len(got) < min(i + 2000, len(sent)):\n        got += s.recv(2048)\n"
    "print('echo ok' if got == sent else 'echo BAD', len(got))\ns.close()\n")


@pytest.mark.parametrize("chip", ["sim_w5500", "sim_enc28j60"])
def test_chip_gets_dhcp_lease_name_and_echo_from_peer(tmp_path, chip):
    need_tools()
    flash = _flash_with_spinet(tmp_path)
    pcap = tmp_path / "wire.pcap"
    with VBoard(flash=str(flash), board=chip, capture=str(pcap)) as vb:
        out = mpremote(vb.device, "exec", _NET_CHECK.format(chip=chip, n=4000))
        assert "addr ('192.0.2.2', '255.255.255.0', '192.0.2.1', '192.0.2.53')" in out, out
        assert "echo at ('192.0.2.1', 7)" in out, out
        assert "echo ok 4000" in out, out
        assert "None" not in out.split("ping ")[1].split("\n")[0], out
        assert ("ACK", "192.0.2.2") in vb.peer.dhcpd.sent
        assert [q[0] for q in vb.peer.dnsd.queries] == ["echo.vboard.test"]
        assert vb.peer.error is None
    # The pcap is the board's wire: DHCP, ICMP, DNS and the TCP echo, in that order.
    stacks = [p[0][0].split(":") for p in tshark.fields(pcap, "frame.protocols")]

    def first(proto):
        return min(i for i, st in enumerate(stacks) if proto in st)

    assert first("dhcp") < first("icmp") < first("dns") < first("tcp"), stacks
    assert tshark.count(pcap, "tcp.len > 0") >= 2


def test_lossy_link_still_delivers_and_capture_shows_retransmissions(tmp_path):
    need_tools()
    flash = _flash_with_spinet(tmp_path)
    pcap = tmp_path / "lossy.pcap"
    with VBoard(flash=str(flash), board="sim_w5500", capture=str(pcap), loss=0.05,
                seed=7) as vb:
        out = mpremote(vb.device, "exec", _NET_CHECK.format(chip="sim_w5500", n=60000),
                       timeout=120)
        assert "echo ok 60000" in out, out
        assert vb.peer.hub.lost > 0
    assert tshark.count(pcap, tshark.RETRANSMISSIONS) > 0


def test_ctrl_c_interrupts_a_main_py_that_never_returns(tmp_path):
    need_tools()
    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text("import time\nprint('serving')\nwhile True:\n"
                                   "    time.sleep_ms(10)\n")
    with VBoard(flash=str(flash)) as vb:
        # mpremote interrupts the program (Ctrl-C) and takes the raw REPL.
        out = mpremote(vb.device, "exec", "print(6 * 7)", timeout=30)
        assert out.strip().endswith("42"), out
