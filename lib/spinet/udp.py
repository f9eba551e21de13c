# spinet.udp — UDP control blocks: binding, demultiplexing, receive queues.
#
# Heads up: read RFC 768 and RFC 1122 4.1.3. A host MUST pass a datagram with a bad
# checksum nowhere (4.1.3.4), SHOULD send ICMP port unreachable for a closed port
# (4.1.3.1), and MUST hand ICMP errors to the application (4.1.3.3): a socket keeps
# the last one and raises it as OSError on its next call.
#
# Each socket owns a receive queue of `rx_bytes` bytes allocated when the socket is
# made, holding at most `rx_slots` datagrams. A datagram is stored as an 8-byte record
# head (length, source address, source port) plus its data, written around the ring;
# a datagram that does not fit is dropped and counted, never partly stored.

from . import config
from .compat import EMSGSIZE, const
from .counters import UDP_BAD_CHECKSUM, UDP_BAD_LENGTH, UDP_NO_PORT, UDP_QUEUE_FULL, UDP_RX, UDP_TX
from .ring import copy
from .wire import udp as wudp
from .wire.ipv4 import HDR_LEN as IP_HDR
from .wire.ipv4 import PROTO_UDP

_REC = const(8)
_DHCP_CLIENT_PORT = const(68)
SOCK_DGRAM = const(2)


class UdpSocket:
    """The control block of one UDP socket."""

    kind = SOCK_DGRAM

    def __init__(self, rx_bytes=config.UDP_RX_BYTES, rx_slots=config.UDP_RX_SLOTS):
        self.lport = 0  # 0: not bound
        self.laddr = None  # 4 bytes, or None for any local address
        self.rport = 0  # 0: not connected
        self.raddr = None
        self._r_hi = 0
        self._r_lo = 0
        self.err = 0  # pending errno from an ICMP error
        self.q = bytearray(rx_bytes)
        self._qmv = memoryview(self.q)
        self.slots = rx_slots
        self.head = 0  # read position
        self.used = 0  # bytes held, record heads included
        self.count = 0  # datagrams held
        self.drops = 0

    def describe(self):
        from .wire.ipv4 import ntoa
        return "udp %s:%d %s:%d queued %d/%d drops %d" % (
            ntoa(self.laddr) if self.laddr else "*", self.lport,
            ntoa(self.raddr) if self.raddr else "*", self.rport, self.count, self.slots,
            self.drops)

    def connect(self, addr, port):
        self.raddr = addr
        self.rport = port
        self._r_hi = (addr[0] << 8) | addr[1]
        self._r_lo = (addr[2] << 8) | addr[3]

    def _put(self, src, soff, n, sport, addr_buf, addr_off):
        """Queue a datagram: n bytes from src[soff:], its source address at
        addr_buf[addr_off:] and port."""
        q = self.q
        size = len(q)
        if self.count >= self.slots or self.used + _REC + n > size:
            self.drops += 1
            return False
        w = self.head + self.used
        if w >= size:
            w -= size
        # The record head, byte by byte around the ring (no temporary buffer).
        for v in (n >> 8, n & 0xFF, addr_buf[addr_off], addr_buf[addr_off + 1],
                  addr_buf[addr_off + 2], addr_buf[addr_off + 3], sport >> 8, sport & 0xFF):
            q[w] = v
            w += 1
            if w == size:
                w = 0
        first = size - w
        if first >= n:
            copy(q, w, src, soff, n)
        else:
            copy(q, w, src, soff, first)
            copy(q, 0, src, soff + first, n - first)
        self.used += _REC + n
        self.count += 1
        return True

    def _byte(self, k):
        """The queued byte k positions after the read position."""
        i = self.head + k
        size = len(self.q)
        return self.q[i if i < size else i - size]

    def peek_len(self):
        """Length of the next queued datagram, or -1 if none."""
        if not self.count:
            return -1
        return (self._byte(0) << 8) | self._byte(1)

    def take(self, dst):
        """Dequeue the next datagram into dst, truncating as recv does (the rest of
        the datagram is discarded). Returns (n_copied, addr_bytes, port)."""
        n = self.peek_len()
        b = self._byte
        addr = bytes((b(2), b(3), b(4), b(5)))
        port = (b(6) << 8) | b(7)
        size = len(self.q)
        r = self.head + _REC
        if r >= size:
            r -= size
        m = n if n <= len(dst) else len(dst)
        qmv = self._qmv
        first = size - r
        if first >= m:
            dst[0:m] = qmv[r:r + m]
        else:
            dst[0:first] = qmv[r:size]
            dst[first:m] = qmv[0:m - first]
        self.count -= 1
        self.used -= _REC + n
        r += n
        self.head = r if r < size else r - size
        if not self.count:
            self.head = 0
            self.used = 0
        return m, addr, port


