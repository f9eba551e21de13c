# TCP header (RFC 9293 3.1).
#
#    0                   1                   2                   3
#    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |          Source Port          |       Destination Port        |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |                        Sequence Number                        |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |                    Acknowledgment Number                      |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |  Data |       |C|E|U|A|P|R|S|F|                               |
#   | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |           Checksum            |         Urgent Pointer        |
#   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#   |                    Options (data offset > 5)                  |
#
# Sequence and acknowledgment numbers are read and written as 16-bit halves: a 32-bit
# value would be a heap object on a 32-bit board (see wire/seq.py).

from ..compat import const
from .checksum import pseudo_sum, sum16

HDR_LEN = const(20)
FIN = const(0x01)
SYN = const(0x02)
RST = const(0x04)
PSH = const(0x08)
ACK = const(0x10)
URG = const(0x20)

OPT_END = const(0)
OPT_NOP = const(1)
OPT_MSS = const(2)

BAD_LENGTH = const(-1)
BAD_OFFSET = const(-2)
BAD_CHECKSUM = const(-3)
BAD_OPTIONS = const(-4)


def check(buf, ip_off, off, n):
    """Validate a segment of n bytes at off (IP header at ip_off). Returns the header
    length (data offset in bytes) or a BAD_* code."""
    if n < HDR_LEN:
        return BAD_LENGTH
    hl = (buf[off + 12] >> 4) << 2
    if hl < HDR_LEN or hl > n:
        return BAD_OFFSET
    s = sum16(buf, off, n) + pseudo_sum(buf, ip_off, 6, n)
    s = (s & 0xFFFF) + (s >> 16)
    if s != 0xFFFF:
        return BAD_CHECKSUM
    return hl


def mss_option(buf, off, hl):
    """The MSS option's value, 0 if absent, BAD_OPTIONS if the options are malformed
    (a length that is < 2 or runs past the header). Other options are skipped
    (RFC 9293 3.2: unknown options MUST be skipped by their length)."""
    i = off + HDR_LEN
    end = off + hl
    mss = 0
    while i < end:
        kind = buf[i]
        if kind == OPT_END:
            break
        if kind == OPT_NOP:
            i += 1
            continue
        if i + 1 >= end:
            return BAD_OPTIONS
        ln = buf[i + 1]
        if ln < 2 or i + ln > end:
            return BAD_OPTIONS
        if kind == OPT_MSS:
            if ln != 4:
                return BAD_OPTIONS
            mss = (buf[i + 2] << 8) | buf[i + 3]
        i += ln
    return mss


def build(buf, ip_off, off, sport, dport, seq_hi, seq_lo, ack_hi, ack_lo, flags, window,
          mss, n_data):
    """Write the header (with an MSS option when mss > 0) of a segment whose n_data
    bytes of data already sit after it, and its checksum. The IP header at ip_off must
    hold source and destination. Returns the segment length."""
    hl = HDR_LEN + 4 if mss else HDR_LEN
    buf[off] = sport >> 8
    buf[off + 1] = sport & 0xFF
    buf[off + 2] = dport >> 8
    buf[off + 3] = dport & 0xFF
    buf[off + 4] = seq_hi >> 8
    buf[off + 5] = seq_hi & 0xFF
    buf[off + 6] = seq_lo >> 8
    buf[off + 7] = seq_lo & 0xFF
    buf[off + 8] = ack_hi >> 8
    buf[off + 9] = ack_hi & 0xFF
    buf[off + 10] = ack_lo >> 8
    buf[off + 11] = ack_lo & 0xFF
    buf[off + 12] = (hl >> 2) << 4
    buf[off + 13] = flags
    buf[off + 14] = window >> 8
    buf[off + 15] = window & 0xFF
    buf[off + 16] = 0
    buf[off + 17] = 0
    buf[off + 18] = 0
    buf[off + 19] = 0
    if mss:
        buf[off + 20] = OPT_MSS
        buf[off + 21] = 4
        buf[off + 22] = mss >> 8
        buf[off + 23] = mss & 0xFF
    n = hl + n_data
    s = sum16(buf, off, n) + pseudo_sum(buf, ip_off, 6, n)
    s = (s & 0xFFFF) + (s >> 16)
    c = ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF
    buf[off + 16] = c >> 8
    buf[off + 17] = c & 0xFF
    return n
