# The simulated-segment demo: two spinet stacks on one virtual Ethernet segment with
# seeded faults, on virtual time. Restricted Python: `make demo` runs this same file
# on CPython and on the MicroPython unix port.
#
#   python host_tools/simdemo.py          micropython host_tools/simdemo.py

import sys

_here = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_root = _here.rsplit("/", 1)[0] if "/" in _here else ".."
if _here == "host_tools":
    _root = "."
sys.path.insert(0, _root + "/lib")
sys.path.insert(0, _root)

import hashlib  # noqa: E402

import spinet  # noqa: E402
from boards.sim.clock import VirtualClock  # noqa: E402
from boards.sim.rng import XorShift  # noqa: E402
from boards.sim.segment import Segment  # noqa: E402
from spinet import socket  # noqa: E402


def step(msg):
    print("\n== " + msg)


class Sink:
    # The board side of the TCP demo: a non-blocking server that hashes what it reads.
    def __init__(self, nic):
        self.ls = nic.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.ls.bind(("", 80))
        self.ls.listen(1)
        self.ls.setblocking(False)
        self.conn = None
        self.h = hashlib.sha256()
        self.n = 0
        self.done = False
        self.buf = bytearray(1460)

    def poll(self):
        if self.conn is None:
            try:
                self.conn, _ = self.ls.accept()
                self.conn.setblocking(False)
            except OSError:
                return
        while not self.done:
            try:
                n = self.conn.recv_into(self.buf)
            except OSError:
                return
            if n == 0:
                self.done = True
                self.conn.close()
                return
            self.h.update(bytes(self.buf[:n]))
            self.n += n

    def poll_at(self):
        return None


def main():
    print("spinet %s on %s: two stacks on a simulated Ethernet segment (virtual time)"
          % (spinet.__version__, sys.implementation.name))
    clock = VirtualClock()
    seg = Segment(clock, seed=2026)
    pa = seg.port(b"\x02\x00\x00\x00\x00\x0a", name="host")
    pb = seg.port(b"\x02\x00\x00\x00\x00\x0b", name="board")
    host = spinet.Interface(pa, hostname="host", clock=clock.ticks_ms)
    board = spinet.Interface(pb, hostname="board", clock=clock.ticks_ms)
    seg.add_host(host, pa)
    seg.add_host(board, pb)
    host.ifconfig(("192.0.2.1", "255.255.255.0", "0.0.0.0", "0.0.0.0"))
    board.ifconfig(("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1"))
    board.active(True)
    host.active(True)

    step("ping the board (frame trace on: ARP, then ICMP echo)")
    host.config(trace=6)
    rtts = host.ping("192.0.2.2", count=2, size=32)
    host.config(trace=0)
    print("RTTs (ms, virtual):", rtts)

    step("UDP echo, datagrams of 0..1472 bytes")
    echo = board.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("", 7))
    cli = host.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ok = 0
    for size in range(0, 1473, 92):
        msg = bytes((size + i) & 0xFF for i in range(size))
        cli.sendto(msg, ("192.0.2.2", 7))
        data, peer = echo.recvfrom(1500)
        echo.sendto(data, peer)
        back, _ = cli.recvfrom(1500)
        ok += back == msg
    print("%d of %d datagrams echoed byte-exact" % (ok, len(range(0, 1473, 92))))

    step("TCP: 256 KB upload with 3 % loss, 1 % duplication, 10 % reordering, 2 ms delay")
    pa.faults(loss=0.03, dup=0.01, reorder=0.1, delay_ms=2)
    pb.faults(loss=0.03, dup=0.01, reorder=0.1, delay_ms=2)
    sink = Sink(board)
    seg.add_host(sink)
    data = XorShift(7).bytes(256 * 1024)
    t0 = clock.now
    c = host.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(("192.0.2.2", 80))
    print("connected; control blocks on the host:")
    for line in host.netstat():
        print("  " + line)
    c.sendall(data)
    c.close()
    seg.run_until(lambda: sink.done, 600000)
    ms = clock.now - t0
    same = sink.h.digest() == hashlib.sha256(data).digest()
    print("board received %d bytes in %d ms virtual, SHA-256 %s" % (
        sink.n, ms, "intact" if same else "MISMATCH"))
    s = host.stats()
    print("host counters: tcp_tx %d, retransmits %d (fast %d), timeouts %d" % (
        s["tcp_tx"], s["tcp_retransmit"], s["tcp_fast_retransmit"], s["tcp_timeout"]))
    print("segment faults: lost %d, duplicated %d, reordered %d" % (
        pa.stats["lost"] + pb.stats["lost"], pa.stats["dup"] + pb.stats["dup"],
        pa.stats["reordered"] + pb.stats["reordered"]))
    seg.run(130000)
    print("after TIME-WAIT: host blocks %d (UDP client), board blocks %d (listener, UDP echo)" % (
        len(host.netstat()), len(board.netstat())))
    if not (same and ok == len(range(0, 1473, 92)) and None not in rtts):
        print("DEMO FAILED")
        sys.exit(1)
    print("\ndemo OK")


main()
