# The spinet side of the throughput benchmark: a TCP client against
# host_tools/bench/kpeer.py, with the process's own CPU time around the transfer.
# Restricted Python: runs on CPython (TAP) and on the MicroPython unix port (AF_PACKET),
# optionally through an emulated chip ("packet+w5500"), via tests/realpeer_app.py.
#
#   spinet_app.py DRIVER IFNAME download|upload PORT N [--rx=N] [--tx=N]
#
# Prints "ready", then "result bytes=N ms=T cpu_ms=C" (C: user+system CPU of this
# process from connect() to the end, from /proc/self/stat, 10 ms ticks).
import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 3)[0] if _argv0.count("/") >= 3 else "../.."
for _p in (_ROOT + "/lib", _ROOT + "/tests", _ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import realpeer_app as app  # noqa: E402
from spinet import socket  # noqa: E402
from spinet.compat import ticks_diff, ticks_ms  # noqa: E402

KERNEL = app.KERNEL


def cpu_ms():
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 10  # utime + stime, USER_HZ = 100


def download(nic, port, size, rx, tx):
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
    s.settimeout(30)
    s.connect((KERNEL, port))
    c0 = cpu_ms()
    t0 = ticks_ms()
    buf = bytearray(4096)
    n = 0
    while True:
        m = s.recv_into(buf)
        if not m:
            break
        n += m
    s.close()
    ms = ticks_diff(ticks_ms(), t0)
    c1 = cpu_ms()
    app.linger(nic, 5000)
    return n, ms, c1 - c0


def upload(nic, port, size, rx, tx):
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
    s.settimeout(30)
    s.connect((KERNEL, port))
    c0 = cpu_ms()
    t0 = ticks_ms()
    mv = memoryview(app.pattern_block())
    left = size
    while left > 0:
        k = left if left < app.BLOCK else app.BLOCK
        s.sendall(mv[:k])
        left -= k
    reply = s.recv(200)  # "got N SHA": the receiver has every byte
    ms = ticks_diff(ticks_ms(), t0)
    c1 = cpu_ms()
    s.close()
    app.linger(nic, 5000)
    if not reply.startswith(b"got %d " % size):
        raise OSError("receiver answered %r" % reply)
    return size, ms, c1 - c0


def main(argv):
    opts = {"rx": 16384, "tx": 16384}
    pos = []
    for a in argv:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            opts[k] = int(v)
        else:
            pos.append(a)
    kind, ifname, role, port, size = pos[0], pos[1], pos[2], int(pos[3]), int(pos[4])
    nic = app.make_nic(kind, ifname, "192.0.2.2")
    print("ready %s %s %s" % (sys.implementation.name, kind, role))
    f = download if role == "download" else upload
    n, ms, cpu = f(nic, port, size, opts["rx"], opts["tx"])
    print("result bytes=%d ms=%d cpu_ms=%d" % (n, ms, cpu))


if __name__ == "__main__":
    app.run(main)
