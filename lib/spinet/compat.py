# spinet.compat — the few things MicroPython and CPython spell differently.
#
# Everything else in the stack imports these names from here, so the same files run
# on a Pico, on the MicroPython unix port and on CPython.
#
# Time: the stack keeps time in MicroPython "ticks": milliseconds in a wrapping
# [0, 2**30) range, compared only through ticks_diff(). 2**30 is the rp2 port's
# period; values stay small ints on a 32-bit board. The unix port's own ticks wrap at
# 2**62, so there (and on CPython) we mask to the board's period: a simulated clock
# and a real one then behave alike, wrap-around included.

import sys

MICROPYTHON = sys.implementation.name == "micropython"

TICKS_PERIOD = 1 << 30
_TICKS_MASK = TICKS_PERIOD - 1
_TICKS_HALF = TICKS_PERIOD >> 1

try:
    from micropython import const  # type: ignore
except ImportError:  # CPython

    def const(x):  # type: ignore
        return x


# `@micropython.native` on the per-segment functions: MicroPython compiles them to
# machine code (the decorator is recognised by name, wherever `micropython` comes
# from); on CPython the stand-in leaves them as they are.
if MICROPYTHON:
    import micropython  # type: ignore
else:  # CPython (even where a test puts a stand-in `micropython` module on sys.path)

    class micropython:  # type: ignore  # noqa: N801
        @staticmethod
        def native(f):
            return f

try:
    from micropython import heap_lock, heap_unlock  # type: ignore
except ImportError:  # CPython, or a port built without heap_lock

    def heap_lock():  # type: ignore
        pass

    def heap_unlock():  # type: ignore
        return 0


def ticks_diff(a: int, b: int) -> int:
    """Signed distance a - b on the wrapping clock (as MicroPython's ticks_diff)."""
    return ((a - b + _TICKS_HALF) & _TICKS_MASK) - _TICKS_HALF


def ticks_add(t: int, delta: int) -> int:
    return (t + delta) & _TICKS_MASK


import time as _time

if hasattr(_time, "ticks_ms"):  # MicroPython

    def ticks_ms() -> int:
        return _time.ticks_ms() & _TICKS_MASK  # type: ignore  # the unix port wraps at 2**62

    sleep_ms = _time.sleep_ms
    if _time.ticks_add(0, -1) == _TICKS_MASK:  # type: ignore  # a board: native functions, same period
        ticks_ms = _time.ticks_ms  # type: ignore
        ticks_diff = _time.ticks_diff  # type: ignore
        ticks_add = _time.ticks_add  # type: ignore
else:  # CPython
    _monotonic = getattr(_time, "monotonic")  # not on MicroPython (mypy checks lib/ as Pico code)
    _sleep = getattr(_time, "sleep")

    def ticks_ms() -> int:
        return int(_monotonic() * 1000) & _TICKS_MASK

    def sleep_ms(ms: int) -> None:  # type: ignore
        if ms > 0:
            _sleep(ms / 1000)


# Errno values as MicroPython gives them (Linux numbering). MicroPython's own errno
# module lacks several, so they are listed here once.
EPERM = const(1)
EIO = const(5)
EBADF = const(9)
EAGAIN = const(11)
ENOMEM = const(12)
EACCES = const(13)
EINVAL = const(22)
EMFILE = const(24)
EPIPE = const(32)
EDESTADDRREQ = const(89)
EMSGSIZE = const(90)
EPROTONOSUPPORT = const(93)
EOPNOTSUPP = const(95)
EAFNOSUPPORT = const(97)
EADDRINUSE = const(98)
EADDRNOTAVAIL = const(99)
ENETUNREACH = const(101)
ECONNABORTED = const(103)
ECONNRESET = const(104)
ENOBUFS = const(105)
EISCONN = const(106)
ENOTCONN = const(107)
ETIMEDOUT = const(110)
ECONNREFUSED = const(111)
EHOSTUNREACH = const(113)
EALREADY = const(114)
EINPROGRESS = const(115)


try:
    from random import getrandbits  # type: ignore
except ImportError:  # pragma: no cover - every port we target has it

    def getrandbits(n):  # type: ignore
        raise OSError(EIO)


def random16():
    """16 random bits (ids, ports). Small int on every port."""
    return getrandbits(16)



# The simulation sets this so that random.seed() replays a run exactly, ISNs included.
secret_from_prng = False


def secret_bytes(n):
    """n bytes for a secret (the RFC 6528 ISN key): os.urandom (the OS, or the chip's
    hardware entropy on rp2/esp32) where the port has it, else the PRNG, which is
    seeded from hardware only on ports that define a seed source."""
    if secret_from_prng:
        return bytes(getrandbits(8) for _ in range(n))
    try:
        import os
        return bytes(os.urandom(n))
    except (ImportError, AttributeError, OSError, NotImplementedError):
        return bytes(getrandbits(8) for _ in range(n))


def port_socket():
    """The port's own socket module (CPython's, or the MicroPython unix port's), also
    where firmware/socket.py (spinet's) is what `import socket` finds: with sys.path
    empty, MicroPython imports an extensible built-in directly and leaves sys.modules
    as it was. For the host-side drivers; a board's generic firmware has none
    (ImportError)."""
    if not MICROPYTHON:
        import socket  # type: ignore  # not on a Pico: host drivers only
        return socket
    path = list(sys.path)
    sys.path.clear()
    try:
        import socket  # type: ignore  # not on a Pico: host drivers only
    finally:
        sys.path.extend(path)
    return socket
