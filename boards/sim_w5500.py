# The virtual board with a W5500: the real spinet.drivers.w5500 driver on the fake
# SPI bus (boards/sim/spibus.py), talking to the register-level W5500 model
# (boards/sim/w5500.py), whose wire side is any LAN-driver-shaped object.
#
#   nic = sim_w5500.nic(wire=seg.port(mac), clock=clock.ticks_ms)   # simulated segment
#   nic = sim_w5500.nic(wire=PacketSocket("s0"))                    # a real link
#   nic.board.chip, nic.board.spi (transaction counts, trace), nic.board.driver
#
# Wiring as on the WIZnet W5500-EVB-Pico (see w5500_evb_pico.py): CS, RSTn, INTn.
# Overrides: those of boards/common.py, plus wire= (default: the virtual board's link
# when running on one, else no cable: link down),
# uid= (the "unique id" the MAC is derived from; fixed by default), use_int=,
# use_rst=, strict= (the model raises on misuse), trace= (record SPI transactions).
# The driver sleeps through the chip model (chip.sleep_ms), so on the simulated
# segment time is virtual and other hosts run while the driver waits.

from boards.common import build_driver, start
from boards.sim.spibus import SPI, Pin
from boards.sim.w5500 import W5500Chip
from spinet.drivers.mac import local_mac
from spinet.drivers.w5500 import W5500

UID = b"\xe6\x61\x41\x04\x03\x5a\x2b\x21"  # a made-up 8-byte flash id
BAUDRATE = 33_000_000


def vboard_wire(mac):
    """On the virtual board (host_tools/vboard.py), the wire it was started with;
    elsewhere None: no cable."""
    try:
        import vboard
    except ImportError:
        return None
    if not vboard.link:
        return None
    return vboard.wire(mac)


class Board:
    def __init__(self, chip, spi, cs, rst, irq, driver=None):
        self.chip = chip
        self.spi = spi
        self.cs = cs
        self.rst = rst
        self.irq = irq
        self.driver = driver


def board(wire=None, uid=UID, use_int=True, use_rst=True, strict=True, trace=False,
          mac=None, baudrate=BAUDRATE, chip=None):
    """The hardware and driver without an Interface: a Board."""
    if mac is None:
        mac = local_mac(uid, 0x55)
    if wire is None:
        wire = vboard_wire(mac)
    if chip is None:
        chip = W5500Chip(wire, strict=strict)
    spi = SPI(0, baudrate=baudrate)
    spi.trace = trace
    cs = Pin(17, value=1)
    spi.attach(chip, cs)
    rst = Pin(20, value=1, on_change=chip.reset_line) if use_rst else None
    irq = Pin(21, source=chip.int_level) if use_int else None
    b = Board(chip, spi, cs, rst, irq)
    ov = {"mac": mac}
    b.driver = build_driver(W5500, spi, cs, rst, irq, ov, delay_ms=chip.sleep_ms)
    return b


def nic(**overrides):
    ov = dict(overrides)
    b = board(wire=ov.pop("wire", None), uid=ov.pop("uid", UID),
              use_int=ov.pop("use_int", True), use_rst=ov.pop("use_rst", True),
              strict=ov.pop("strict", True), trace=ov.pop("trace", False),
              mac=ov.pop("mac", None), baudrate=ov.pop("baudrate", BAUDRATE))
    n = start(b.driver, ov)
    n.board = b
    return n
