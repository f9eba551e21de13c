# The kernel side of the asyncio real-peer tests (CPython inside the lab's namespace,
# tests/netns.py): plain Python sockets on the Linux TCP/IP stack.
#
#   aio_peer.py serve PORT N        accept N TCP connections, each in its own thread:
#                                   read "SIZE TAG\n" + SIZE bytes, answer with the
#                                   SHA-256 of what came as a line, then SIZE bytes of
#                                   stream TAG' = 255 - TAG, close. "conn TAG ok=.."
#   aio_peer.py hb PORT SECONDS     record the arrival time of every datagram "hb SEQ"
#                                   until "hb end COUNT" (or SECONDS): "hb got=..
#                                   missing=.. count=.. gap_max_ms=.. gap_median_ms=.."
#   aio_peer.py echo HOST PORT N    connect, send N short lines one at a time, time each
#                                   echo: "rtt n=.. bad=.. median_us=.. worst_us=.."
# Prints "listening PORT" once bound (serve, hb). Every wait is bounded.
import hashlib
import socket
import sys
import threading
import time

IP = "192.0.2.1"
TIMEOUT = 60


def stream_bytes(tag, n):
    return bytes((i * 7 + tag) & 255 for i in range(n))


def _read_exact(c, n):
    out = bytearray()
    while len(out) < n:
        b = c.recv(min(65536, n - len(out)))
        if not b:
            break
        out += b
    return bytes(out)


def _conn(c, lock):
    c.settimeout(TIMEOUT)
    f = c.makefile("rb")
    head = f.readline(100).decode().split()
    size, tag = int(head[0]), int(head[1])
    data = f.read(size)
    ok = data == stream_bytes(tag, size)
    c.sendall(hashlib.sha256(data).hexdigest().encode() + b"\n")
    c.sendall(stream_bytes(255 - tag, size))
    c.shutdown(socket.SHUT_WR)
    rest = c.recv(1)  # the client's FIN
    c.close()
    with lock:
        print("conn %d ok=%d got=%d rest=%d" % (tag, ok, len(data), len(rest)), flush=True)


def serve(port, n):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((IP, port))
    ls.listen(n)
    ls.settimeout(TIMEOUT)
    print("listening", port, flush=True)
    lock = threading.Lock()
    threads = []
    for _ in range(n):
        c, _a = ls.accept()
        t = threading.Thread(target=_conn, args=(c, lock), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(TIMEOUT)
    print("serve done", flush=True)


def hb(port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((IP, port))
    s.settimeout(0.5)
    print("listening", port, flush=True)
    arrivals = {}  # seq -> arrival time
    count = None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            d, _a = s.recvfrom(100)
        except socket.timeout:
            continue
        now = time.monotonic()
        w = d.split()
        if len(w) == 3 and w[1] == b"end":
            count = int(w[2])
            break
        arrivals[int(w[1])] = now
    times = [arrivals[k] for k in sorted(arrivals)]
    gaps = sorted((b - a) * 1000 for a, b in zip(times, times[1:]))
    missing = [] if count is None else [i for i in range(count) if i not in arrivals]
    print("hb got=%d count=%s missing=%d gap_max_ms=%.1f gap_median_ms=%.1f" % (
        len(arrivals), count, len(missing), gaps[-1] if gaps else -1,
        gaps[len(gaps) // 2] if gaps else -1), flush=True)


def echo(host, port, n):
    c = socket.create_connection((host, port), timeout=10)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rtts = []
    bad = 0
    buf = b""
    for i in range(n):
        msg = b"ping %06d\n" % i
        t0 = time.perf_counter()
        c.sendall(msg)
        while b"\n" not in buf:
            b = c.recv(4096)
            if not b:
                raise SystemExit("echo: connection closed after %d" % i)
            buf += b
        t1 = time.perf_counter()
        line, buf = buf.split(b"\n", 1)
        if line + b"\n" != msg:
            bad += 1
        rtts.append((t1 - t0) * 1e6)
    c.close()
    rtts.sort()
    print("rtt n=%d bad=%d median_us=%.0f p99_us=%.0f worst_us=%.0f" % (
        len(rtts), bad, rtts[len(rtts) // 2], rtts[int(len(rtts) * 0.99) - 1], rtts[-1]),
        flush=True)


if __name__ == "__main__":
    role = sys.argv[1]
    a = sys.argv[2:]
    if role == "serve":
        serve(int(a[0]), int(a[1]))
    elif role == "hb":
        hb(int(a[0]), float(a[1]))
    elif role == "echo":
        echo(a[0], int(a[1]), int(a[2]))
    else:
        raise SystemExit("unknown role " + role)
