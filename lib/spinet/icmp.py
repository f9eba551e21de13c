# spinet.icmp — echo, errors we send and errors we receive.
#
# Heads up: read RFC 792 and RFC 1122 3.2.2. A host MUST answer echo requests with
# the data returned intact (3.2.2.6), MUST NOT send an ICMP error about an ICMP
# error, a broadcast or multicast datagram, or a non-first fragment (3.2.2), SHOULD
# send port unreachable for UDP to a closed port (4.1.3.1), and MUST pass errors to
# the transport layer (3.2.2.1). Our errors are rate-limited (ICMP_ERR_PER_S, a
# token bucket) so a scan cannot turn us into a traffic source.

from . import config
from .compat import EHOSTUNREACH, ECONNREFUSED, const, ticks_diff
from .counters import (ICMP_BAD, ICMP_ECHO_REPLY_RX, ICMP_ECHO_RX, ICMP_ERROR_RX, ICMP_IGNORED,
                       ICMP_RATE_LIMITED, ICMP_RX, ICMP_TX, ICMP_UNREACH_TX, IP_TOO_BIG)
from .ring import copy
from .wire import icmp as wicmp
from .wire.checksum import sum16
from .wire.ipv4 import HDR_LEN as IP_HDR
from .wire.icmp import PORT_UNREACH, PROTO_UNREACH  # noqa: F401  (used by iface, udp)
from .wire.ipv4 import PROTO_ICMP, PROTO_UDP

_ERR_QUOTE = const(8)  # bytes of the offending datagram's payload quoted (RFC 792)


def input(nic, buf, ip, off, n, bcast):
    """An ICMP message of n bytes at buf[off:] (IP header at ip)."""
    cnt = nic._count
    if n < wicmp.HDR_LEN or sum16(buf, off, n) != 0xFFFF:
        cnt[ICMP_BAD] += 1
        return
    cnt[ICMP_RX] += 1
    typ = buf[off]
    if typ == wicmp.ECHO_REQUEST:
        cnt[ICMP_ECHO_RX] += 1
        if bcast:  # RFC 1122 3.2.2.6: MAY ignore; a broadcast ping is a smurf amplifier
            cnt[ICMP_IGNORED] += 1
            return
        _echo_reply(nic, buf, ip, off, n)
    elif typ == wicmp.ECHO_REPLY:
        cnt[ICMP_ECHO_REPLY_RX] += 1
        _echo_reply_in(nic, buf, off, n)
    elif typ == wicmp.DEST_UNREACH or typ == wicmp.TIME_EXCEEDED:
        cnt[ICMP_ERROR_RX] += 1
        _error_in(nic, buf, off, n, typ)
    else:
        cnt[ICMP_IGNORED] += 1  # redirects, timestamps, quench...: not acted on


def _echo_reply(nic, buf, ip, off, n):
    if IP_HDR + n > nic.mtu:  # we set DF and never fragment our output
        nic._count[IP_TOO_BIG] += 1
        return
    t = nic._tx
    l4 = nic._l4_off
    # Identifier, sequence and data come back unchanged; only type and checksum differ.
    copy(t, l4, buf, off, n)
    t[l4] = wicmp.ECHO_REPLY
    t[l4 + 1] = 0
    t[l4 + 2] = 0
    t[l4 + 3] = 0
    c = ~sum16(t, l4, n) & 0xFFFF
    t[l4 + 2] = c >> 8
    t[l4 + 3] = c & 0xFF
    nic._count[ICMP_TX] += 1
    nic._ip_output(buf, ip + 12, PROTO_ICMP, n)


def _echo_reply_in(nic, buf, off, n):
    p = nic._ping
    if p is None or n < wicmp.HDR_LEN:
        return
    ident = (buf[off + 4] << 8) | buf[off + 5]
    seq = (buf[off + 6] << 8) | buf[off + 7]
    if ident != p.ident or seq != p.seq or p.rtt is not None:
        return  # not ours, or a late/duplicate reply
    size = n - wicmp.HDR_LEN
    if size != p.size:
        nic._count[ICMP_BAD] += 1
        return
    d = off + wicmp.HDR_LEN
    for i in range(size):  # the data must come back intact
        if buf[d + i] != (i & 0xFF):
            nic._count[ICMP_BAD] += 1
            return
    p.rtt = ticks_diff(nic._now(), p.sent)


