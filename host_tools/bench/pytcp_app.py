# The PyTCP side of the throughput benchmark (runs on pyenv's CPython 3.13 in the
# temporary PyTCP venv, `python -O`, against a PyTCP daemon on the lab's TAP): the same
# TCP client as host_tools/bench/spinet_app.py, over the daemon-backed socket drop-in,
# TCP_NODELAY on (PyTCP's Nagle otherwise stalls uploads, see docs/BENCHMARKS.md).
#
#   pytcp_app.py download|upload PORT N
#
# Prints "result bytes=N ms=T cpu_ms=C" (C: this client's CPU; the daemon's is
# measured by the bench from /proc).
import os
import sys
import time

import pytcp.socket as socket

KERNEL = "192.0.2.1"
MOD = 251
BLOCK = bytes(i % MOD for i in range(MOD * 16))


def main(role, port, size):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(60)
    s.connect((KERNEL, port))
    t0 = time.monotonic()
    if role == "download":
        n = 0
        while True:
            d = s.recv(65536)
            if not d:
                break
            n += len(d)
    else:
        left = size
        mv = memoryview(BLOCK)
        while left > 0:
            k = min(left, len(BLOCK))
            s.sendall(mv[:k])
            left -= k
        reply = b""
        while not reply.endswith(b"\n"):  # wait for the receiver's count and hash
            d = s.recv(200)
            if not d:
                break
            reply += d
        if not reply.startswith(b"got %d " % size):
            raise SystemExit("receiver answered %r" % reply)
        n = size
    ms = (time.monotonic() - t0) * 1000
    s.close()
    t = os.times()
    print("result bytes=%d ms=%.1f cpu_ms=%d" % (n, ms, (t.user + t.system) * 1000), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
