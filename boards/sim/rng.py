# Deterministic PRNG (Marsaglia xorshift32). The `random` module differs between
# CPython and MicroPython, so fault injection uses this one: identical sequences
# on both interpreters, integer-only decisions (no float rounding differences).

_M32 = 0xFFFFFFFF


class XorShift:
    def __init__(self, seed):
        seed &= _M32
        self.x = seed if seed else 0x9E3779B9  # state 0 would stay 0 forever

    def next(self):
        x = self.x
        x ^= (x << 13) & _M32
        x ^= x >> 17
        x ^= (x << 5) & _M32
        self.x = x
        return x

    def below(self, n):
        # 0..n-1; the modulo bias is irrelevant for fault injection.
        return self.next() % n

    def chance(self, p):
        # True with probability p, decided on 16 integer bits so both interpreters agree.
        if p <= 0:
            return False
        if p >= 1:
            return True
        return (self.next() >> 16) < int(p * 65536)

    def bytes(self, n):
        b = bytearray(n)
        for i in range(n):
            b[i] = self.next() & 0xFF
        return bytes(b)
