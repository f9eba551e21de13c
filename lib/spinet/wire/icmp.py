# ICMP messages used by a host (RFC 792, RFC 1122 3.2.2).
#
#   0        1        2                 4                                8
#   +--------+--------+-----------------+--------------------------------+------
#   | type   | code   | checksum        | rest of header                 | data
#   +--------+--------+-----------------+--------------------------------+------
#   echo / echo reply: rest = identifier (16) | sequence (16); data = payload.
#   destination unreachable / time exceeded: rest = unused (0); data = the IP
#   header of the datagram that failed plus its first 8 bytes.

from ..compat import const
from .checksum import checksum

HDR_LEN = const(8)
ECHO_REPLY = const(0)
DEST_UNREACH = const(3)
SOURCE_QUENCH = const(4)
REDIRECT = const(5)
ECHO_REQUEST = const(8)
TIME_EXCEEDED = const(11)
PARAM_PROBLEM = const(12)

# Destination unreachable codes
NET_UNREACH = const(0)
HOST_UNREACH = const(1)
PROTO_UNREACH = const(2)
PORT_UNREACH = const(3)
FRAG_NEEDED = const(4)


def build(buf, off, n, typ, code, rest_hi, rest_lo):
    """Fill the 8-byte header of an n-byte message whose data is already in place,
    and its checksum over all n bytes."""
    buf[off] = typ
    buf[off + 1] = code
    buf[off + 2] = 0
    buf[off + 3] = 0
    buf[off + 4] = rest_hi >> 8
    buf[off + 5] = rest_hi & 0xFF
    buf[off + 6] = rest_lo >> 8
    buf[off + 7] = rest_lo & 0xFF
    c = checksum(buf, off, n)
    buf[off + 2] = c >> 8
    buf[off + 3] = c & 0xFF
