# Shared by the board files: build the SPI bus and pins from a board's pin table,
# construct the driver, and hand back an active spinet.Interface.
#
# Every board file calls make_nic(table, overrides). Overrides (all optional):
#   mac=b"..."              6 bytes; default: derived from machine.unique_id()
#                           (spinet.drivers.mac: stable, locally administered)
#   baudrate=N              SPI clock in Hz
#   spi=obj, cs=, rst=, int_pin=   ready-made machine objects instead of the table's
#   use_int=False           ignore the INT pin (poll the chip instead)
#   ifconfig=(ip, mask, gw, dns)   static addresses, set before activating
#   hostname=, and any other spinet.Interface keyword (sockets=, arp_entries=...)
#   full_duplex=True        ENC28J60 only (the link partner must be forced to match)
# Restricted Python: runs on the board.

import spinet


def _pin(machine, num, mode, value=None):
    if num is None:
        return None
    if value is None:
        return machine.Pin(num, mode)
    return machine.Pin(num, mode, value=value)


def make_nic(t, ov, driver_cls):
    """t: the board's pin table (dict); ov: nic() overrides (dict, consumed)."""
    import machine
    baud = ov.pop("baudrate", t["baudrate"])
    spi = ov.pop("spi", None)
    if spi is None:
        spi = machine.SPI(t["spi"], baudrate=baud, polarity=0, phase=0,
                          sck=machine.Pin(t["sck"]), mosi=machine.Pin(t["mosi"]),
                          miso=machine.Pin(t["miso"]))
    cs = ov.pop("cs", None) or _pin(machine, t["cs"], machine.Pin.OUT, 1)
    rst = ov.pop("rst", None) or _pin(machine, t.get("rst"), machine.Pin.OUT, 1)
    irq = ov.pop("int_pin", None) or _pin(machine, t.get("int"), machine.Pin.IN)
    if not ov.pop("use_int", True):
        irq = None
    drv = build_driver(driver_cls, spi, cs, rst, irq, ov)
    return start(drv, ov)


def build_driver(driver_cls, spi, cs, rst, irq, ov, delay_ms=None):
    mac = ov.pop("mac", None)
    kw = {}
    if delay_ms is not None:
        kw["delay_ms"] = delay_ms
    if "full_duplex" in ov:
        kw["full_duplex"] = ov.pop("full_duplex")
    if driver_cls.__name__ == "W5500":
        return driver_cls(spi, cs, rst=rst, int_pin=irq, mac=mac, **kw)
    if rst is not None:  # the ENC28J60 driver resets by command; pulse RESET once
        from spinet.compat import sleep_ms
        rst(0)
        (delay_ms or sleep_ms)(1)
        rst(1)
    return driver_cls(spi, cs, int_pin=irq, mac=mac, **kw)


def start(drv, ov):
    cfg = ov.pop("ifconfig", None)
    nic = spinet.Interface(drv, **ov)
    if cfg is not None:
        nic.ifconfig(cfg)
    nic.active(True)
    return nic
