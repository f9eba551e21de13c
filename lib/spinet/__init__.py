# spinet — a TCP/IP stack in restricted Python for MicroPython boards with SPI
# Ethernet chips (W5500, ENC28J60), also running on CPython.
#
#   import spinet
#   nic = spinet.Interface(driver, hostname="spinet")
#   nic.active(True)
#   nic.ifconfig(("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1"))
#   from spinet import socket
#
# Only the Interface is imported here; spinet.socket and the rest load on first use.

from .iface import Interface  # noqa: F401

__version__ = "0.1.0"


def start(nic=None):
    """Run nic inside MicroPython's asyncio scheduler: see spinet/aio.py. Imported
    only when called, so programs without asyncio don't load it."""
    from . import aio
    return aio.start(nic)
