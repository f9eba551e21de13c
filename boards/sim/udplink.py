# A LAN driver whose wire is a UDP socket on the loopback interface: every Ethernet
# frame is one datagram. It joins two processes (the virtual board's chip and the
# host-side peer in host_tools/vboard.py) without root, a TAP or a namespace.
# MicroPython-compatible (CPython and the unix port).
#
# Each end binds its own loopback port and sends to the other's. Frames from any
# other address are dropped and counted: only the two ends share this wire.


from spinet.compat import port_socket

_socket = port_socket()

try:
    import select
except ImportError:  # pragma: no cover
    select = None

MAX_FRAME = 1514
LOOPBACK = "127.0.0.1"


def _addr(host, port):
    return _socket.getaddrinfo(host, port)[0][-1]


class UdpLink:
    def __init__(self, mac, local_port, peer_port, host=LOOPBACK):
        self.mac = bytes(mac)
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        s.bind(_addr(host, local_port))
        s.setblocking(False)
        self._s = s
        self._peer = _addr(host, peer_port)
        self._poll = select.poll()
        self._poll.register(s, select.POLLIN)
        self._up = True
        self.stats = {"tx": 0, "rx": 0, "foreign": 0, "oversize": 0, "down": 0}

    # -- LAN driver contract --
    def link_up(self):
        return self._up

    def link(self, up=True):
        self._up = bool(up)

    def send(self, frame):
        if not self._up:
            self.stats["down"] += 1
            return
        if len(frame) > MAX_FRAME:
            self.stats["oversize"] += 1
            return
        try:
            self._s.sendto(frame, self._peer)
            self.stats["tx"] += 1
        except OSError:
            self.stats["down"] += 1  # the other end is not there (yet): the frame is lost

    def recv_into(self, buf):
        while True:
            try:
                data, addr = self._s.recvfrom(2048)
            except OSError:
                return 0
            if addr != self._peer:
                self.stats["foreign"] += 1
                continue
            if not self._up:
                self.stats["down"] += 1
                continue
            n = len(data)
            if n > len(buf):
                self.stats["oversize"] += 1
                continue
            buf[0:n] = data
            self.stats["rx"] += 1
            return n

    def wait(self, timeout_ms):
        self._poll.poll(timeout_ms if timeout_ms >= 0 else -1)

    def close(self):
        self._s.close()
