# spinet.drivers.tap — a LAN driver over a Linux TAP device (CPython only).
#
# Opens /dev/net/tun with IFF_TAP | IFF_NO_PI on an existing or new TAP interface:
# each read is one Ethernet frame, each write sends one. The kernel sees the TAP as
# its own interface, so its TCP/IP is spinet's peer.

import fcntl
import os
import select
import struct
import time

_TUNSETIFF = 0x400454CA
_IFF_TAP = 0x0002
_IFF_NO_PI = 0x1000


class Tap:
    def __init__(self, ifname, mac=None):
        self.ifname = ifname
        self._fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        ifr = struct.pack("16sH14s", ifname.encode(), _IFF_TAP | _IFF_NO_PI, b"")
        fcntl.ioctl(self._fd, _TUNSETIFF, ifr)
        # The TAP's own MAC belongs to the kernel side: spinet needs another one.
        self.mac = bytes(mac) if mac else b"\x02\x53\x50\x4e\x00\x01"
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)
        self._wait_operational(3.0)

    def _wait_operational(self, limit_s):
        # Opening the TAP gives the kernel side carrier, but the kernel starts
        # transmitting on it only when its link watcher has run (up to a second
        # later; until then it drops what it sends, ARP replies included). The
        # operstate turns "up" at that moment, like a PHY's link after negotiation.
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            if self._operstate() == "up":
                return
            time.sleep(0.01)

    def _operstate(self):
        try:
            with open("/sys/class/net/%s/operstate" % self.ifname) as f:
                return f.read().strip()
        except OSError:
            return ""

    def send(self, frame):
        os.write(self._fd, frame)

    def recv_into(self, buf):
        try:
            return os.readv(self._fd, [buf])  # straight into the stack's buffer
        except BlockingIOError:
            return 0

    def link_up(self):
        return self._operstate() in ("up", "unknown")

    def wait(self, timeout_ms):
        self._poll.poll(timeout_ms if timeout_ms > 0 else 0)

    def fileno(self):
        """Readable when a frame may be waiting (spinet.aio polls it)."""
        return self._fd

    def close(self):
        os.close(self._fd)
