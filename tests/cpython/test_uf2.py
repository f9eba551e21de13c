# `python -m host_tools flash`: a UF2 onto a Pico in BOOTSEL mode. The drive is a
# temp folder with the bootrom's INFO_UF2.TXT; the board that "comes back" is a
# virtual board started when the file lands on the drive, reached through a port
# path (a symlink to its pty) that does not exist until then, as /dev/ttyACM0 does not.
import os
import struct
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from host_tools import uf2  # noqa: E402
from host_tools.vboard import VBoard  # noqa: E402
from test_vboard import need_tools  # noqa: E402

RP2040 = 0xE48BFF56
ABSOLUTE = 0xE48BFF57
ARM_S = 0xE48BFF59
RISCV = 0xE48BFF5A
INFO_RP2040 = "UF2 Bootloader v3.0\r\nModel: Raspberry Pi RP2\r\nBoard-ID: RPI-RP2\r\n"
INFO_RP2350 = "UF2 Bootloader v1.0\nModel: Raspberry Pi RP2350\nBoard-ID: RP2350\n"
OLD_BANNER = b"MicroPython v1.19.1 on 2022-06-18; Raspberry Pi Pico with RP2040"


def blocks(payload, family, addr=0x10000000, flags=uf2.FLAG_FAMILY_PRESENT, size=256):
    """UF2 blocks carrying payload, `size` bytes each (the real tools use 256)."""
    chunks = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    out = b""
    for i, c in enumerate(chunks):
        head = struct.pack("<8I", uf2.MAGIC0, uf2.MAGIC1, flags, addr + i * size, len(c), i,
                           len(chunks), family)
        out += head + c.ljust(476, b"\x00") + struct.pack("<I", uf2.MAGIC_END)
    return out


def firmware(banner, n=3000):
    """Fake firmware: filler, then the banner as a NUL-terminated C string placed
    across a block boundary, then more filler."""
    pre = bytes((i * 7) & 0xFF for i in range(250)) + b"\x00"
    return pre + banner + b"\x00" + bytes(range(256)) * (n // 256)


def board_banner():
    """The banner the virtual board prints (the unix port's own)."""
    with VBoard() as vb:
        tag, date, rest = uf2.board_banner(vb.device, 10)
    return ("MicroPython %s on %s; %s" % (tag, date, rest)).encode()


def drive(tmp_path, info, name="RPI-RP2"):
    d = tmp_path / name
    d.mkdir()
    (d / "INFO_UF2.TXT").write_text(info)
    return d


def run(*args, timeout=60):
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "host_tools", "flash"] + [str(a) for a in args],
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr, time.monotonic() - t0


class Bootrom(threading.Thread):
    """Plays the bootrom: once a .uf2 lands on the drive (all of it), the drive goes
    away and the board comes back as a virtual board behind `port`."""

    def __init__(self, drv, port, size, limit=60):
        threading.Thread.__init__(self, daemon=True)
        self.drv, self.port, self.size, self.limit = drv, port, size, limit
        self.vb = None
        self.landed = None
        self.ready = threading.Event()
        self.done = threading.Event()

    def run(self):
        end = time.monotonic() + self.limit
        while time.monotonic() < end and not self.done.is_set():
            for f in os.listdir(self.drv):
                p = os.path.join(self.drv, f)
                if f.endswith(".uf2") and os.path.getsize(p) == self.size:
                    self.landed = open(p, "rb").read()
                    for g in os.listdir(self.drv):
                        os.remove(os.path.join(self.drv, g))
                    self.vb = VBoard()
                    self.vb.start()
                    os.symlink(self.vb.device, self.port)
                    self.ready.set()
                    self.done.wait(self.limit)
                    return
            time.sleep(0.05)

    def stop(self):
        self.done.set()
        self.join(10)
        if self.vb:
            self.vb.stop()


# --- parsing ---------------------------------------------------------------------------

