# `python -m host_tools deploy` against the virtual board (host_tools/vboard.py): what
# it copies, what it leaves alone, what it removes, and how it fails. The board is the
# MicroPython unix port behind a pty, so mpy-cross's output is loaded for real.
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from host_tools import deploy  # noqa: E402
from host_tools.__main__ import main as host_main  # noqa: E402
from host_tools.vboard import VBoard  # noqa: E402
from test_vboard import MPREMOTE, need_tools  # noqa: E402

STATIC = "('192.0.2.2', '255.255.255.0', '192.0.2.1', '192.0.2.1')"


def quiet_config(tmp_path):
    """A config that makes boot.py quick and main.py idle: static, no app."""
    p = tmp_path / "cfg.json"
    p.write_text(json.dumps({"dhcp": False, "app": ""}))
    return str(p)


def wait_booted(dev, timeout=20):
    """Until the virtual board's first boot has reached its REPL. (A Ctrl-C that
    reaches the vboard in the first moments of a boot can stop its boot script before
    the end-of-boot marker, and the vboard then holds the host's bytes for good: a
    vboard race, not a board behaviour; see the report of the deploy branch.)"""
    import serial

    s = serial.Serial(dev, 115200, timeout=0.1)
    try:
        seen = b""
        end = time.monotonic() + timeout
        while b">>> " not in seen:
            assert time.monotonic() < end, "the virtual board did not boot: %r" % seen
            seen += s.read(4096)
    finally:
        s.close()


