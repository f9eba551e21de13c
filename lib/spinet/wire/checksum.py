# The Internet checksum (RFC 1071), with the TCP/UDP pseudo-header (RFC 768, RFC 9293 3.1).
#
# sum16(buf, off, n) returns the one's-complement sum of n bytes folded to 16 bits
# (not inverted): sums of pieces combine with add16(), and checksum() inverts at the
# end. Three implementations give the same results (tests compare them on every
# length 0..1600):
#   - _sum16_viper: MicroPython viper, aligned 32-bit loads in host order summed as
#     16-bit halves, swapped once at the end (RFC 1071 2(B): the sum is byte-order
#     independent). ~60x the plain loop.
#   - _sum16_bigint: CPython; one int.from_bytes and a modulo, since 2**16 = 1 (mod 0xFFFF).
#   - _sum16_loop: portable plain Python, the fallback and the reference.
# Partial sums stay below 2**30 for anything up to 64 KB, so they are small ints on a
# 32-bit board (a Python int at or above 2**30 is a heap object there).

from ..compat import MICROPYTHON


def _sum16_loop(buf, off, n):
    s = 0
    end = off + (n & ~1)
    i = off
    while i < end:
        s += (buf[i] << 8) | buf[i + 1]
        i += 2
    if n & 1:
        s += buf[end] << 8
    s = (s & 0xFFFF) + (s >> 16)
    return (s & 0xFFFF) + (s >> 16)


def _sum16_bigint(buf, off, n):
    if n & 1:
        v = int.from_bytes(buf[off:off + n], "big") << 8
    else:
        v = int.from_bytes(buf[off:off + n], "big")
    r = v % 0xFFFF
    # One's-complement sums are 0 only for all-zero input; otherwise 0xFFFF stands
    # for the residue 0.
    if r == 0 and v:
        return 0xFFFF
    return r


sum16 = _sum16_bigint
_sum16_viper = None
if MICROPYTHON:
    import micropython

    @micropython.viper
    def _sum16_viper(buf: ptr8, off: int, n: int) -> int:  # type: ignore  # noqa: F811
        s = 0
        addr = uint(buf) + uint(off)
        if addr & 1:  # odd address: byte loads in network order
            i = off
            end = off + (n & ~1)
            while i < end:
                s += (buf[i] << 8) | buf[i + 1]
                i += 2
            if n & 1:
                s += buf[end] << 8
            s = (s & 0xFFFF) + (s >> 16)
            return (s & 0xFFFF) + (s >> 16)
        if addr & 2 and n >= 2:  # one 16-bit word to reach a 4-byte boundary
            s += ptr16(addr)[0]
            addr += 2
            n -= 2
        # 32-bit loads (aligned: a Cortex-M0+ faults otherwise), two per round, each
        # added as its two 16-bit halves into an unsigned sum: at most 2**17 per
        # word, so no overflow below 64 KB.
        p = ptr32(addr)
        u = uint(0)
        w = n >> 2
        i = 0
        while i + 1 < w:
            x = uint(p[i])
            y = uint(p[i + 1])
            u += (x & uint(0xFFFF)) + (x >> 16) + (y & uint(0xFFFF)) + (y >> 16)
            i += 2
        if i < w:
            x = uint(p[i])
            u += (x & uint(0xFFFF)) + (x >> 16)
        u = (u & uint(0xFFFF)) + (u >> 16)
        s += int(u)
        t = addr + uint(w << 2)
        if n & 2:
            s += ptr16(t)[0]
        if n & 1:  # little-endian host: a trailing byte is the low byte of its word
            s += ptr8(t)[n & 2]
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        return ((s & 0xFF) << 8) | (s >> 8)

    sum16 = _sum16_viper  # type: ignore


def add16(a, b):
    """One's-complement addition of two folded sums."""
    s = a + b
    return (s & 0xFFFF) + (s >> 16)


def checksum(buf, off, n, initial=0):
    """The 16-bit Internet checksum of buf[off:off+n], plus an initial folded sum."""
    s = sum16(buf, off, n) + initial
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo_sum(buf, ip_off, proto, l4_len):
    """Folded sum of the IPv4 pseudo-header: source, destination (read from the IP
    header at ip_off), zero, protocol, TCP/UDP length."""
    s = sum16(buf, ip_off + 12, 8) + proto + l4_len
    s = (s & 0xFFFF) + (s >> 16)
    return (s & 0xFFFF) + (s >> 16)