def test_parse_families_and_version_across_blocks():
    img = uf2.parse(blocks(firmware(OLD_BANNER), RP2040))
    assert img.families == {RP2040: 13} and img.chips() == ["RP2040"]
    assert img.version == ("v1.19.1", "2022-06-18", "Raspberry Pi Pico with RP2040")
    # An RP2350 image: a one-block absolute run first (as picotool's RP2350-E10
    # workaround writes), then the Arm code.
    data = blocks(b"\xff" * 256, ABSOLUTE, addr=0x10FFFF00) + blocks(firmware(b"x"), ARM_S)
    img = uf2.parse(data)
    assert img.chips() == ["RP2350"] and img.version is None
    # sys.version's form (no board after the date) counts too.
    img = uf2.parse(blocks(b"\x003.4.0; MicroPython v1.28.0 on 2026-04-06\x00", RISCV))
    assert img.version == ("v1.28.0", "2026-04-06", "")


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"\x00" * 700, "whole number"),
    (b"\x00" * 512, "bad magic"),
    (blocks(b"a" * 600, RP2040)[:1024], "truncated"),
    (blocks(b"a" * 10, 0, flags=0), "no block carries a family id"),
    (blocks(b"a" * 10, RP2040)[:16] + struct.pack("<I", 477) + blocks(b"a" * 10, RP2040)[20:],
     "payload bytes"),
])
def test_parse_refuses_malformed(data, words):
    with pytest.raises(uf2.FlashError) as e:
        uf2.parse(data)
    assert "malformed UF2" in str(e.value) and words in str(e.value), str(e.value)


def test_drive_scan_reads_board_id(tmp_path):
    a = drive(tmp_path, INFO_RP2040, "RPI-RP2")
    b = drive(tmp_path, INFO_RP2350, "RP2350")
    c = drive(tmp_path, "UF2 Bootloader v1.0\nBoard-ID: SAMD21\n", "OTHER")
    (tmp_path / "plain").mkdir()
    found = uf2.find_drives([str(tmp_path / "plain"), str(c), str(a), str(b)])
    assert found == [(str(a), "RP2040"), (str(b), "RP2350")]
    assert uf2.read_info(str(a))["Model"] == "Raspberry Pi RP2"


# --- the command, end to end -------------------------------------------------------------

@pytest.mark.parametrize("chip", ["RP2040", "RP2350"])
def test_flash_comes_back_with_the_same_version(tmp_path, chip):
    need_tools()
    banner = board_banner()
    if chip == "RP2040":
        data = blocks(firmware(banner), RP2040)
        drv = drive(tmp_path, INFO_RP2040, "RPI-RP2")
    else:
        data = blocks(b"\xff" * 256, ABSOLUTE, addr=0x10FFFF00) + blocks(firmware(banner), ARM_S)
        drv = drive(tmp_path, INFO_RP2350, "RP2350")
    src = tmp_path / "firmware.uf2"
    src.write_bytes(data)
    port = tmp_path / "ttyACM0"
    rom = Bootrom(str(drv), str(port), len(data))
    rom.start()
    try:
        # The drive found by scanning (--search), not named.
        rc, out, _ = run("--uf2", src, "--search", drv, "--port", port, "--timeout", 30)
        assert rc == 0, out
        assert rom.landed == data  # every byte, in one file
        assert "the board runs the version in the image" in out, out
        assert banner.decode().split(";")[0] in out, out
    finally:
        rom.stop()


def test_flash_version_mismatch(tmp_path):
    need_tools()
    data = blocks(firmware(OLD_BANNER), RP2040)
    drv = drive(tmp_path, INFO_RP2040)
    src = tmp_path / "old.uf2"
    src.write_bytes(data)
    port = tmp_path / "ttyACM0"
    rom = Bootrom(str(drv), str(port), len(data))
    rom.start()
    try:
        rc, out, _ = run("--uf2", src, "--drive", drv, "--port", port, "--timeout", 30)
        assert rc == 1, out
        assert "error: version mismatch: the image carries MicroPython v1.19.1 on 2022-06-18" \
            in out, out
    finally:
        rom.stop()


