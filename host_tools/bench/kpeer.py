# The kernel side of the throughput benchmark (CPython, run inside the lab's namespace):
# the Linux TCP/IP stack as source or sink, timed from accept(), every stack measured
# the same way.
#
#   kpeer.py source PORT N   accept one connection, send N bytes of the pattern i % 251,
#                            shut down writing, wait for the peer's FIN
#   kpeer.py sink PORT N     accept one connection, read N bytes, answer
#                            "got N SHA256HEX\n" (so the uploader knows every byte
#                            arrived before it closes), wait for the peer's FIN
#   kpeer.py blast SECONDS   UDP datagrams of 65507 bytes to 192.0.2.2:9 (the kernel
#                            fragments each into 44 full-size frames; give the address a
#                            static neighbour entry first), for the raw-frame ceiling
#
# Prints "listening PORT" once bound (blast: "blasting"), then one line
# "source|sink bytes=N ms=T [sha256=HEX]" with T from accept() to the last byte (the
# peer's FIN for source, the N-th byte for sink).
import hashlib
import os
import socket
import sys
import time

# accept() and the source role are the real-peer tests' own (one kernel-side peer).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tests"))
from realpeer_peer import _accept, source  # noqa: E402


def sink(port, n):
    c = _accept(port)
    t0 = time.monotonic()
    h = hashlib.sha256()
    got = 0
    while got < n:
        d = c.recv(min(65536, n - got))
        if not d:
            break
        h.update(d)
        got += len(d)
    ms = (time.monotonic() - t0) * 1000
    c.sendall(b"got %d %s\n" % (got, h.hexdigest().encode()))
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass
    c.close()
    print("sink bytes=%d ms=%.1f sha256=%s" % (got, ms, h.hexdigest()), flush=True)


def blast(secs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    data = bytes(65507)
    end = time.monotonic() + secs
    print("blasting", flush=True)
    sent = 0
    while time.monotonic() < end:
        for _ in range(16):
            try:
                s.sendto(data, ("192.0.2.2", 9))
                sent += 1
            except OSError:  # ENOBUFS when the TAP's queue is full
                pass
    print("blast datagrams=%d" % sent, flush=True)


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "source":
        source(int(sys.argv[2]), int(sys.argv[3]))
    elif role == "sink":
        sink(int(sys.argv[2]), int(sys.argv[3]))
    elif role == "blast":
        blast(float(sys.argv[2]))
    else:
        raise SystemExit("unknown role " + role)