def input(nic, buf, ip, off, n, bcast):
    """A UDP datagram in the IP payload buf[off:off+n] (IP header at ip)."""
    cnt = nic._count
    ulen = wudp.check(buf, ip, off, n)
    if ulen < 0:
        cnt[UDP_BAD_LENGTH if ulen == -1 else UDP_BAD_CHECKSUM] += 1
        return
    cnt[UDP_RX] += 1
    dport = (buf[off + 2] << 8) | buf[off + 3]
    sport = (buf[off] << 8) | buf[off + 1]
    # The DHCP client (port 68) and the resolver's outstanding query take their
    # datagrams here and parse them in place.
    if dport == _DHCP_CLIENT_PORT and nic._dhcp is not None:
        nic._dhcp.input(buf, ip, off + wudp.HDR_LEN, ulen - wudp.HDR_LEN, sport, nic._now())
        return
    r = nic._dns_res
    if r is not None and r.port == dport and dport:
        r.input(buf, ip, off + wudp.HDR_LEN, ulen - wudp.HDR_LEN, sport)
        return
    s_hi = (buf[ip + 12] << 8) | buf[ip + 13]
    s_lo = (buf[ip + 14] << 8) | buf[ip + 15]
    for s in nic._socks:
        if s is None or s.kind != SOCK_DGRAM or s.lport != dport:
            continue
        if s.laddr is not None and not bcast and not (
                s.laddr[0] == buf[ip + 16] and s.laddr[1] == buf[ip + 17]
                and s.laddr[2] == buf[ip + 18] and s.laddr[3] == buf[ip + 19]):
            continue
        if s.rport and (s.rport != sport or s._r_hi != s_hi or s._r_lo != s_lo):
            continue  # connected: only datagrams from the peer
        d = off + wudp.HDR_LEN
        if not s._put(buf, d, ulen - wudp.HDR_LEN, sport, buf, ip + 12):
            cnt[UDP_QUEUE_FULL] += 1
        return
    cnt[UDP_NO_PORT] += 1
    if not bcast:
        from .icmp import unreachable
        from .wire.icmp import PORT_UNREACH
        unreachable(nic, buf, ip, off - ip, off - ip + n, PORT_UNREACH)


def icmp_error(nic, buf, q, l4, err):
    """An ICMP error quotes our datagram (IP header at q, UDP header at l4): give it
    to the socket that sent it (RFC 1122 4.1.3.3)."""
    sport = (buf[l4] << 8) | buf[l4 + 1]
    dport = (buf[l4 + 2] << 8) | buf[l4 + 3]
    d_hi = (buf[q + 16] << 8) | buf[q + 17]
    d_lo = (buf[q + 18] << 8) | buf[q + 19]
    for s in nic._socks:
        if s is None or s.kind != SOCK_DGRAM or s.lport != sport:
            continue
        if s.rport and (s.rport != dport or s._r_hi != d_hi or s._r_lo != d_lo):
            continue
        s.err = err
        return


def sendto(nic, s, data, n, dst, dport):
    """Send n bytes of data from socket s to dst (4 bytes) : dport. Returns n, or a
    negative errno (nothing sent)."""
    if IP_HDR + wudp.HDR_LEN + n > nic.mtu:
        return -EMSGSIZE
    t = nic._tx
    l4 = nic._l4_off
    d = l4 + wudp.HDR_LEN
    t[d:d + n] = data
    ulen = wudp.HDR_LEN + n
    r = nic._ip_prepare(dst, 0, PROTO_UDP, ulen)
    if r < 0:
        return r
    wudp.build(t, nic._ip_off, l4, s.lport, dport, ulen)
    nic._count[UDP_TX] += 1
    r = nic._ip_send(ulen)
    return n if r >= 0 else r
