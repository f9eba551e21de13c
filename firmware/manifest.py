# Freeze spinet into a custom MicroPython firmware (bytecode in flash: no .mpy files
# on the filesystem, less RAM for imports). Paths are relative to this file.
#
#   make -C ports/rp2 BOARD=RPI_PICO FROZEN_MANIFEST=/path/to/spinet/firmware/manifest.py
#
# or, from a board manifest of your own, with options:
#
#   include("/path/to/spinet/firmware/manifest.py", drivers="w5500", boards="pico_w5500",
#           apps=True)
#
# Options (defaults below):
#   drivers  comma-separated LAN drivers to freeze: "w5500", "enc28j60" (both)
#   boards   comma-separated board files from boards/ frozen as package `boards`
#            (boards.common is always there); "" for none. A frozen board is used by
#            a one-line /board.py on the flash:  from boards.pico_w5500 import *
#   apps     True: also freeze netboot (firmware/netboot.py) and the examples
#   port     True: include the port's own manifest first, so the firmware keeps what
#            the port freezes by default (asyncio, mip, ...)
# The host-only drivers (drivers/tap.py, drivers/packet.py: Linux) are never frozen.

options.defaults(drivers="w5500,enc28j60",
                 boards="pico_w5500,pico2_w5500,w5500_evb_pico,pico_enc28j60",
                 apps=False, port=True)

metadata(version="0.1.0", description="spinet: a TCP/IP stack for SPI Ethernet chips")

if options.port:
    include("$(PORT_DIR)/boards/manifest.py")

# The stack without its LAN drivers (the same files as package.json).
package("spinet", files=[
    "__init__.py", "aio.py", "arp.py", "compat.py", "config.py", "counters.py", "dhcp.py",
    "dns.py", "icmp.py", "iface.py", "ipv4.py", "loopback.py", "ring.py", "socket.py",
    "tcp.py", "tls.py", "trace.py", "udp.py",
    "drivers/__init__.py", "drivers/mac.py",
    "wire/__init__.py", "wire/arp.py", "wire/checksum.py", "wire/dhcp.py",
    "wire/dns.py", "wire/ethernet.py", "wire/icmp.py", "wire/ipv4.py", "wire/seq.py",
    "wire/tcp.py", "wire/udp.py",
], base_path="../lib")

for _drv in [d.strip() for d in options.drivers.split(",") if d.strip()]:
    package("spinet", files=["drivers/%s.py" % _drv], base_path="../lib")

_boards = [b.strip() for b in options.boards.split(",") if b.strip()]
if _boards:
    package("boards", files=["__init__.py", "common.py"] + ["%s.py" % b for b in _boards],
            base_path="..")

if options.apps:
    require("umqtt.simple")  # micropython-lib, for examples/mqtt_publish.py
    module("netboot.py")
    for _app in ("http_server.py", "udp_echo.py", "mqtt_publish.py", "asyncio_http_server.py",
                 "mqtt_sensor.py", "https_client.py"):
        module(_app, base_path="examples")