@pytest.mark.parametrize("image, info, want", [
    ("rp2040", INFO_RP2350, "the image is for RP2040 (rp2040 x13) but the drive is an RP2350"),
    ("rp2350", INFO_RP2040, "the image is for RP2350 (rp2350-arm-s x13) but the drive is an "
                            "RP2040"),
])
def test_flash_refuses_wrong_family(tmp_path, image, info, want):
    fam = RP2040 if image == "rp2040" else ARM_S
    src = tmp_path / "fw.uf2"
    src.write_bytes(blocks(firmware(OLD_BANNER), fam))
    drv = drive(tmp_path, info, "BOOT")
    rc, out, took = run("--uf2", src, "--drive", drv, "--timeout", 5)
    assert rc == 1 and "error: wrong family: " + want in out, out
    assert os.listdir(drv) == ["INFO_UF2.TXT"]  # nothing copied
    assert took < 20


def test_flash_refuses_malformed_file(tmp_path):
    src = tmp_path / "bad.uf2"
    src.write_bytes(blocks(b"a" * 2000, RP2040)[:-512])  # last block cut off
    drv = drive(tmp_path, INFO_RP2040)
    rc, out, _ = run("--uf2", src, "--drive", drv, "--timeout", 5)
    assert rc == 1 and "error: malformed UF2: rp2040 run of 8 blocks has 7" in out, out
    assert os.listdir(drv) == ["INFO_UF2.TXT"]


def test_flash_no_drive(tmp_path):
    src = tmp_path / "fw.uf2"
    src.write_bytes(blocks(firmware(OLD_BANNER), RP2040))
    (tmp_path / "usb").mkdir()
    rc, out, _ = run("--uf2", src, "--search", tmp_path / "usb", "--timeout", 5)
    assert rc == 1 and "error: no BOOTSEL drive found" in out, out
    rc, out, _ = run("--uf2", src, "--drive", tmp_path / "usb", "--timeout", 5)
    assert rc == 1 and "is not an RP2 BOOTSEL drive" in out, out


def test_flash_board_never_comes_back(tmp_path):
    src = tmp_path / "fw.uf2"
    src.write_bytes(blocks(firmware(OLD_BANNER), RP2040))
    drv = drive(tmp_path, INFO_RP2040)
    rc, out, took = run("--uf2", src, "--drive", drv, "--port", tmp_path / "ttyACM9",
                        "--timeout", 1.5)
    assert rc == 1, out
    assert "error: the board never came back: no %s within 1.5 s" % (tmp_path / "ttyACM9") \
        in out, out
    assert (drv / "fw.uf2").read_bytes() == src.read_bytes()  # it was copied
    assert took < 15


def test_family_rules_per_chip():
    # absolute/data blocks are RP2350-only; an image of nothing else is refused on RP2040
    only_abs = uf2.parse(blocks(b"\x00" * 300, ABSOLUTE))
    uf2.check_family(only_abs, "RP2350")
    with pytest.raises(uf2.FlashError) as e:
        uf2.check_family(only_abs, "RP2040")
    assert "no block of 2 blocks (absolute x2) is for RP2040" in str(e.value)
    # RISC-V and Arm images both suit an RP2350; neither an RP2040
    for fam in (ARM_S, RISCV):
        img = uf2.parse(blocks(b"\x00" * 300, fam))
        uf2.check_family(img, "RP2350")
        with pytest.raises(uf2.FlashError):
            uf2.check_family(img, "RP2040")
    # blocks flagged "not main flash" are skipped, so they need no family
    img = uf2.parse(blocks(b"c" * 10, 0, flags=uf2.FLAG_NOT_MAIN_FLASH) + blocks(b"a", RP2040))
    assert img.families == {RP2040: 1} and img.blocks == 2
