# TCP memory on the MicroPython unix port (only tests/mprun.py runs this folder).
#
# - heap taken by one open connection beyond its two rings, printed;
# - a steady-state 256 KB transfer over the simulated segment does not grow the heap;
# - bytes allocated per received full-size segment, printed, and the in-order
#   segment-in / ACK-out path running under micropython.heap_lock().
#
# The receive-path figures use a feeder driver that synthesises in-order data
# segments in one preallocated frame (sequence number and checksum patched in
# place), so the only allocations counted are the stack's.

import gc
import struct

import micropython

import spinet
from boards.sim.clock import VirtualClock
from boards.sim.mocklan import MockLan
from spinet import socket, tcp
from spinet.wire.checksum import pseudo_sum, sum16

import support

MSS = 1460
PEER_PORT = 5001
IRS = 1000  # the peer's initial sequence number


class Feeder(MockLan):
    """After the handshake, every recv_into() yields the next in-order full-size
    data segment from the peer; sent frames are only counted."""

    def __init__(self, mac, clock):
        MockLan.__init__(self, mac, clock)
        self.frame = bytearray(14 + 20 + 20 + MSS)
        self.feeding = 0
        self.seq = 0
        self.ack_hi = 0
        self.ack_lo = 0

    def start(self, our_port, seq, ack):
        f = self.frame
        payload = bytes((i * 13) & 0xFF for i in range(MSS))
        ip = support.ipv4(support.IP_PEER, support.IP_A, 6, bytes(20) + payload)
        f[0:14] = support.MAC_A + support.MAC_PEER + b"\x08\x00"
        f[14:14 + len(ip)] = ip
        struct.pack_into(">HHIIBBHHH", f, 34, PEER_PORT, our_port, 0, ack, 0x50, 0x10,
                         65535, 0, 0)
        self.seq = seq
        self.keep = False

    def recv_into(self, buf):
        if self.rx or not self.feeding:
            return MockLan.recv_into(self, buf)
        self.feeding -= 1
        f = self.frame
        s = self.seq
        f[38] = (s >> 24) & 0xFF
        f[39] = (s >> 16) & 0xFF
        f[40] = (s >> 8) & 0xFF
        f[41] = s & 0xFF
        self.seq = (s + MSS) & 0xFFFFFFFF
        f[50] = 0
        f[51] = 0
        n = 20 + MSS
        c = sum16(f, 34, n) + pseudo_sum(f, 14, 6, n)
        c = (c & 0xFFFF) + (c >> 16)
        c = ~((c & 0xFFFF) + (c >> 16)) & 0xFFFF
        f[50] = c >> 8
        f[51] = c & 0xFF
        buf[0:len(f)] = f
        return len(f)


def _tcp_seg(sport, dport, seq, ack, flags, window, options=b""):
    hl = 20 + len(options)
    h = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4, flags, window, 0, 0)
    h = h + options
    pseudo = support.ip4(support.IP_PEER) + support.ip4(support.IP_A) + struct.pack(">BBH", 0, 6, hl)
    c = support.csum(pseudo + h)
    return h[:16] + struct.pack(">H", c) + h[18:]


def _established(rx=2048, tx=2048):
    """A connection on a Feeder, opened by a scripted peer: (nic, lan, sock, clock)."""
    clock = VirtualClock()
    lan = Feeder(support.MAC_A, clock)
    nic = spinet.Interface(lan, clock=clock.ticks_ms)
    nic.ifconfig((support.IP_A, support.MASK, support.IP_GW, support.IP_GW))
    nic.active(True)
    support.learn_peer(nic, lan)
    lan.take()
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
    s.setblocking(False)
    try:
        s.connect((support.IP_PEER, PEER_PORT))
    except OSError as e:
        assert e.args[0] == 115
    syn = lan.take()[-1]
    iss = struct.unpack(">I", syn[38:42])[0]
    our_port = struct.unpack(">H", syn[34:36])[0]
    seg = _tcp_seg(PEER_PORT, our_port, IRS, (iss + 1) & 0xFFFFFFFF, 0x12, 65535,
                   b"\x02\x04\x05\xb4")
    lan.inject(support.frame_ip(support.IP_PEER, support.IP_A, 6, seg))
    nic.poll()
    assert s._cb.state == tcp.ESTABLISHED
    lan.take()
    lan.start(our_port, IRS + 1, (iss + 1) & 0xFFFFFFFF)
    return nic, lan, s, clock


