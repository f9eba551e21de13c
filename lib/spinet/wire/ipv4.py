# IPv4 header (RFC 791 3.1).
#
#    0                   1                   2                   3
#    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |Version|  IHL  |Type of Service|          Total Length         |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |         Identification        |Flags|      Fragment Offset    |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |  Time to Live |    Protocol   |         Header Checksum       |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |                       Source Address                          |
#   |                    Destination Address                        |
#   |                    Options (IHL > 5)                          |
#
# Addresses are kept as 4-byte bytes (a 32-bit int would be a heap object on a
# 32-bit board); comparisons use 16-bit halves read by index.

from ..compat import const
from .checksum import sum16

HDR_LEN = const(20)
PROTO_ICMP = const(1)
PROTO_TCP = const(6)
PROTO_UDP = const(17)
FLAG_DF = const(0x4000)
FLAG_MF = const(0x2000)
OFFSET_MASK = const(0x1FFF)

# check() results below zero name what is wrong with a header
BAD_VERSION = const(-1)
BAD_IHL = const(-2)
BAD_LENGTH = const(-3)
BAD_CHECKSUM = const(-4)

ANY = b"\x00\x00\x00\x00"
BROADCAST = b"\xff\xff\xff\xff"


def check(buf, off, n):
    """Validate the header of a datagram of n bytes at off (n = what the frame
    holds). Returns the header length, or a BAD_* code. RFC 1122 3.2.1.1-3.2.1.2:
    version, header length, total length and checksum are checked before use."""
    if n < HDR_LEN:
        return BAD_LENGTH
    vihl = buf[off]
    if vihl >> 4 != 4:
        return BAD_VERSION
    ihl = (vihl & 0x0F) << 2
    if ihl < HDR_LEN:
        return BAD_IHL
    total = (buf[off + 2] << 8) | buf[off + 3]
    if total < ihl or total > n:
        return BAD_LENGTH
    if sum16(buf, off, ihl) != 0xFFFF:
        return BAD_CHECKSUM
    return ihl


def total_length(buf, off):
    return (buf[off + 2] << 8) | buf[off + 3]


def frag_field(buf, off):
    """Flags and fragment offset (in 8-byte units) as one 16-bit value."""
    return (buf[off + 6] << 8) | buf[off + 7]


def ident(buf, off):
    return (buf[off + 4] << 8) | buf[off + 5]


def build(buf, off, total, ident, proto, ttl, flags=FLAG_DF):
    """Write a 20-byte header and its checksum. Source and destination must already
    be in place (buf[off+12:off+20]): callers copy them without allocating."""
    buf[off] = 0x45
    buf[off + 1] = 0
    buf[off + 2] = total >> 8
    buf[off + 3] = total & 0xFF
    buf[off + 4] = (ident >> 8) & 0xFF
    buf[off + 5] = ident & 0xFF
    buf[off + 6] = flags >> 8
    buf[off + 7] = flags & 0xFF
    buf[off + 8] = ttl
    buf[off + 9] = proto
    buf[off + 10] = 0
    buf[off + 11] = 0
    c = ~sum16(buf, off, HDR_LEN) & 0xFFFF
    buf[off + 10] = c >> 8
    buf[off + 11] = c & 0xFF


def copy4(dst, doff, src, soff):
    """Copy an address between buffers without allocating a slice."""
    dst[doff] = src[soff]
    dst[doff + 1] = src[soff + 1]
    dst[doff + 2] = src[soff + 2]
    dst[doff + 3] = src[soff + 3]


def eq4(a, aoff, b, boff):
    return (a[aoff] == b[boff] and a[aoff + 1] == b[boff + 1]
            and a[aoff + 2] == b[boff + 2] and a[aoff + 3] == b[boff + 3])


def hi16(buf, off):
    return (buf[off] << 8) | buf[off + 1]


def aton(s):
    """'192.0.2.1' -> b'\\xc0\\x00\\x02\\x01'; ValueError unless a strict dotted quad."""
    parts = s.split(".")
    if len(parts) != 4:
        raise ValueError("bad IPv4 address")
    out = bytearray(4)
    for i in range(4):
        p = parts[i]
        if not p or len(p) > 3 or not p.isdigit():
            raise ValueError("bad IPv4 address")
        v = int(p)
        if v > 255:
            raise ValueError("bad IPv4 address")
        out[i] = v
    return bytes(out)


def ntoa(b, off=0):
    return "%d.%d.%d.%d" % (b[off], b[off + 1], b[off + 2], b[off + 3])
