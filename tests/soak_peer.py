# The kernel side of the soak tests (CPython, inside the test namespace).
#   soak_peer.py echo                      TCP and UDP echo on 7007 (threads)
#   soak_peer.py client HOST CYCLES SIZE   CYCLES connections to HOST:7008, each
#       sends SIZE bytes of a per-cycle pattern, half-closes, checks the SHA-256
#       the server answers; prints "peer cycles=.. failures=.."
import hashlib
import socket
import sys
import threading


def pattern(n, seed):
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


def echo():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", 7007))
    ls.listen(16)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", 7007))

    def udp():
        while True:
            d, a = u.recvfrom(4096)
            u.sendto(d, a)

    def serve(c):
        c.settimeout(60)
        try:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        c.close()

    threading.Thread(target=udp, daemon=True).start()
    print("echo ready", flush=True)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def client(host, cycles, size):
    fails = 0
    for i in range(cycles):
        data = pattern(size, i)
        try:
            s = socket.create_connection((host, 7008), timeout=20)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = b""
            while len(got) < 32:
                d = s.recv(64)
                if not d:
                    break
                got += d
            s.close()
            if got != hashlib.sha256(data).digest():
                fails += 1
                print("fail cycle=%d" % i, flush=True)
        except OSError as e:
            fails += 1
            print("fail cycle=%d %s" % (i, e), flush=True)
    print("peer cycles=%d failures=%d" % (cycles, fails), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo()
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
