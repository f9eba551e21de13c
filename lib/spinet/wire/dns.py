# DNS message format (RFC 1035 4.1), over UDP port 53.
#
#    0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
#   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
#   |                      ID                       |
#   |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
#   |                    QDCOUNT                    |
#   |                    ANCOUNT                    |
#   |                    NSCOUNT                    |
#   |                    ARCOUNT                    |
#   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
#   question: QNAME QTYPE(2) QCLASS(2)
#   resource record: NAME TYPE(2) CLASS(2) TTL(4) RDLENGTH(2) RDATA
#
# A name is a sequence of labels (a length byte 1..63, then the bytes) ended by a
# zero byte, or cut short by a compression pointer (two bytes, top bits 11, the
# offset of an earlier name in the message; RFC 1035 4.1.4). Every walk here is
# bounded: a pointer must point backwards (before the pointer itself, so a chain of
# pointers cannot loop), at most PTR_MAX pointers are followed per name, and a name
# is at most 255 bytes in wire form (which ends a loop through labels and a pointer
# back to them). Names compare ASCII case-insensitively (RFC 4343).
# Nothing here allocates.

from ..compat import const

HDR_LEN = const(12)
PORT = const(53)
TYPE_A = const(1)
TYPE_CNAME = const(5)
CLASS_IN = const(1)
RCODE_NXDOMAIN = const(3)
FLAG_QR = const(0x80)  # in byte 2
FLAG_TC = const(0x02)  # in byte 2
FLAG_RD = const(0x01)  # in byte 2
NAME_MAX = const(255)  # wire form, length bytes and the root included
PTR_MAX = const(16)

BAD = const(-1)


def encode(host, out, off):
    """Write host ("a.example.com", str or bytes, no trailing dot needed) in wire
    form at out[off:]. Returns the end offset, or BAD for an impossible name."""
    if isinstance(host, str):
        host = host.encode()
    n = len(host)
    if n and host[n - 1] == 0x2E:  # a trailing dot: the root, already implied
        n -= 1
    if n == 0 or n > NAME_MAX - 2:
        return BAD
    p = off
    start = 0
    for i in range(n + 1):
        if i == n or host[i] == 0x2E:
            ln = i - start
            if ln < 1 or ln > 63:
                return BAD
            out[p] = ln
            out[p + 1:p + 1 + ln] = host[start:i]
            p += 1 + ln
            start = i + 1
    out[p] = 0
    return p + 1


def skip(buf, msg, end, p):
    """The offset after the name at p (without following pointers), or BAD."""
    while True:
        if p >= end:
            return BAD
        c = buf[p]
        if c == 0:
            return p + 1
        if c & 0xC0 == 0xC0:
            if p + 2 > end:
                return BAD
            if (((c & 0x3F) << 8) | buf[p + 1]) + msg >= p:
                return BAD  # forward or self pointer
            return p + 2
        if c & 0xC0:
            return BAD  # 0x40 / 0x80 label types (RFC 6891 obsoleted them)
        p += 1 + c
        if p - msg > 65535:
            return BAD


def _lc(c):
    return c + 32 if 65 <= c <= 90 else c


def _follow(buf, msg, end, p):
    """Resolve a possible pointer chain at p: the offset of the next label byte, or
    BAD. Each pointer must point before itself; at most PTR_MAX of them."""
    for _ in range(PTR_MAX + 1):
        if p >= end:
            return BAD
        c = buf[p]
        if c & 0xC0 != 0xC0:
            if c & 0xC0:
                return BAD
            return p
        if p + 2 > end:
            return BAD
        t = msg + (((c & 0x3F) << 8) | buf[p + 1])
        if t >= p:
            return BAD
        p = t
    return BAD


def equals(buf, msg, end, p, name, noff):
    """Does the (possibly compressed) name at buf[p] equal the uncompressed wire-form
    name at name[noff:]? 1 yes, 0 no, BAD if the packet's name is malformed."""
    total = 0
    jumps = 0
    while True:
        if p >= end:
            return BAD
        if buf[p] & 0xC0 == 0xC0:
            q = _follow(buf, msg, end, p)
            if q < 0:
                return BAD
            jumps += 1
            if jumps > PTR_MAX:
                return BAD
            p = q
        c = buf[p]
        if c & 0xC0:
            return BAD
        if p + 1 + c > end:
            return BAD
        total += 1 + c
        if total > NAME_MAX:
            return BAD
        if name[noff] != c:
            # Different lengths: not equal, but finish validating the packet's name.
            return 0 if walk(buf, msg, end, p) > 0 else BAD
        if c == 0:
            return 1
        for k in range(1, c + 1):
            if _lc(buf[p + k]) != _lc(name[noff + k]):
                return 0 if walk(buf, msg, end, p) > 0 else BAD
        p += 1 + c
        noff += 1 + c


def walk(buf, msg, end, p):
    """Validate the whole name at p, pointers followed: its wire length, or BAD."""
    total = 0
    for _ in range(NAME_MAX + PTR_MAX):
        q = _follow(buf, msg, end, p)
        if q < 0:
            return BAD
        c = buf[q]
        if q + 1 + c > end:
            return BAD
        total += 1 + c
        if total > NAME_MAX:
            return BAD
        if c == 0:
            return total
        p = q + 1 + c
    return BAD


def expand(buf, msg, end, p, out, ooff):
    """Copy the name at p, decompressed, into out[ooff:] (room for NAME_MAX bytes).
    Returns its wire length, or BAD."""
    n = walk(buf, msg, end, p)
    if n < 0:
        return BAD
    w = ooff
    while True:
        p = _follow(buf, msg, end, p)
        c = buf[p]
        out[w] = c
        if c == 0:
            return n
        for k in range(1, c + 1):
            out[w + k] = buf[p + k]
        w += 1 + c
        p += 1 + c


def build_query(buf, off, ident, name, nlen):
    """A recursive query for the A record of the wire-form name[:nlen]. Returns its
    length."""
    buf[off] = ident >> 8
    buf[off + 1] = ident & 0xFF
    buf[off + 2] = FLAG_RD
    buf[off + 3] = 0
    buf[off + 4] = 0
    buf[off + 5] = 1  # QDCOUNT
    for i in range(off + 6, off + HDR_LEN):
        buf[i] = 0
    q = off + HDR_LEN
    buf[q:q + nlen] = memoryview(name)[:nlen]
    q += nlen
    buf[q] = 0
    buf[q + 1] = TYPE_A
    buf[q + 2] = 0
    buf[q + 3] = CLASS_IN
    return q + 4 - off


def u16(buf, p):
    return (buf[p] << 8) | buf[p + 1]


def ttl(buf, p, cap):
    """The TTL at p in seconds, at most cap; values with the top bit set count as 0
    (RFC 2181 8). Read in 16-bit halves (no heap int on a 32-bit board)."""
    hi = (buf[p] << 8) | buf[p + 1]
    if hi & 0x8000:
        return 0
    if hi > (cap >> 16):
        return cap
    v = (hi << 16) | (buf[p + 2] << 8) | buf[p + 3]
    return cap if v > cap else v


def to_text(name, noff):
    """A wire-form name as "a.b.c" (str; allocates, for the API edge only)."""
    parts = []
    p = noff
    while name[p]:
        c = name[p]
        parts.append(bytes(name[p + 1:p + 1 + c]).decode())
        p += 1 + c
    return ".".join(parts)
