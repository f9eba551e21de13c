# The virtual board with an ENC28J60: the real spinet.drivers.enc28j60 driver on the
# fake SPI bus (boards/sim/spibus.py), talking to the register-level ENC28J60 model
# (boards/sim/enc28j60.py, Rev. B7 errata on), whose wire side is any
# LAN-driver-shaped object. Wired like pico_enc28j60.py: CS, RESET, INT.
#
#   nic = sim_enc28j60.nic(wire=seg.port(mac), clock=clock.ticks_ms)
#   nic.board.chip, nic.board.spi, nic.board.driver
#
# Overrides: those of boards/common.py (full_duplex= among them), plus wire=, uid=,
# use_int=, use_rst=, strict=, errata=, trace= (as in sim_w5500.py).

from boards.common import build_driver, start
from boards.sim.enc28j60 import ENC28J60Chip
from boards.sim.spibus import SPI, Pin
from boards.sim_w5500 import Board, vboard_wire
from spinet.drivers.enc28j60 import ENC28J60
from spinet.drivers.mac import local_mac

UID = b"\xe6\x61\x41\x04\x03\x5a\x2b\x22"
BAUDRATE = 20_000_000


def board(wire=None, uid=UID, use_int=True, use_rst=True, strict=True, errata=True,
          trace=False, mac=None, baudrate=BAUDRATE, full_duplex=False, chip=None):
    if mac is None:
        mac = local_mac(uid, 0x28)
    if wire is None:
        wire = vboard_wire(mac)
    if chip is None:
        chip = ENC28J60Chip(wire, strict=strict, errata=errata)
    spi = SPI(0, baudrate=baudrate)
    spi.trace = trace
    cs = Pin(5, value=1)
    spi.attach(chip, cs)
    rst = Pin(20, value=1, on_change=chip.reset_line) if use_rst else None
    irq = Pin(21, source=chip.int_level) if use_int else None
    b = Board(chip, spi, cs, rst, irq)
    ov = {"mac": mac, "full_duplex": full_duplex}
    b.driver = build_driver(ENC28J60, spi, cs, rst, irq, ov, delay_ms=chip.sleep_ms)
    return b


def nic(**overrides):
    ov = dict(overrides)
    b = board(wire=ov.pop("wire", None), uid=ov.pop("uid", UID),
              use_int=ov.pop("use_int", True), use_rst=ov.pop("use_rst", True),
              strict=ov.pop("strict", True), errata=ov.pop("errata", True),
              trace=ov.pop("trace", False), mac=ov.pop("mac", None),
              baudrate=ov.pop("baudrate", BAUDRATE),
              full_duplex=ov.pop("full_duplex", False))
    n = start(b.driver, ov)
    n.board = b
    return n
