"""Flash a MicroPython UF2 onto a Raspberry Pi Pico / Pico 2 in BOOTSEL mode (CPython).

    python -m host_tools flash --uf2 FILE [--drive DIR] [--port PORT] [--timeout S]
                               [--search DIR ...]

Steps: parse and check the UF2; find the BOOTSEL drive (``--drive``, else the mount
point holding an ``INFO_UF2.TXT``); refuse an image the drive's chip would ignore;
copy the file in one write and fsync it; wait for the board's USB serial port to come
back (``--port``, else a new port with the Raspberry Pi USB vendor id 2E8A); read the
MicroPython banner from the REPL and check it against the version string inside the
image. Every failure is one ``error: ...`` line and a non-zero exit.

UF2 (github.com/microsoft/uf2): 512-byte blocks, each
    magic0 magic1 flags target_addr payload_size block_no num_blocks family_or_size
    (8 x uint32 little-endian), 476 bytes of data, magic_end.
Flag 0x2000 says the last header word is a family id; flag 0x0001 marks a block not
meant for main flash (comments, padding) that the bootrom skips.

Family ids and which bootrom takes them (RP2350 datasheet 5.5.3 "UF2 targeting
rules"; pico-sdk picotool): RP2040 takes only rp2040; RP2350 takes absolute, data,
rp2350-arm-s, rp2350-riscv and rp2350-arm-ns, and ignores rp2040 blocks.

INFO_UF2.TXT as the two bootroms write it:
    RP2040: "UF2 Bootloader v3.0 / Model: Raspberry Pi RP2 / Board-ID: RPI-RP2"
    RP2350: "UF2 Bootloader v1.0 / Model: Raspberry Pi RP2350 / Board-ID: RP2350"
"""

import glob
import os
import re
import struct
import sys
import time

BLOCK = 512
MAGIC0 = 0x0A324655  # "UF2\n"
MAGIC1 = 0x9E5D5157
MAGIC_END = 0x0AB16F30
FLAG_NOT_MAIN_FLASH = 0x00000001
FLAG_FAMILY_PRESENT = 0x00002000
DATA_MAX = 476

FAMILIES = {
    0xE48BFF56: "rp2040",
    0xE48BFF57: "absolute",
    0xE48BFF58: "data",
    0xE48BFF59: "rp2350-arm-s",
    0xE48BFF5A: "rp2350-riscv",
    0xE48BFF5B: "rp2350-arm-ns",
}
RP2040 = "RP2040"
RP2350 = "RP2350"
# What each chip's bootrom writes to flash; blocks of any other family it ignores.
ACCEPTS = {
    RP2040: {0xE48BFF56},
    RP2350: {0xE48BFF57, 0xE48BFF58, 0xE48BFF59, 0xE48BFF5A, 0xE48BFF5B},
}
# Families that carry one chip's code (absolute and data could be for either).
CODE_FAMILY_CHIP = {0xE48BFF56: RP2040, 0xE48BFF59: RP2350, 0xE48BFF5A: RP2350,
                    0xE48BFF5B: RP2350}
BOARD_IDS = {"RPI-RP2": RP2040, "RP2350": RP2350}
INFO = "INFO_UF2.TXT"
RPI_VID = 0x2E8A  # Raspberry Pi's USB vendor id: MicroPython's rp2 port uses it
# MicroPython's banner: "MicroPython <git tag> on <build date>; <board> with <mcu>"
# (py/modsys.c, MICROPY_BANNER_NAME_AND_VERSION); the tag may be v1.24.1, a
# v1.25.0-preview.123.gabc describe, or a bare hash on an untagged build.
BANNER = re.compile(rb"MicroPython ([0-9A-Za-z][0-9A-Za-z.+_-]{0,63}) on (\d{4}-\d{2}-\d{2})"
                    rb"(?:; ?([ -~]{0,120}?))?(?=[\x00-\x1f]|$)")


class FlashError(Exception):
    """A failure with a message meant for the user."""


# --- the UF2 file -------------------------------------------------------------------

class Image:
    def __init__(self):
        self.blocks = 0
        self.families = {}  # family id -> block count
        self.no_family = 0  # blocks without a family id (the bootroms would skip them)
        self.payload = {}  # family id -> {address: bytes}
        self.version = None  # (tag, date, rest) of the banner found in the payload

    def chips(self):
        """The chips whose code this image carries."""
        return sorted({CODE_FAMILY_CHIP[f] for f in self.families if f in CODE_FAMILY_CHIP})

    def describe_families(self):
        return ", ".join("%s x%d" % (FAMILIES.get(f, "0x%08x" % f), n)
                         for f, n in sorted(self.families.items())) or "no family id"

    def describe(self):
        return "%d blocks (%s)" % (self.blocks, self.describe_families())


