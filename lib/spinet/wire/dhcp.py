# DHCP message format (RFC 2131 2, options RFC 2132), carried in UDP 67 <-> 68.
#
#    0                   1                   2                   3
#    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
#   +---------------+---------------+---------------+---------------+
#   |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
#   +---------------+---------------+---------------+---------------+
#   |                            xid (4)                            |
#   +-------------------------------+-------------------------------+
#   |           secs (2)            |           flags (2)           |
#   +-------------------------------+-------------------------------+
#   |  ciaddr (4)  |  yiaddr (4)  |  siaddr (4)  |  giaddr (4)      |
#   +---------------------------------------------------------------+
#   |  chaddr (16)  |  sname (64)  |  file (128)  |  magic cookie   |
#   +---------------------------------------------------------------+
#   |                      options (variable)                       |
#   +---------------------------------------------------------------+
#
# Options are code, length, value; code 0 (pad) and 255 (end) have no length. When
# option 52 ("overload") says so, the file and sname fields hold options too; RFC
# 2131 4.1 fixes the order: options, then file, then sname.
#
# scan() walks every option area within its bounds and records where the options
# the client uses start (the first instance of each; RFC 3396 concatenation of
# split options is not supported). It never reads past the message and allocates
# nothing: offsets go into a list the caller preallocated.

from ..compat import const

OP_REQUEST = const(1)  # BOOTREQUEST
OP_REPLY = const(2)  # BOOTREPLY
SERVER_PORT = const(67)
CLIENT_PORT = const(68)

XID = const(4)
SECS = const(8)
FLAGS = const(10)
CIADDR = const(12)
YIADDR = const(16)
SIADDR = const(20)
GIADDR = const(24)
CHADDR = const(28)
SNAME = const(44)
FILE = const(108)
COOKIE = const(236)
OPTIONS = const(240)
FLAG_BROADCAST = const(0x8000)

# message types (option 53)
DISCOVER = const(1)
OFFER = const(2)
REQUEST = const(3)
DECLINE = const(4)
ACK = const(5)
NAK = const(6)
RELEASE = const(7)
INFORM = const(8)

# option codes
OPT_PAD = const(0)
OPT_MASK = const(1)
OPT_ROUTER = const(3)
OPT_DNS = const(6)
OPT_HOSTNAME = const(12)
OPT_MTU = const(26)
OPT_BROADCAST = const(28)
OPT_REQ_ADDR = const(50)
OPT_LEASE = const(51)
OPT_OVERLOAD = const(52)
OPT_MSG_TYPE = const(53)
OPT_SERVER_ID = const(54)
OPT_PARAMS = const(55)
OPT_MAX_SIZE = const(57)
OPT_T1 = const(58)
OPT_T2 = const(59)
OPT_CLIENT_ID = const(61)
OPT_END = const(255)

# The options scan() records, and their slots in the caller's offset list.
CODES = (OPT_MSG_TYPE, OPT_SERVER_ID, OPT_LEASE, OPT_T1, OPT_T2, OPT_MASK, OPT_ROUTER,
         OPT_DNS, OPT_MTU, OPT_BROADCAST, OPT_OVERLOAD)
S_TYPE = const(0)
S_SERVER = const(1)
S_LEASE = const(2)
S_T1 = const(3)
S_T2 = const(4)
S_MASK = const(5)
S_ROUTER = const(6)
S_DNS = const(7)
S_MTU = const(8)
S_BCAST = const(9)
S_OVERLOAD = const(10)
SLOTS = const(11)

# Length rules per slot: exact length, or (for router and DNS) a multiple of 4.
_EXACT = (1, 4, 4, 4, 4, 4, -4, -4, 2, 4, 1)

# check() / scan() results below zero
BAD_SHORT = const(-1)  # shorter than the fixed part and the cookie
BAD_HEADER = const(-2)  # not a BOOTREPLY for Ethernet, or no magic cookie
BAD_OPTIONS = const(-3)  # an option runs past its area
BAD_OPTION_LEN = const(-4)  # an option the client uses has an impossible length
NO_TYPE = const(-5)  # no message type option: BOOTP, not DHCP

_COOKIE = b"\x63\x82\x53\x63"
_PARAMS = bytes((OPT_MASK, OPT_ROUTER, OPT_DNS, OPT_LEASE, OPT_T1, OPT_T2, OPT_BROADCAST,
                 OPT_MTU))


def check(buf, off, n):
    """Validate the fixed part of a server's message of n bytes at off: 0 or a BAD_*."""
    if n < OPTIONS + 1:
        return BAD_SHORT
    if buf[off] != OP_REPLY or buf[off + 1] != 1 or buf[off + 2] != 6:
        return BAD_HEADER
    c = off + COOKIE
    if (buf[c] != 0x63 or buf[c + 1] != 0x82 or buf[c + 2] != 0x53
            or buf[c + 3] != 0x63):
        return BAD_HEADER
    return 0


