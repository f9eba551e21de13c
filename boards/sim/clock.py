# Virtual time for the simulation. The stack only ever sees ticks_ms() (MicroPython
# semantics: wraps at 2**30), while the simulator keeps an absolute `now` that
# never wraps, so scheduling in the segment stays simple integer comparisons.

TICKS_PERIOD = 0x40000000  # 2**30, as on MicroPython
TICKS_MAX = TICKS_PERIOD - 1
TICKS_HALF = TICKS_PERIOD // 2


def ticks_diff(a, b):
    # Signed difference a - b modulo 2**30, in [-2**29, 2**29).
    return ((a - b + TICKS_HALF) & TICKS_MAX) - TICKS_HALF


def ticks_add(t, d):
    return (t + d) & TICKS_MAX


class VirtualClock:
    def __init__(self, start_ms=0):
        # start_ms may be near 2**30 so tests exercise the wrap of ticks_ms().
        self.now = start_ms

    def ticks_ms(self):
        # Hand the bound method `clock.ticks_ms` to the stack as its clock.
        return self.now & TICKS_MAX

    def advance(self, ms):
        if ms > 0:
            self.now += ms

    def set(self, ms):
        # Time never runs backwards: a stale target is ignored.
        if ms > self.now:
            self.now = ms

    def until(self, ticks):
        # Absolute `now` of a ticks value (e.g. a stack's poll_at()); may be in the past.
        return self.now + ticks_diff(ticks, self.now & TICKS_MAX)