def run_deploy(capsys, *args):
    rc = host_main(["deploy"] + list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def copied(out):
    line = [ln for ln in out.splitlines() if ln.startswith("files: ")]
    assert len(line) == 1, out
    f = line[0].replace(",", "").split()
    return int(f[1]), int(f[3]), int(f[5])  # copied, unchanged, removed


def board_files(flash, sub="lib/spinet"):
    top = os.path.join(str(flash), sub)
    out = set()
    for d, _, files in os.walk(top):
        for f in files:
            out.add(os.path.relpath(os.path.join(d, f), top))
    return out


def mpremote(dev, *args, timeout=60):
    r = subprocess.run([MPREMOTE, "connect", dev] + list(args), capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, "mpremote %s: %s%s" % (args, r.stdout, r.stderr)
    return r.stdout


def expected_modules(ext):
    return {rel[:-3] + ext for rel, _ in deploy.spinet_sources()}


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """deploy working from a copy of the repository, so a test may edit a module."""
    r = tmp_path / "repo"
    for d in ("lib", "boards", "firmware"):
        shutil.copytree(os.path.join(ROOT, d), str(r / d),
                        ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(deploy, "REPO", str(r))
    return r


def test_deploy_copies_changed_only_and_removes_stale(tmp_path, capsys, repo_copy):
    need_tools()
    cfg = quiet_config(tmp_path)
    flash = tmp_path / "flash"
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        wait_booted(vb.device)
        dev = vb.device
        rc, out, err = run_deploy(capsys, "--port", dev, "--board", "sim_w5500",
                                  "--config", cfg)
        assert rc == 0, err
        mods = expected_modules(".mpy")
        # board boot main, netboot, the socket shim, apps, cfg
        n_items = len(mods) + 3 + 1 + 1 + len(deploy.examples()) + 1
        assert copied(out) == (n_items, 0, 0), out
        assert board_files(flash) == mods
        shim = (repo_copy / "firmware" / "socket.py").read_text()
        assert (flash / "lib" / "socket.py").read_text() == shim
        # The size table: every module with its .py and .mpy size, and the total.
        for rel, src in deploy.spinet_sources():
            mpy = flash / "lib" / "spinet" / (rel[:-3] + ".mpy")
            row = "/lib/spinet/%s %d %d copy" % (rel[:-3] + ".mpy", os.path.getsize(src),
                                                 mpy.stat().st_size)
            assert row in " ".join(out.split()), (row, out)
        total = sum(os.path.getsize(str(flash / "lib" / "spinet" / m)) for m in mods)
        assert " ".join(["total", str(sum(os.path.getsize(s) for _, s in
                                          deploy.spinet_sources())), str(total)]) in \
            " ".join(out.split()), out
        assert "arch x64" in out and ".mpy v6.3" in out and "flash free after:" in out
        assert "spinet/drivers/tap.py" in out and "tap.mpy" not in out
        assert (flash / "board.py").read_text() == (repo_copy / "boards" / "sim_w5500.py").read_text()
        assert json.loads((flash / "config.json").read_text()) == {"dhcp": False, "app": ""}
        assert not (flash / "lib" / "boards").exists()  # the vboard provides `boards`

        # Again: nothing differs, nothing is copied (and the config is kept).
        rc, out, err = run_deploy(capsys, "--port", dev, "--board", "sim_w5500")
        assert rc == 0, err
        assert copied(out) == (0, n_items - 1, 0), out
        assert "keeping the board's /config.json" in out
        assert json.loads((flash / "config.json").read_text()) == {"dhcp": False, "app": ""}

        # One module changed: one file copied.
        with open(str(repo_copy / "lib" / "spinet" / "udp.py"), "a") as f:
            f.write("\n_DEPLOY_TEST = 1\n")
        rc, out, err = run_deploy(capsys, "--port", dev, "--board", "sim_w5500")
        assert rc == 0, err
        assert copied(out) == (1, n_items - 2, 0), out
        assert "/lib/spinet/udp.mpy" in [ln.split()[0] for ln in out.splitlines()
                                         if ln.endswith(" copy")]

        # --source: the .py go over, every .mpy is stale and removed.
        rc, out, err = run_deploy(capsys, "--port", dev, "--board", "sim_w5500", "--source")
        assert rc == 0, err
        assert board_files(flash) == expected_modules(".py")
        assert copied(out)[2] == len(mods), out
        # ...and back to .mpy: no .py is left to be imported before its .mpy.
        rc, out, err = run_deploy(capsys, "--port", dev, "--board", "sim_w5500")
        assert rc == 0, err
        assert board_files(flash) == mods
        assert copied(out)[0] == len(mods) and copied(out)[2] == len(mods), out

        # On the board: spinet imports from .mpy, and the board file brings a NIC up.
        code = ("import spinet, board\nprint('file', spinet.__file__)\n"
                "n = board.nic(ifconfig=%s)\nprint('ping', n.ping('192.0.2.1', 3))\n" % STATIC)
        got = mpremote(dev, "resume", "exec", code)
        assert "file " in got and got.split("file ")[1].split()[0].endswith("spinet/__init__.mpy"), got
        rtts = got.split("ping ")[1].splitlines()[0]
        assert rtts.startswith("[") and "None" not in rtts, got


def test_deploy_enc28j60_and_a_real_board_layout(tmp_path, capsys):
    need_tools()
    cfg = quiet_config(tmp_path)
    flash = tmp_path / "flash"
    with VBoard(flash=str(flash), board="sim_enc28j60") as vb:
        wait_booted(vb.device)
        # A real board's layout first: boards/__init__ and common go to /lib/boards.
        rc, out, err = run_deploy(capsys, "--port", vb.device, "--board", "pico_enc28j60",
                                  "--config", cfg)
        assert rc == 0, err
        assert board_files(flash, "lib/boards") == {"__init__.mpy", "common.mpy"}
        assert (flash / "board.py").read_text() == open(
            os.path.join(ROOT, "boards", "pico_enc28j60.py")).read()
        # The sim board: /lib/boards would shadow the virtual board's package: removed.
        rc, out, err = run_deploy(capsys, "--port", vb.device, "--board", "sim_enc28j60",
                                  "--app", "udp_echo")
        assert rc == 0, err
        assert not (flash / "lib" / "boards").exists(), out
        # unchanged: the modules, boot, main, netboot, the socket shim, udp_echo
        assert copied(out) == (1, len(expected_modules(".mpy")) + 5, 2), out
        code = ("import spinet, board\nprint('file', spinet.__file__)\n"
                "n = board.nic(ifconfig=%s)\nprint('ping', n.ping('192.0.2.1', 3))\n" % STATIC)
        got = mpremote(vb.device, "resume", "exec", code)
        assert got.split("file ")[1].split()[0].endswith(".mpy"), got
        assert "None" not in got.split("ping ")[1].splitlines()[0], got


def test_mpy_version_mismatch_is_refused(tmp_path, capsys, monkeypatch):
    need_tools()
    # The board (unix port 1.28) loads v6.3; pretend this mpy-cross emits v6.1.
    monkeypatch.setattr(deploy, "mpy_cross_version", lambda: (6, 1))
    flash = tmp_path / "flash"
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        wait_booted(vb.device)
        rc, out, err = run_deploy(capsys, "--port", vb.device, "--board", "sim_w5500")
        assert rc == 1
        assert "mpy version mismatch" in err and "v6.3" in err and "v6.1" in err, err
        assert "--source" in err
        assert os.listdir(str(flash / "lib")) == [] and not (flash / "boot.py").exists()
        # --source needs no mpy-cross at all.
        rc, out, err = run_deploy(capsys, "--port", vb.device, "--board", "sim_w5500",
                                  "--source", "--config", quiet_config(tmp_path))
        assert rc == 0, err
        assert board_files(flash) == expected_modules(".py")


def test_not_enough_flash_copies_nothing(tmp_path, capsys):
    need_tools()
    flash = tmp_path / "flash"
    with VBoard(flash=str(flash), board="sim_w5500", flash_size=64 * 1024) as vb:
        wait_booted(vb.device)
        rc, out, err = run_deploy(capsys, "--port", vb.device, "--board", "sim_w5500")
        assert rc == 1
        # free: 64 KB less the /lib folder's block; need: whole blocks of what it would copy
        m = re.search(r"not enough flash: need (\d+) bytes .*free (\d+) bytes", err)
        assert m, err
        assert int(m.group(2)) == 64 * 1024 - 4096 and int(m.group(1)) > int(m.group(2)), err
        assert int(m.group(1)) % 4096 == 0
        assert os.listdir(str(flash / "lib")) == [] and sorted(os.listdir(str(flash))) == ["lib"]


def test_no_board_fails_fast(tmp_path, capsys):
    need_tools()
    t0 = time.monotonic()
    rc, out, err = run_deploy(capsys, "--port", str(tmp_path / "ttyACM9"), "--board",
                              "pico_w5500")
    assert rc == 1 and "no board" in err and "does not exist" in err, err
    assert time.monotonic() - t0 < 10
    # A pty that nobody answers on (held open here, so writes do not fail).
    master, slave = pty.openpty()
    try:
        t0 = time.monotonic()
        rc, out, err = run_deploy(capsys, "--port", os.ttyname(slave), "--board",
                                  "pico_w5500")
        assert rc == 1 and "no board answers the raw REPL" in err, err
        assert time.monotonic() - t0 < 10
    finally:
        os.close(master)
        os.close(slave)


def test_cli_dry_run_changes_nothing(tmp_path):
    need_tools()
    flash = tmp_path / "flash"
    with VBoard(flash=str(flash), board="sim_w5500") as vb:
        wait_booted(vb.device)
        r = subprocess.run([sys.executable, "-m", "host_tools", "deploy", "--port", vb.device,
                            "--board", "sim_w5500", "--dry-run"], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "dry run: nothing changed" in r.stdout and "spinet total" in r.stdout
        assert sorted(os.listdir(str(flash))) == ["lib"] and os.listdir(str(flash / "lib")) == []


@pytest.mark.parametrize("kind", ["sha256", "crc32"])
def test_board_and_host_hash_alike(tmp_path, kind):
    # The probe's hashes (computed by MicroPython) must equal deploy's host-side ones,
    # also on a board without hashlib (size + CRC-32), or nothing would ever be
    # "unchanged".
    need_tools()
    from host_tools.vboard import micropython_path

    top = tmp_path / "t"
    (top / "sub").mkdir(parents=True)
    files = {"a.py": b"", "sub/b.mpy": bytes(range(256)) * 9, "sub/c.txt": b"x" * 513}
    for name, data in files.items():
        (top / name).write_bytes(data)
    code = "ROOTS = [%r, %r]\nDIRS = [%r]\n%s" % (str(top), str(tmp_path / "missing"),
                                                    str(tmp_path), deploy.PROBE)
    if kind == "crc32":
        code = code.replace("    import hashlib\n", "    raise ImportError\n")
    r = subprocess.run([micropython_path(), "-c", code], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    st = deploy.parse_probe(r.stdout)
    assert st.dirs == {str(tmp_path), str(top), str(top / "sub")}
    assert set(st.files) == {str(top / n) for n in files}
    for name, data in files.items():
        size, h = st.files[str(top / name)]
        assert h.startswith(kind + ":") and size == len(data)
        assert deploy.file_hash(str(top / name), h) == (size, h), name
    assert st.impl == "micropython" and st.mpy >= 0 and st.blocks > 0


def test_bytecode_deploy_leaves_out_native_code(tmp_path):
    # --bytecode strips `@micropython.native` (native code loaded from flash files sits
    # in a board's RAM): the modules that have it compile smaller for a Pico
    # (armv6m), line for line the same source otherwise; the others are unchanged.
    native, saved = [], 0
    for rel, src in deploy.spinet_sources():
        with open(src) as f:
            text = f.read()
        stripped = deploy.strip_native(text)
        assert not deploy.NATIVE_LINE.search(stripped), rel
        assert stripped.count("\n") == text.count("\n"), rel
        a, b = str(tmp_path / "a.mpy"), str(tmp_path / "b.mpy")
        deploy.compile_mpy(src, a, "armv6m", rel)
        deploy.compile_mpy(deploy.bytecode_copy(src, str(tmp_path), rel), b, "armv6m", rel)
        if stripped != text:
            native.append(rel)
            assert os.path.getsize(b) < os.path.getsize(a), rel
            saved += os.path.getsize(a) - os.path.getsize(b)
        else:
            assert os.path.getsize(b) == os.path.getsize(a), rel
    print("native code in %s: %d bytes of armv6m .mpy" % (", ".join(native), saved))
    assert {"tcp.py", "iface.py", "ring.py"} <= set(native), native
