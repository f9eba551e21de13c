# spinet.loopback — datagrams to 127.0.0.0/8 or to the interface's own address,
# delivered to this stack by the next poll(), never through the driver (RFC 1122
# 3.2.1.3: 127/8 never leaves the host), as lwIP's loopback netif does on
# MicroPython's own ports.
#
# Heads up: Interface._ip_send calls put() for such a datagram once it has found that
# it is not for the wire (its per-segment path for the wire is unchanged). put()
# schedules an immediate timer, and Interface._timers (run by the next poll()) calls
# drain(): poll() itself tests nothing more per call. Delivery waits for poll()
# because the sender may be in the middle of a state change (tcp.output between two
# segments): handling the datagram at once would re-enter it.
#
# Memory: one buffer of config.LOOPBACK_BYTES, made the first time something is
# looped back, holding [2-byte length, 2 spare, datagram] records end to end, each
# 4-aligned (an ACK takes 44 bytes, not a slot of MTU). A record never wraps: one
# that does not fit before the end goes to the front if the front is free. Past the
# bound a datagram is dropped and counted, as a full queue on a wire would drop it
# (TCP sends it again).

from . import config
from .ring import copy
from .wire import ipv4

_IP_OFF = config.FRAME_PAD + config.ETH_HDR
_L4_OFF = _IP_OFF + ipv4.HDR_LEN


def _csum_adjust(b, at, old, new):
    """Update the checksum at b[at:at+2] for 16-bit words summing to old replaced by
    words summing to new (RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'))."""
    old = (old & 0xFFFF) + (old >> 16)
    new = (new & 0xFFFF) + (new >> 16)
    s = (~((b[at] << 8) | b[at + 1]) & 0xFFFF) + (~old & 0xFFFF) + new
    s = (s & 0xFFFF) + (s >> 16)
    s = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
    b[at] = s >> 8
    b[at + 1] = s & 0xFF


class Loopback:
    def __init__(self, nic, size=config.LOOPBACK_BYTES):
        self.nic = nic
        self.buf = bytearray(size)
        self.head = 0  # oldest record
        self.tail = 0  # where the next record goes
        self.end = 0  # when wrapped: where the records before the wrap end
        self.wrap = False
        self.drops = 0

    def put(self, l4len):
        """Queue the datagram in nic's TX buffer (IP header at _IP_OFF). One to 127/8
        gets that address as its source (checksums updated), so that replies come
        back to the same loopback address. Returns 0 (sent, or dropped: full)."""
        nic = self.nic
        q = self.buf
        n = ipv4.HDR_LEN + l4len
        r = (n + 7) & ~3  # length header + datagram, kept 4-aligned
        if nic._lo_n == 0:
            self.head = self.tail = 0
            self.wrap = False
        at = self.tail
        if self.wrap:
            if at + r > self.head:
                at = -1
        elif at + r > len(q):
            if r <= self.head:
                self.end = at
                self.wrap = True
                at = 0
            else:
                at = -1
        if at < 0:
            self.drops += 1
            return 0
        t = nic._tx
        o = _IP_OFF
        if t[o + 16] == 127:
            old = ((t[o + 12] << 8) | t[o + 13]) + ((t[o + 14] << 8) | t[o + 15])
            new = ((t[o + 16] << 8) | t[o + 17]) + ((t[o + 18] << 8) | t[o + 19])
            copy(t, o + 12, t, o + 16, 4)
            _csum_adjust(t, o + 10, old, new)
            p = t[o + 9]
            if p == ipv4.PROTO_TCP:
                _csum_adjust(t, _L4_OFF + 16, old, new)
            elif p == ipv4.PROTO_UDP and (t[_L4_OFF + 6] or t[_L4_OFF + 7]):
                _csum_adjust(t, _L4_OFF + 6, old, new)  # 0: sent without a checksum
        q[at] = n >> 8
        q[at + 1] = n & 0xFF
        copy(q, at + 4, t, o, n)
        self.tail = at + r
        nic._lo_n += 1
        nic._schedule(nic._now())  # poll() runs the timers, which drain the queue
        return 0

    def drain(self):
        """Deliver the datagrams queued so far; replies they cause are queued behind
        them, for the next poll(). Each is copied to the RX buffer first, so its place
        in the queue is free again before it is handled."""
        nic = self.nic
        q = self.buf
        b = nic._rx
        o = _IP_OFF
        for _ in range(nic._lo_n):
            h = self.head
            if self.wrap and h >= self.end:
                h = 0
                self.wrap = False
            n = (q[h] << 8) | q[h + 1]
            copy(b, o, q, h + 4, n)
            self.head = h + ((n + 7) & ~3)
            nic._lo_n -= 1
            hl = (b[o] & 15) << 2
            nic._deliver(nic._rxmv, o, hl, n - hl, False)