def test_heap_per_connection():
    clock = VirtualClock()
    lan = MockLan(support.MAC_A, clock)
    nic = spinet.Interface(lan, clock=clock.ticks_ms)
    nic.ifconfig((support.IP_A, support.MASK, support.IP_GW, support.IP_GW))
    nic.active(True)
    support.learn_peer(nic, lan)
    gc.collect()
    before = gc.mem_alloc()
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=2048, tx=2048)
    s.setblocking(False)
    try:
        s.connect((support.IP_PEER, PEER_PORT))
    except OSError:
        pass
    gc.collect()
    after = gc.mem_alloc()
    rings = 2048 + 2048
    extra = after - before - rings
    print("memory: one TCP connection with 2 KB/2 KB rings takes %d bytes beyond its rings"
          " (%d in all)" % (extra, after - before))
    assert s._cb.state == tcp.SYN_SENT
    assert 0 < extra < 3000, extra


def test_in_order_segment_path_does_not_allocate():
    nic, lan, s, clock = _established()
    cb = s._cb
    buf = bytearray(4096)
    # Warm up: view cache, first-use paths.
    for _ in range(8):
        lan.feeding = 1  # one segment per poll: the 2 KB window holds one
        nic.poll()
        tcp.app_recv_into(cb, buf, 4096, clock.ticks_ms())
    n0 = lan.n_sent
    got0 = cb.rcv_nxt
    micropython.heap_lock()
    try:
        for _ in range(40):
            lan.feeding = 1
            nic.poll()  # segment in, (every second one) ACK out
            tcp.app_recv_into(cb, buf, 4096, 0)  # the application reads; window update
    finally:
        micropython.heap_unlock()
    assert cb.rcv_nxt - got0 == 40 * MSS
    assert lan.n_sent > n0  # ACKs went out under the lock
    assert nic.stats()["tcp_ooo"] == 0


def test_socket_recv_into_does_not_allocate():
    # The same through the socket layer: no closure cells, views or bound methods
    # made per call (sock.recv_into allocated 64 bytes per segment before).
    nic, lan, s, clock = _established()
    buf = bytearray(4096)
    for _ in range(8):
        lan.feeding = 1
        nic.poll()
        s.recv_into(buf)
    got = 0
    micropython.heap_lock()
    try:
        for _ in range(40):
            lan.feeding = 1
            nic.poll()
            got += s.recv_into(buf)
    finally:
        micropython.heap_unlock()
    assert got == 40 * MSS, got


def test_bytes_allocated_per_received_segment():
    nic, lan, s, clock = _established()
    buf = bytearray(4096)
    for _ in range(20):
        lan.feeding = 1
        nic.poll()
        s.recv_into(buf)
    segs = 200
    for label, use_socket in (("stack only", False), ("with sock.recv_into", True)):
        gc.collect()
        gc.disable()
        try:
            a0 = gc.mem_alloc()
            for _ in range(segs):
                lan.feeding = 1
                nic.poll()
                if use_socket:
                    s.recv_into(buf)
                else:
                    tcp.app_recv_into(s._cb, buf, 4096, clock.ticks_ms())
            a1 = gc.mem_alloc()
        finally:
            gc.enable()
        per = (a1 - a0) // segs
        print("memory: %d bytes allocated per received full-size segment (%s)" % (per, label))
        assert per < 200, per


def test_steady_state_transfer_does_not_grow_heap():
    seg, clock, a, b, pa, pb = support.pair(seed=5)
    ls = b.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("", 80))
    ls.listen(1)
    c = a.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect((support.IP_B, 80))
    srv, _ = ls.accept()
    srv.setblocking(False)
    chunk = bytes((i * 7) & 0xFF for i in range(1024))
    buf = bytearray(2048)
    state = [0]

    class Reader:
        def poll(self):
            while True:
                try:
                    n = srv.recv_into(buf)
                except OSError:
                    return
                if not n:
                    return
                state[0] += n

        def poll_at(self):
            return None

    seg.add_host(Reader())

    def send(total):
        start = state[0]
        sent = 0
        while sent < total:
            c.sendall(chunk)
            sent += len(chunk)
        seg.run_until(lambda: state[0] - start >= total, 60000)
        assert state[0] - start == total

    send(32 * 1024)  # warm-up
    gc.collect()
    before = gc.mem_alloc()
    send(256 * 1024)
    gc.collect()
    after = gc.mem_alloc()
    print("memory: heap before/after a steady-state 256 KB transfer: %d -> %d" % (before, after))
    assert after <= before, (before, after)
