# Ethernet II framing (IEEE 802.3 with an EtherType, RFC 894).
#
#   0                   6                  12      14
#   +-------------------+-------------------+-------+---------
#   | destination MAC   | source MAC        | type  | payload
#   +-------------------+-------------------+-------+---------
#
# No FCS: the controller adds and checks it. Helpers take (buf, off) where off is
# the first byte of the frame.

from ..compat import const

HDR_LEN = const(14)
MIN_FRAME = const(60)  # shortest frame on the wire without FCS; the chips pad for us
TYPE_IPV4 = const(0x0800)
TYPE_ARP = const(0x0806)

BROADCAST = b"\xff\xff\xff\xff\xff\xff"


def ethertype(buf, off):
    return (buf[off + 12] << 8) | buf[off + 13]


def is_group(buf, off):
    """Multicast or broadcast destination (I/G bit set)."""
    return buf[off] & 1


def is_broadcast(buf, off):
    return (buf[off] & buf[off + 1] & buf[off + 2] & buf[off + 3]
            & buf[off + 4] & buf[off + 5]) == 0xFF


def dst_is(buf, off, mac):
    """True if the destination equals mac (6 bytes); no allocation."""
    return (buf[off] == mac[0] and buf[off + 1] == mac[1] and buf[off + 2] == mac[2]
            and buf[off + 3] == mac[3] and buf[off + 4] == mac[4]
            and buf[off + 5] == mac[5])


def build(buf, off, dst, src, etype):
    """Write the 14-byte header; dst and src are 6-byte bytes-likes."""
    buf[off:off + 6] = dst
    buf[off + 6:off + 12] = src
    buf[off + 12] = etype >> 8
    buf[off + 13] = etype & 0xFF


def mac_str(mac):
    return ":".join("%02x" % b for b in mac)
