# The spinet side of the soak tests (tests/cpython/test_soak.py, `make soak`): many
# connect/transfer/close cycles against the Linux kernel, or mixed traffic for a
# while, then heap and tables compared with their baseline.
# Restricted Python: runs on the MicroPython unix port (and on CPython, without heap
# figures).
#
#   soak_app.py DRIVER IFNAME client CYCLES SIZE     connect to the kernel's echo
#       server (7007), send SIZE bytes of a per-cycle pattern, read them back, close
#   soak_app.py DRIVER IFNAME server CYCLES          accept CYCLES connections on
#       7008, each: read to EOF, answer the SHA-256 of what came, close
#   soak_app.py DRIVER IFNAME mixed SECONDS          TCP echo cycles of varied size,
#       UDP echo (7007) and pings, for SECONDS
# Prints "soak role=.. cycles=.. failures=.. bytes=.. heap_base=.. heap_end=..
# blocks=.. time_wait=..", then the counters, and exits 0 (1 on an error).

import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT + "/tests", _ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import gc  # noqa: E402
import hashlib  # noqa: E402

import realpeer_app  # noqa: E402
from spinet import socket  # noqa: E402
from spinet.compat import ticks_diff, ticks_ms  # noqa: E402

KERNEL = realpeer_app.KERNEL
ECHO = 7007
SINK = 7008
TW_MS = 2000  # TIME-WAIT shortened so the drain is seen within the run


def heap():
    gc.collect()
    f = getattr(gc, "mem_alloc", None)
    return f() if f else -1


def fill(buf, n, seed):
    for i in range(n):
        buf[i] = (i * 7 + seed) & 0xFF


def echo_cycle(nic, size, seed, out, back):
    """One connection: send size bytes, read them back, close. True if intact."""
    fill(out, size, seed)
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=4096, tx=4096)
    s.settimeout(10)
    try:
        s.connect((KERNEL, ECHO))
        mv = memoryview(out)
        sent = 0
        got = 0
        h = hashlib.sha256()
        bmv = memoryview(back)
        s.settimeout(0)
        t0 = ticks_ms()
        while got < size and ticks_diff(ticks_ms(), t0) < 20000:
            if sent < size:
                try:
                    sent += s.send(mv[sent:size])
                except OSError as e:
                    if e.args[0] != 11:
                        raise
            try:
                m = s.recv_into(back)
            except OSError as e:
                if e.args[0] != 11:
                    raise
                m = -1
            if m == 0:
                break
            if m > 0:
                h.update(bmv[:m])
                got += m
            else:
                nic.poll()  # non-blocking calls leave the stack to us
                nic.wait(5)
        if got != size:
            print("short sent=%d got=%d size=%d %s" % (sent, got, size, nic.netstat()))
        return got == size and h.digest() == hashlib.sha256(mv[:size]).digest()
    finally:
        s.close()


def settle(nic, ms):
    """Run until no control block or TIME-WAIT entry is left (or ms pass)."""
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < ms and nic.netstat(time_wait=True):
        nic.poll()
        nic.wait(10)


def tables(nic):
    tw = 0
    for e in nic._tw:
        if e is not None:
            tw += 1
    return len(nic.netstat()), tw


def role_client(nic, cycles, size):
    out = bytearray(size)
    back = bytearray(2048)
    fails = 0
    total = 0
    base = -1
    for i in range(cycles):
        if not echo_cycle(nic, size, i, out, back):
            fails += 1
            print("fail cycle=%d" % i)
        else:
            total += 2 * size
        if i == 9:  # after warm-up: resolver-free, ARP learnt, views cached
            settle(nic, TW_MS * 2)
            base = heap()
    return cycles, fails, total, base


def role_server(nic, cycles):
    ls = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=4096, tx=2048)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("", SINK))
    ls.listen(2)
    ls.settimeout(30)
    print("listening")
    buf = bytearray(2048)
    bmv = memoryview(buf)
    fails = 0
    total = 0
    base = -1
    done = 0
    for i in range(cycles):
        try:
            c, _ = ls.accept()
        except OSError:
            fails += 1
            print("fail accept=%d" % i)
            break
        c.settimeout(10)
        h = hashlib.sha256()
        try:
            while True:
                m = c.recv_into(buf)
                if not m:
                    break
                h.update(bmv[:m])
                total += m
            c.sendall(h.digest())
        except OSError as e:
            fails += 1
            print("fail cycle=%d errno=%d" % (i, e.args[0]))
        c.close()
        done += 1
        if i == 9:
            base = heap()
    ls.close()
    return done, fails, total, base


def role_mixed(nic, secs):
    out = bytearray(8192)
    back = bytearray(2048)
    u = nic.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(1)
    fails = 0
    total = 0
    cycles = 0
    base = -1
    t0 = ticks_ms()
    i = 0
    while ticks_diff(ticks_ms(), t0) < secs * 1000:
        size = 1 + (i * 2654435761) % 8192
        if echo_cycle(nic, size, i, out, back):
            total += 2 * size
        else:
            fails += 1
            print("fail tcp cycle=%d size=%d" % (i, size))
        d = bytes((i + k) & 0xFF for k in range(1 + i % 1400))
        ok = False
        for _ in range(4):  # the relay loses some: ask again
            u.sendto(d, (KERNEL, ECHO))
            try:
                while True:
                    r, a = u.recvfrom(2048)
                    if r == d:
                        ok = True
                        break
            except OSError:
                pass
            if ok:
                break
        if ok:
            total += 2 * len(d)
        else:
            fails += 1
            print("fail udp cycle=%d" % i)
        if i % 10 == 0:
            nic.ping(KERNEL, count=1, timeout_ms=500)
        cycles += 1
        i += 1
        if i == 5:
            base = heap()
    u.close()
    return cycles, fails, total, base


def main(argv):
    kind, ifname, role = argv[0], argv[1], argv[2]
    nic = realpeer_app.make_nic(kind, ifname, "192.0.2.2")
    nic._time_wait_ms = TW_MS
    print("ready %s %s %s" % (sys.implementation.name, kind, role))
    t0 = ticks_ms()
    if role == "client":
        cycles, fails, total, base = role_client(nic, int(argv[3]), int(argv[4]))
    elif role == "server":
        cycles, fails, total, base = role_server(nic, int(argv[3]))
    elif role == "mixed":
        cycles, fails, total, base = role_mixed(nic, int(argv[3]))
    else:
        raise ValueError("unknown role " + role)
    settle(nic, TW_MS * 3)
    end = heap()
    blocks, tw = tables(nic)
    print("soak role=%s cycles=%d failures=%d bytes=%d heap_base=%d heap_end=%d blocks=%d "
          "time_wait=%d seconds=%d" % (role, cycles, fails, total, base, end, blocks, tw,
                                       ticks_diff(ticks_ms(), t0) // 1000))
    st = nic.stats()
    print("stats " + " ".join("%s=%d" % (k, st[k]) for k in sorted(st)))
    for ln in nic.netstat(time_wait=True):
        print("netstat " + ln)


if __name__ == "__main__":
    realpeer_app.run(main)