def _error_in(nic, buf, off, n, typ):
    # The quoted datagram: its IP header and at least 8 bytes of its payload.
    q = off + wicmp.HDR_LEN
    if n < wicmp.HDR_LEN + IP_HDR + _ERR_QUOTE or buf[q] >> 4 != 4:
        nic._count[ICMP_BAD] += 1
        return
    qhl = (buf[q] & 0x0F) << 2
    if qhl < IP_HDR or n < wicmp.HDR_LEN + qhl + _ERR_QUOTE:
        nic._count[ICMP_BAD] += 1
        return
    code = buf[off + 1]
    if typ == wicmp.DEST_UNREACH and code == wicmp.FRAG_NEEDED:
        return  # we send with DF at <= MTU; no path MTU discovery below 1500 yet
    if typ == wicmp.DEST_UNREACH and (code == wicmp.PORT_UNREACH
                                      or code == wicmp.PROTO_UNREACH):
        err = ECONNREFUSED
    else:
        err = EHOSTUNREACH
    proto = buf[q + 9]
    if proto == PROTO_UDP:
        from . import udp
        udp.icmp_error(nic, buf, q, q + qhl, err)


class _Ping:
    # The one probe in flight from nic.ping().
    def __init__(self, ident, seq, size, sent):
        self.ident = ident
        self.seq = seq
        self.size = size
        self.sent = sent
        self.rtt = None


def ping(nic, dst, count, timeout_ms, size):
    """Send count echo requests to dst (4 bytes) one after another; return a list
    with the round-trip time in ms of each, None for a probe that got no reply."""
    from .compat import random16
    if size < 0 or IP_HDR + wicmp.HDR_LEN + size > nic.mtu:
        raise ValueError("size")
    ident = random16()
    out = []
    for seq in range(count):
        n = wicmp.HDR_LEN + size
        t = nic._tx
        l4 = nic._l4_off
        d = l4 + wicmp.HDR_LEN
        for i in range(size):
            t[d + i] = i & 0xFF
        wicmp.build(t, l4, n, wicmp.ECHO_REQUEST, 0, ident, seq & 0xFFFF)
        p = _Ping(ident, seq & 0xFFFF, size, nic._now())
        nic._ping = p
        nic._count[ICMP_TX] += 1
        nic._ip_output(dst, 0, PROTO_ICMP, n)
        nic._wait_until(lambda: p.rtt is not None, timeout_ms)
        out.append(p.rtt)
    nic._ping = None
    return out


def unreachable(nic, buf, ip, ihl, total, code):
    """Send destination unreachable about the datagram at buf[ip:] (we received it,
    unicast). Rate-limited; quotes the header and 8 bytes of payload."""
    # RFC 1122 3.2.2: never about a link-layer broadcast (the frame being handled is
    # still in the RX buffer, also when buf is the reassembly buffer), nor to a
    # source that is not one host (0/8, 127/8; broadcast and multicast sources were
    # dropped on input).
    s0 = buf[ip + 12]
    if nic._rx[config.FRAME_PAD] & 1 or s0 == 0 or s0 == 127:
        return
    now = nic._now()
    if ticks_diff(now, nic._icmp_t) >= 1000 or ticks_diff(now, nic._icmp_t) < 0:
        nic._icmp_t = now
        nic._icmp_tokens = config.ICMP_ERR_PER_S
    if nic._icmp_tokens <= 0:
        nic._count[ICMP_RATE_LIMITED] += 1
        return
    nic._icmp_tokens -= 1
    q = ihl + _ERR_QUOTE
    if q > total:
        q = total
    t = nic._tx
    l4 = nic._l4_off
    copy(t, l4 + wicmp.HDR_LEN, buf, ip, q)
    n = wicmp.HDR_LEN + q
    wicmp.build(t, l4, n, wicmp.DEST_UNREACH, code, 0, 0)
    nic._count[ICMP_TX] += 1
    nic._count[ICMP_UNREACH_TX] += 1
    nic._ip_output(buf, ip + 12, PROTO_ICMP, n)
