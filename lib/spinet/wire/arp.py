# ARP for IPv4 over Ethernet (RFC 826).
#
#   0        2        4    5    6        8                14       18               24       28
#   +--------+--------+----+----+--------+----------------+--------+----------------+--------+
#   | htype=1| ptype= | hl | pl | oper   | sender MAC     | sender | target MAC     | target |
#   |        | 0x0800 | =6 | =4 | 1 or 2 |                | IP     |                | IP     |
#   +--------+--------+----+----+--------+----------------+--------+----------------+--------+
#
# Helpers take (buf, off) with off at the first byte of the ARP packet.

from ..compat import const

LEN = const(28)
OP_REQUEST = const(1)
OP_REPLY = const(2)
SHA = const(8)  # offsets of the four addresses
SPA = const(14)
THA = const(18)
TPA = const(24)


def check(buf, off, n):
    """The operation (1 or 2) of a well-formed Ethernet/IPv4 ARP packet, else 0."""
    if n < LEN:
        return 0
    if (buf[off] != 0 or buf[off + 1] != 1 or buf[off + 2] != 0x08 or buf[off + 3] != 0
            or buf[off + 4] != 6 or buf[off + 5] != 4 or buf[off + 6] != 0):
        return 0
    op = buf[off + 7]
    if op != OP_REQUEST and op != OP_REPLY:
        return 0
    return op


def build_head(buf, off, op, sha, spa):
    """Write the fixed fields, the operation and the sender's addresses."""
    buf[off] = 0
    buf[off + 1] = 1
    buf[off + 2] = 0x08
    buf[off + 3] = 0
    buf[off + 4] = 6
    buf[off + 5] = 4
    buf[off + 6] = 0
    buf[off + 7] = op
    buf[off + SHA:off + SHA + 6] = sha
    buf[off + SPA:off + SPA + 4] = spa


def build(buf, off, op, sha, spa, tha, tpa):
    """Write a 28-byte ARP packet; addresses are bytes-likes of 6 and 4 bytes."""
    build_head(buf, off, op, sha, spa)
    buf[off + THA:off + THA + 6] = tha
    buf[off + TPA:off + TPA + 4] = tpa
