# The kernel side of the real-peer tests (CPython, run inside the lab's namespace by
# tests/netns.py): plain Python sockets on the Linux TCP/IP stack.
#
#   realpeer_peer.py udpecho PORT        echo every datagram back (until SIGTERM)
#   realpeer_peer.py source PORT N       accept one TCP connection, send N bytes of
#                                        the pattern i % 251, close
#   realpeer_peer.py sink PORT           accept one TCP connection, read to the end
#
# Prints "listening PORT" once bound, then one result line:
#   "source bytes=N ms=T" / "sink bytes=N sha256=HEX ms=T". Every wait is bounded.
import hashlib
import signal
import socket
import sys
import time

MOD = 251
BLOCK = bytes(i % MOD for i in range(MOD * 256))  # 64256 bytes, whole periods
IP = "192.0.2.1"
TIMEOUT = 120


def udpecho(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((IP, port))
    print("listening", port, flush=True)
    n = 0
    s.settimeout(1)
    while True:
        try:
            d, a = s.recvfrom(65536)
        except socket.timeout:
            continue
        s.sendto(d, a)
        n += 1


def _accept(port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((IP, port))
    ls.listen(1)
    ls.settimeout(TIMEOUT)
    print("listening", port, flush=True)
    c, a = ls.accept()
    ls.close()
    c.settimeout(TIMEOUT)
    return c


def source(port, n):
    c = _accept(port)
    t0 = time.monotonic()
    left = n
    mv = memoryview(BLOCK)
    while left > 0:
        k = min(left, len(BLOCK))
        c.sendall(mv[:k])
        left -= k
    c.shutdown(socket.SHUT_WR)
    # wait for the peer's FIN so every byte is known to have arrived
    while c.recv(4096):
        pass
    c.close()
    print("source bytes=%d ms=%d" % (n, (time.monotonic() - t0) * 1000), flush=True)


def sink(port):
    c = _accept(port)
    t0 = time.monotonic()
    h = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(65536)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.close()
    print("sink bytes=%d sha256=%s ms=%d" % (n, h.hexdigest(), (time.monotonic() - t0) * 1000),
          flush=True)


def main(argv):
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    role = argv[0]
    if role == "udpecho":
        udpecho(int(argv[1]))
    elif role == "source":
        source(int(argv[1]), int(argv[2]))
    elif role == "sink":
        sink(int(argv[1]))
    else:
        raise SystemExit("unknown role %r" % role)


if __name__ == "__main__":
    main(sys.argv[1:])
