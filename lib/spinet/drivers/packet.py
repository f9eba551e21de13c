# spinet.drivers.packet — a LAN driver over a Linux AF_PACKET raw socket bound to one
# interface (e.g. one end of a veth pair). Runs on CPython and on the MicroPython
# unix port (which has no AF_PACKET constant and takes a packed sockaddr_ll).
#
# The stack uses the interface's own MAC unless given one. Frames this socket sends
# come back to it as outgoing copies; they are recognised by their source MAC and
# skipped.

import struct

from ..compat import port_socket

try:
    import select
    _socket = port_socket()
except ImportError:  # pragma: no cover - a board has neither
    raise ImportError("drivers.packet needs Linux (CPython or the MicroPython unix port)")

_AF_PACKET = 17
_SOCK_RAW = 3
_ETH_P_ALL_BE = 0x0300  # htons(ETH_P_ALL), as the kernel wants it


def _read_sys(ifname, name):
    with open("/sys/class/net/%s/%s" % (ifname, name)) as f:
        return f.read().strip()


def _parse_mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


class PacketSocket:
    def __init__(self, ifname, mac=None):
        self.ifname = ifname
        self.mac = bytes(mac) if mac else _parse_mac(_read_sys(ifname, "address"))
        index = int(_read_sys(ifname, "ifindex"))
        s = _socket.socket(_AF_PACKET, _SOCK_RAW, _ETH_P_ALL_BE)
        # struct sockaddr_ll: family, protocol (network order), ifindex, hatype,
        # pkttype, halen, addr[8]. CPython takes a tuple instead.
        try:
            s.bind((ifname, 0x0003))
        except (TypeError, OSError):
            s.bind(struct.pack("<HHiHBB8s", _AF_PACKET, _ETH_P_ALL_BE, index, 0, 0, 0, b""))
        s.setblocking(False)
        self._s = s
        # CPython reads straight into the stack's buffer. The unix port has no
        # recv_into, and its readinto() is a stream read that would run two frames
        # together, so there each frame is one recv() (one bytes object per frame).
        self._recv_into = getattr(s, "recv_into", None)
        self._poll = select.poll()
        self._poll.register(s, select.POLLIN)
        self.rx_own = 0  # our own outgoing frames seen and skipped
        self.rx_errors = 0

    def send(self, frame):
        self._s.send(frame)

    def recv_into(self, buf):
        mac = self.mac
        while True:
            try:
                if self._recv_into is not None:
                    n = self._recv_into(buf)
                else:
                    data = self._s.recv(1600)
                    n = len(data)
                    if n > len(buf):
                        self.rx_errors += 1  # larger than a frame: offload left on?
                        continue
                    buf[0:n] = data
            except OSError as e:
                if e.args[0] == 11:  # EAGAIN: nothing waiting
                    return 0
                raise
            if not n:
                return 0
            if n >= 14 and buf[6] == mac[0] and buf[7] == mac[1] and buf[8] == mac[2] and \
                    buf[9] == mac[3] and buf[10] == mac[4] and buf[11] == mac[5]:
                self.rx_own += 1  # a copy of a frame we sent
                continue
            return n

    def link_up(self):
        try:
            return _read_sys(self.ifname, "operstate") in ("up", "unknown")
        except OSError:
            return False

    def wait(self, timeout_ms):
        self._poll.poll(timeout_ms if timeout_ms > 0 else 0)

    def fileno(self):
        """Readable when a frame may be waiting (spinet.aio polls it)."""
        return self._s.fileno()

    def close(self):
        self._s.close()