def parse(data):
    """Check the blocks of a UF2 file and collect what they carry -> Image.
    Raises FlashError saying what is wrong with a malformed file."""
    if not data:
        raise FlashError("malformed UF2: the file is empty")
    if len(data) % BLOCK:
        raise FlashError("malformed UF2: %d bytes is not a whole number of %d-byte blocks"
                         % (len(data), BLOCK))
    img = Image()
    seen = {}  # (family, num_blocks) -> set of block numbers
    for i in range(len(data) // BLOCK):
        off = i * BLOCK
        m0, m1, flags, addr, size, no, total, fam = struct.unpack_from("<8I", data, off)
        (mend,) = struct.unpack_from("<I", data, off + BLOCK - 4)
        if m0 != MAGIC0 or m1 != MAGIC1 or mend != MAGIC_END:
            raise FlashError("malformed UF2: block %d (offset %d) has bad magic numbers"
                             % (i, off))
        if size > DATA_MAX:
            raise FlashError("malformed UF2: block %d says %d payload bytes (at most %d)"
                             % (i, size, DATA_MAX))
        if total == 0 or no >= total:
            raise FlashError("malformed UF2: block %d is number %d of %d" % (i, no, total))
        img.blocks += 1
        if flags & FLAG_NOT_MAIN_FLASH:
            continue
        if not flags & FLAG_FAMILY_PRESENT:
            img.no_family += 1
            continue
        img.families[fam] = img.families.get(fam, 0) + 1
        seen.setdefault((fam, total), set()).add(no)
        img.payload.setdefault(fam, {})[addr] = bytes(data[off + 32:off + 32 + size])
    for (fam, total), nos in seen.items():
        # A bootrom reboots into the new firmware once it has every block of the run;
        # with one missing the board would sit in BOOTSEL for ever.
        if fam in CODE_FAMILY_CHIP and len(nos) != total:
            raise FlashError("malformed UF2: %s run of %d blocks has %d (truncated file?)"
                             % (FAMILIES[fam], total, len(nos)))
    if not img.families:
        raise FlashError("malformed UF2: no block carries a family id, so no RP2 bootrom "
                         "would take it")
    img.version = find_version(img)
    return img


def find_version(img):
    """The MicroPython banner inside the firmware, if there is one: (tag, date, rest)."""
    for fam, blocks in img.payload.items():
        # Payloads in address order, so a string split across two blocks is whole.
        flat = b"".join(blocks[a] for a in sorted(blocks))
        m = BANNER.search(flat)
        if m:
            return _groups(m)
    return None


def _groups(m):
    return tuple((g or b"").decode("ascii", "replace") for g in m.groups())


def check_family(img, chip):
    """Refuse an image the drive's bootrom would ignore (it would sit in BOOTSEL)."""
    takes = ACCEPTS[chip]
    code = img.chips()
    if code and chip not in code:
        raise FlashError("wrong family: the image is for %s (%s) but the drive is an %s "
                         "bootloader, which would ignore it"
                         % ("/".join(code), img.describe_families(), chip))
    if not any(f in takes for f in img.families):
        raise FlashError("wrong family: no block of %s is for %s" % (img.describe(), chip))


# --- the BOOTSEL drive --------------------------------------------------------------

def read_info(drive):
    """INFO_UF2.TXT as a dict ("Board-ID", "Model", ...), or None without one."""
    try:
        with open(os.path.join(drive, INFO), "rb") as f:
            text = f.read(4096).decode("ascii", "replace")
    except OSError:
        return None
    info = {}
    for line in text.splitlines():
        key, sep, val = line.partition(":")
        if sep:
            info[key.strip()] = val.strip()
        elif line.strip() and "banner" not in info:
            info["banner"] = line.strip()
    return info


def drive_chip(drive):
    info = read_info(drive)
    if info is None:
        return None
    return BOARD_IDS.get(info.get("Board-ID", ""))


def mount_points():
    """Candidate folders: /proc/mounts entries, /media/*/*, /run/media/*/*."""
    out = []
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2:
                    # /proc/mounts escapes spaces and tabs in paths as octal
                    out.append(parts[1].replace("\\040", " ").replace("\\011", "\t"))
    except OSError:
        pass
    out += glob.glob("/media/*/*") + glob.glob("/run/media/*/*")
    return out


def find_drives(candidates=None):
    """[(folder, chip)] for every RP2 BOOTSEL drive among the candidates."""
    found = []
    for d in candidates if candidates is not None else mount_points():
        if d in [f for f, _ in found]:
            continue
        chip = drive_chip(d)
        if chip:
            found.append((d, chip))
    return found


def copy_image(data, name, drive):
    """One write of the whole file, then fsync: the bootrom flashes as blocks arrive
    and reboots after the last, so the drive may vanish as the file closes."""
    dst = os.path.join(drive, os.path.basename(name))
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        n = os.write(fd, data)
        if n != len(data):
            raise FlashError("short write to %s: %d of %d bytes" % (dst, n, len(data)))
        try:
            os.fsync(fd)
        except OSError:
            pass  # the board rebooted under us: the port check tells if it worked
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    return dst


# --- the board coming back ----------------------------------------------------------

def rpi_ports():
    """Serial ports of Raspberry Pi USB devices (VID 2E8A): /dev/serial/by-id and
    pyserial's port list."""
    out = set()
    for p in glob.glob("/dev/serial/by-id/*"):
        if "MicroPython" in p or "Raspberry" in p or "2e8a" in p.lower():
            out.add(os.path.realpath(p))
    try:
        from serial.tools import list_ports

        for p in list_ports.comports():
            if p.vid == RPI_VID:
                out.add(p.device)
    except ImportError:
        pass
    return out


def wait_port(port, before, timeout):
    """The board's serial device once it is there: `port` when given, else a VID 2E8A
    port that was not there before the copy. FlashError after `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        if port:
            if os.path.exists(port):
                return port
        else:
            new = sorted(rpi_ports() - before)
            if new:
                return new[0]
        if time.monotonic() >= end:
            what = port or "a new USB serial port with vendor id 2E8A"
            raise FlashError("the board never came back: no %s within %.1f s" % (what, timeout))
        time.sleep(0.1)


def board_banner(port, timeout):
    """The banner of the MicroPython REPL on `port`: Ctrl-C (stop a running main.py),
    Ctrl-B (friendly REPL, which prints the banner). Falls back to the raw REPL's
    sys.version. -> (tag, date, rest)."""
    import serial

    end = time.monotonic() + timeout
    last = b""
    ser = None
    while ser is None:
        try:
            ser = serial.Serial(port, 115200, timeout=0.1)
        except (OSError, serial.SerialException) as e:
            # The port node may appear before it can be opened (udev, permissions).
            if time.monotonic() >= end:
                raise FlashError("cannot open %s: %s" % (port, e)) from e
            time.sleep(0.2)
    try:
        for attempt in (b"\r\x03\x03\x02", b"\r\x03\x03\x01import sys;print(sys.version)\x04"):
            ser.reset_input_buffer()
            ser.write(attempt)
            got = b""
            step_end = min(end, time.monotonic() + max(1.0, (end - time.monotonic()) / 2))
            while time.monotonic() < step_end:
                got += ser.read(4096)
                m = BANNER.search(got)
                if m and (b">>> " in got[m.end():] or b"\x04" in got[m.end():]):
                    if attempt.endswith(b"\x04"):
                        ser.write(b"\x02")  # leave it in the friendly REPL
                    return _groups(m)
            last = got
        raise FlashError("no MicroPython banner from %s within %.1f s (got %r)"
                         % (port, timeout, last[-200:]))
    finally:
        ser.close()


def same_version(img_ver, board_ver):
    """Tag and build date must agree (the board name may be abbreviated)."""
    return img_ver[0] == board_ver[0] and img_ver[1] == board_ver[1]


def flash(uf2, drive=None, port=None, timeout=30.0, candidates=None, out=print):
    """The whole sequence; returns the board's banner tuple. Raises FlashError."""
    try:
        with open(uf2, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FlashError("cannot read %s: %s" % (uf2, e)) from e
    img = parse(data)
    if drive:
        chip = drive_chip(drive)
        if chip is None:
            raise FlashError("%s is not an RP2 BOOTSEL drive (no %s with Board-ID RPI-RP2 "
                             "or RP2350)" % (drive, INFO))
    else:
        drives = find_drives(candidates)
        if not drives:
            raise FlashError("no BOOTSEL drive found (no mounted folder with an %s naming "
                             "RPI-RP2 or RP2350): hold BOOTSEL while plugging the board in, "
                             "or give --drive" % INFO)
        if len(drives) > 1:
            raise FlashError("several BOOTSEL drives (%s): choose one with --drive"
                             % ", ".join(d for d, _ in drives))
        drive, chip = drives[0]
    check_family(img, chip)
    out("flash: %s, %s, firmware %s" % (uf2, img.describe(),
                                        "%s on %s" % img.version[:2] if img.version else
                                        "version unknown"))
    before = set() if port else rpi_ports()
    dst = copy_image(data, uf2, drive)
    out("flash: copied %d bytes to %s (%s); waiting for the board" % (len(data), dst, chip))
    t0 = time.monotonic()
    dev = wait_port(port, before, timeout)
    left = max(2.0, timeout - (time.monotonic() - t0))
    ver = board_banner(dev, left)
    out("flash: %s is back: MicroPython %s on %s; %s" % (dev, ver[0], ver[1], ver[2]))
    if img.version and not same_version(img.version, ver):
        raise FlashError("version mismatch: the image carries MicroPython %s on %s, the "
                         "board runs %s on %s" % (img.version[0], img.version[1], ver[0], ver[1]))
    if img.version:
        out("flash: OK, the board runs the version in the image")
    else:
        out("flash: OK (the image names no MicroPython version to compare)")
    return ver


def main(args):
    try:
        flash(args.uf2, drive=args.drive, port=args.port, timeout=args.timeout,
              candidates=args.search)
    except FlashError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    return 0
