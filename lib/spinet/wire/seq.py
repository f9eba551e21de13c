# TCP sequence numbers without 32-bit Python ints.
#
# On a 32-bit MicroPython port an int at or above 2**30 is a heap object, and 3/4 of
# all sequence numbers are. So the stack never holds a sequence number as one int:
#  - on the wire a number is two 16-bit halves (hi, lo);
#  - inside a control block every number is an offset from a base (the ISN for what
#    we send, the IRS for what we receive), kept as the base's two halves;
#  - an offset is a small signed int; values that would fall outside +-2**29 of the
#    base are clamped to FAR/-FAR (they are outside any window we could have);
#  - when offsets grow past REBASE the base moves forward and every offset in the
#    control block drops by REBASE (tcp.py does that), so a long connection never
#    reaches 2**30.
# Offsets compare with plain < and >, which is RFC 9293's modular comparison as long
# as the numbers compared lie within 2**29 of each other - always true here.

from ..compat import const

FAR = const(0x20000000)  # 2**29: "outside every window"
REBASE = const(0x10000000)  # 2**28: move the base when offsets pass this
REBASE_HI = const(0x1000)  # REBASE in the high half


def offset(hi, lo, base_hi, base_lo):
    """The signed distance from the base to the number (hi, lo), clamped to +-FAR."""
    d_lo = lo - base_lo
    d_hi = hi - base_hi
    if d_lo < 0:
        d_lo += 0x10000
        d_hi -= 1
    d_hi &= 0xFFFF
    if d_hi >= 0x8000:
        d_hi -= 0x10000
    if d_hi >= 0x2000:
        return FAR
    if d_hi < -0x2000:
        return -FAR
    return (d_hi << 16) + d_lo


def absolute_hi(off, base_hi, base_lo):
    """High half of base + off (0 <= |off| < 2**30)."""
    return (base_hi + (off >> 16) + (((off & 0xFFFF) + base_lo) >> 16)) & 0xFFFF


def absolute_lo(off, base_lo):
    """Low half of base + off."""
    return (base_lo + off) & 0xFFFF