def _area(buf, p, end, offs):
    """Scan options in buf[p:end]: record first instances into offs (value offsets).
    Returns 0 at an end option or the area's end, BAD_OPTIONS on an overrun."""
    while p < end:
        code = buf[p]
        if code == OPT_PAD:
            p += 1
            continue
        if code == OPT_END:
            return 0
        if p + 2 > end:
            return BAD_OPTIONS
        ln = buf[p + 1]
        v = p + 2
        if v + ln > end:
            return BAD_OPTIONS
        for k in range(SLOTS):
            if CODES[k] == code:
                if offs[k] < 0:
                    want = _EXACT[k]
                    if (want > 0 and ln != want) or (want < 0 and (ln == 0 or ln & 3)):
                        return BAD_OPTION_LEN
                    offs[k] = v
                    offs[SLOTS + k] = ln
                break
        p = v + ln
    return 0


def scan(buf, off, n, offs):
    """Walk the options of the n-byte message at off (check() passed). offs is a
    list of 2 * SLOTS ints: value offsets (absolute, -1 when absent), then lengths.
    Returns the message type (1..8 or another byte), or a BAD_* / NO_TYPE code."""
    for k in range(SLOTS):
        offs[k] = -1
        offs[SLOTS + k] = 0
    end = off + n
    r = _area(buf, off + OPTIONS, end, offs)
    if r < 0:
        return r
    o = offs[S_OVERLOAD]
    if o >= 0:
        ov = buf[o]
        if ov & 1:
            r = _area(buf, off + FILE, off + COOKIE, offs)
            if r < 0:
                return r
        if ov & 2:
            r = _area(buf, off + SNAME, off + FILE, offs)
            if r < 0:
                return r
    t = offs[S_TYPE]
    if t < 0:
        return NO_TYPE
    return buf[t]


def u32_capped(buf, p, cap):
    """The 32-bit big-endian value at p, or cap when it is larger (computed in 16-bit
    halves: a value at or above 2**30 would be a heap int on a 32-bit board)."""
    hi = (buf[p] << 8) | buf[p + 1]
    lo = (buf[p + 2] << 8) | buf[p + 3]
    if hi >= (cap >> 16) + 1:
        return cap
    v = (hi << 16) | lo
    return cap if v > cap else v


def build_head(buf, off, xid, secs, flags, ciaddr, mac):
    """Write a BOOTREQUEST's fixed part and the magic cookie; sname and file are
    zeroed. Returns the offset of the first option."""
    for i in range(off, off + OPTIONS):
        buf[i] = 0
    buf[off] = OP_REQUEST
    buf[off + 1] = 1  # htype: Ethernet
    buf[off + 2] = 6  # hlen
    buf[off + XID:off + XID + 4] = xid
    buf[off + SECS] = secs >> 8
    buf[off + SECS + 1] = secs & 0xFF
    buf[off + FLAGS] = flags >> 8
    buf[off + FLAGS + 1] = flags & 0xFF
    buf[off + CIADDR:off + CIADDR + 4] = ciaddr
    buf[off + CHADDR:off + CHADDR + 6] = mac
    buf[off + COOKIE:off + COOKIE + 4] = _COOKIE
    return off + OPTIONS


def put_type(buf, p, mtype):
    buf[p] = OPT_MSG_TYPE
    buf[p + 1] = 1
    buf[p + 2] = mtype
    return p + 3


def put(buf, p, code, data):
    """An option with data (bytes-like, at most 255 bytes). Returns the next offset."""
    n = len(data)
    buf[p] = code
    buf[p + 1] = n
    buf[p + 2:p + 2 + n] = data
    return p + 2 + n


def put_u16(buf, p, code, v):
    buf[p] = code
    buf[p + 1] = 2
    buf[p + 2] = v >> 8
    buf[p + 3] = v & 0xFF
    return p + 4


def put_client_id(buf, p, mac):
    """Option 61: hardware type 1 and the MAC (RFC 2132 9.14)."""
    buf[p] = OPT_CLIENT_ID
    buf[p + 1] = 7
    buf[p + 2] = 1
    buf[p + 3:p + 9] = mac
    return p + 9


def put_params(buf, p):
    return put(buf, p, OPT_PARAMS, _PARAMS)


def put_end(buf, p, off):
    """The end option, then pad to the BOOTP minimum of 300 bytes (RFC 1542 2.1:
    some relays drop shorter messages). Returns the message length."""
    buf[p] = OPT_END
    p += 1
    while p - off < 300:
        buf[p] = 0
        p += 1
    return p - off
