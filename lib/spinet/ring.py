# spinet.ring — the byte rings behind every TCP socket, and the out-of-order
# assembler.
#
# A Ring is a caller-sized bytearray with a read position (head) and a count of bytes
# held. Positions are logical: "k bytes after head". TCP uses one ring per direction:
#  - TX: held bytes are [unacknowledged | not yet sent]; a (re)transmission copies
#    straight from the ring into the frame buffer (copy_out), an ACK drops bytes
#    from the front (consume). Nothing is copied per segment besides that.
#  - RX: held bytes are in-order data the application has not read; out-of-order
#    segments are written further on at their own position (write_at) and become
#    readable when the gap before them fills (commit). The free space (size - count)
#    is the receive window we advertise.
# Copies around the wrap point are done as two slice copies.

from .compat import MICROPYTHON, const, micropython

ASSEMBLER_RANGES = const(4)


def _copy_slices(dst, doff, src, soff, n):
    dst[doff:doff + n] = src[soff:soff + n]


copy = _copy_slices
_copy_viper = None
if MICROPYTHON:
    import micropython

    @micropython.viper
    def _copy_viper(dst: ptr8, doff: int, src: ptr8, soff: int, n: int):  # type: ignore  # noqa: F811
        # Copies without allocating (a memoryview slice would be a heap object).
        # Bytes until the destination is 4-byte aligned, then whole words: straight
        # when the source is aligned too, else each word put together from two
        # aligned source words (a Cortex-M0+ faults on unaligned word loads, and a
        # byte loop costs ~4x as much). Little-endian hosts (x86, ARM) only.
        d = uint(dst) + uint(doff)
        s = uint(src) + uint(soff)
        pd8 = ptr8(d)
        ps8 = ptr8(s)
        i = 0
        while i < n and ((d + uint(i)) & uint(3)) != uint(0):
            pd8[i] = ps8[i]
            i += 1
        w = (n - i) >> 2
        if w > 0:
            pd = ptr32(d + uint(i))
            r = (s + uint(i)) & uint(3)
            k = 0
            if r == uint(0):
                ps = ptr32(s + uint(i))
                while k + 3 < w:  # four words per round: the loop test costs as much
                    pd[k] = ps[k]
                    pd[k + 1] = ps[k + 1]
                    pd[k + 2] = ps[k + 2]
                    pd[k + 3] = ps[k + 3]
                    k += 4
                while k < w:
                    pd[k] = ps[k]
                    k += 1
            else:
                pa = ptr32(s + uint(i) - r)  # the aligned word holding the first byte
                sh = r << 3
                sh2 = uint(32) - sh
                lo = uint(pa[0])
                while k < w:
                    hi = uint(pa[k + 1])
                    pd[k] = int((lo >> sh) | (hi << sh2))
                    lo = hi
                    k += 1
            i += w << 2
        while i < n:
            pd8[i] = ps8[i]
            i += 1

    copy = _copy_viper  # type: ignore


class Ring:
    def __init__(self, size):
        self.buf = bytearray(size)
        self.mv = memoryview(self.buf)
        self.size = size
        self.head = 0
        self.count = 0

    def free(self):
        return self.size - self.count

    def write(self, data, n):
        """Append up to n bytes of data (a bytes-like); returns how many fit."""
        free = self.size - self.count
        if n > free:
            n = free
        if n <= 0:
            return 0
        self.write_at(self.count, data, 0, n)
        self.count += n
        return n

    # write_at and copy_out are on every segment's path: few locals and shallow
    # expressions keep their frames within MicroPython's 11 words on the C stack (a
    # larger frame is allocated on the heap and freed on every call); the rare copy
    # across the wrap point is a call of its own.

    @micropython.native
    def write_at(self, k, src, soff, n):
        """Copy n bytes from src[soff:] to logical position k (k + n <= size)."""
        k += self.head
        if k >= self.size:
            k -= self.size
        if k + n <= self.size:
            copy(self.buf, k, src, soff, n)
        else:
            self._write_wrapped(k, src, soff, n)

    def _write_wrapped(self, w, src, soff, n):
        first = self.size - w
        copy(self.buf, w, src, soff, first)
        copy(self.buf, 0, src, soff + first, n - first)

    @micropython.native
    def copy_out(self, k, dst, doff, n):
        """Copy n bytes from logical position k into dst[doff:]."""
        k += self.head
        if k >= self.size:
            k -= self.size
        if k + n <= self.size:
            copy(dst, doff, self.buf, k, n)
        else:
            self._copy_out_wrapped(k, dst, doff, n)

    def _copy_out_wrapped(self, r, dst, doff, n):
        first = self.size - r
        copy(dst, doff, self.buf, r, first)
        copy(dst, doff + first, self.buf, 0, n - first)

    def consume(self, n):
        """Drop n bytes from the front."""
        h = self.head + n
        self.head = h - self.size if h >= self.size else h
        self.count -= n
        if self.count == 0:
            self.head = 0  # keeps later copies in one piece more often

    @micropython.native
    def read_into(self, dst, n):
        """Move up to n bytes from the front into dst; returns how many."""
        if n > self.count:
            n = self.count
        if n > 0:
            self.copy_out(0, dst, 0, n)
            self.consume(n)
        return n

    def find(self, byte, limit):
        """Position of the first `byte` among the first `limit` held bytes, or -1."""
        b = self.buf
        size = self.size
        r = self.head
        if limit > self.count:
            limit = self.count
        for k in range(limit):
            if b[r] == byte:
                return k
            r += 1
            if r == size:
                r = 0
        return -1


class Assembler:
    """Out-of-order ranges [start, end) held beyond the in-order data, as offsets
    from the next expected byte; at most `ranges` of them (holes are bounded)."""

    def __init__(self, ranges=ASSEMBLER_RANGES):
        self.max = ranges
        self.start = [0] * ranges
        self.end = [0] * ranges
        self.n = 0

    def add(self, s, e):
        """Record [s, e). False if it would need more ranges than allowed."""
        st = self.start
        en = self.end
        n = self.n
        i = 0
        while i < n and en[i] < s:
            i += 1
        j = i
        while j < n and st[j] <= e:
            j += 1
        # Ranges i..j-1 touch [s, e): merge them into one.
        if j > i:
            if st[i] < s:
                s = st[i]
            if en[j - 1] > e:
                e = en[j - 1]
        elif n >= self.max:
            return False
        shift = 1 - (j - i)  # how the ranges after j move
        if shift > 0:
            for k in range(n - 1, j - 1, -1):
                st[k + 1] = st[k]
                en[k + 1] = en[k]
        elif shift < 0:
            for k in range(j, n):
                st[k + shift] = st[k]
                en[k + shift] = en[k]
        st[i] = s
        en[i] = e
        self.n = n + shift
        return True

    def advance(self, d):
        """d in-order bytes arrived at offset 0. Returns how far the in-order data
        now reaches (>= d), pulling in ranges that it touches, and re-bases the rest."""
        st = self.start
        en = self.end
        reach = d
        k = 0
        while k < self.n and st[k] <= reach:
            if en[k] > reach:
                reach = en[k]
            k += 1
        n = self.n
        for i in range(k, n):
            st[i - k] = st[i] - reach
            en[i - k] = en[i] - reach
        self.n = n - k
        return reach

    def clear(self):
        self.n = 0
