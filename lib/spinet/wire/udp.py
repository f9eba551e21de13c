# UDP header (RFC 768).
#
#   0                   2                   4                   6                   8
#   +-------------------+-------------------+-------------------+-------------------+
#   | source port       | destination port  | length            | checksum          |
#   +-------------------+-------------------+-------------------+-------------------+
#
# The checksum covers the pseudo-header (source, destination, protocol, length), the
# header and the data. A transmitted checksum of 0 means "none" (accepted on input);
# a computed 0 is sent as 0xFFFF.

from ..compat import const
from .checksum import checksum, pseudo_sum, sum16

HDR_LEN = const(8)


def check(buf, ip_off, off, n):
    """Validate a UDP datagram of n bytes (what the IP payload holds) at off.
    Returns the UDP length, -1 for a bad length, -2 for a bad checksum."""
    if n < HDR_LEN:
        return -1
    ulen = (buf[off + 4] << 8) | buf[off + 5]
    if ulen < HDR_LEN or ulen > n:
        return -1
    if buf[off + 6] | buf[off + 7]:
        s = sum16(buf, off, ulen) + pseudo_sum(buf, ip_off, 17, ulen)
        s = (s & 0xFFFF) + (s >> 16)
        if s != 0xFFFF:
            return -2
    return ulen


def build(buf, ip_off, off, sport, dport, ulen):
    """Write the header of a UDP datagram whose data (ulen - 8 bytes) is in place
    after it; the IP header at ip_off must already hold source and destination."""
    buf[off] = sport >> 8
    buf[off + 1] = sport & 0xFF
    buf[off + 2] = dport >> 8
    buf[off + 3] = dport & 0xFF
    buf[off + 4] = ulen >> 8
    buf[off + 5] = ulen & 0xFF
    buf[off + 6] = 0
    buf[off + 7] = 0
    c = checksum(buf, off, ulen, pseudo_sum(buf, ip_off, 17, ulen))
    if c == 0:
        c = 0xFFFF
    buf[off + 6] = c >> 8
    buf[off + 7] = c & 0xFF
