# Tests of the host-side simulation (boards/sim). Plain test_* functions: pytest
# runs them on CPython, a small runner runs the same file on MicroPython unix.
import sys

from boards.sim.clock import VirtualClock, ticks_diff, ticks_add
from boards.sim.rng import XorShift
from boards.sim.segment import Segment
from boards.sim.mocklan import MockLan
from boards.sim.pcap import PcapWriter, read_pcap

MICROPYTHON = sys.implementation.name == "micropython"


def mac(i):
    return bytes((2, 0, 0, 0, 0, i))


def frame(dst, src, payload):
    return dst + src + b"\x08\x00" + payload


def seq_frame(i, size=60):
    # Frame carrying a 4-byte sequence number, padded to size.
    p = i.to_bytes(4, "big")
    return frame(b"\xff" * 6, mac(1), p + bytes(size - 18))


def seq_of(f):
    return int.from_bytes(f[14:18], "big")


def drain(port):
    out = []
    buf = bytearray(1514)
    while True:
        n = port.recv_into(buf)
        if not n:
            return out
        out.append(bytes(buf[:n]))


def tmp_path(name):
    if MICROPYTHON:
        return "/tmp/spinet_" + name
    import tempfile
    import os
    return os.path.join(tempfile.gettempdir(), "spinet_" + name)


class FakeHost:
    # Minimal host: records poll times, optionally has a timer, echoes on a port.
    def __init__(self, clock, port=None, timer=None, echo=False):
        self.clock = clock
        self.port = port
        self.timer = timer  # absolute ms of the next timer, or None
        self.echo = echo
        self.polls = []
        self.got = []
        self.buf = bytearray(1514)

    def poll(self):
        self.polls.append(self.clock.now)
        if self.timer is not None and self.clock.now >= self.timer:
            self.timer = None
        if self.port is not None:
            n = self.port.recv_into(self.buf)
            while n:
                f = bytes(self.buf[:n])
                self.got.append((self.clock.now, f))
                if self.echo:
                    self.port.send(f)
                n = self.port.recv_into(self.buf)

    def poll_at(self):
        if self.timer is None:
            return None
        return self.timer & 0x3FFFFFFF


def test_clock_wrap():
    c = VirtualClock(0x3FFFFFFF - 5)
    t0 = c.ticks_ms()
    assert t0 == 0x3FFFFFFA
    c.advance(10)
    t1 = c.ticks_ms()
    assert t1 == 4
    assert c.now == 0x3FFFFFFF + 5
    assert ticks_diff(t1, t0) == 10
    assert ticks_diff(t0, t1) == -10
    assert ticks_add(t0, 10) == t1
    c.set(c.now - 100)  # never goes backwards
    assert c.ticks_ms() == 4
    c.set(c.now + 1)
    assert c.ticks_ms() == 5
    assert c.until(ticks_add(c.ticks_ms(), 7)) == c.now + 7


def test_xorshift_known_sequence():
    r = XorShift(1)
    assert [r.next() for _ in range(5)] == [270369, 67634689, 2647435461, 307599695, 2398689233]
    assert r.below(1000) == 504
    assert r.chance(0.5) is True
    assert r.bytes(4) == b"\xb2%t\xcb"
    r = XorShift(12345)
    assert [r.next() for _ in range(3)] == [3336926330, 1697253807, 2816511904]
    r = XorShift(0)  # zero seed must not get stuck at 0
    assert r.next() != 0
    r = XorShift(7)
    for _ in range(1000):
        v = r.next()
        assert 0 <= v <= 0xFFFFFFFF
        assert 0 <= r.below(10) < 10


def test_hub_delivers_to_all_other_ports():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1), name="a")
    b = seg.port(mac(2), name="b")
    d = seg.port(mac(3), name="d")
    f = frame(mac(2), mac(1), b"hello")
    buf = bytearray(f)  # sender reuses its buffer: the port must copy
    a.send(memoryview(buf))
    buf[14] = 0
    seg.run(0)
    assert drain(b) == [f]
    assert drain(d) == [f]
    assert drain(a) == []
    assert a.stats["tx"] == 1 and b.stats["rx"] == 1 and d.stats["rx"] == 1
    assert a.mac == mac(1) and a.link_up()


def test_link_down_drops():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    b.link(False)
    assert not b.link_up()
    a.send(seq_frame(1))
    seg.run(1)
    assert drain(b) == []
    assert b.stats["down"] == 1
    b.link(True)
    a.link(False)
    a.send(seq_frame(2))
    seg.run(1)
    assert drain(b) == []
    assert a.stats["down"] == 1 and a.stats["tx"] == 1
    # link goes down while the frame is in flight
    a.link(True)
    a.faults(delay_ms=10)
    a.send(seq_frame(3))
    seg.run(5)
    b.link(False)
    seg.run(10)
    b.link(True)
    assert drain(b) == []
    assert b.stats["down"] == 2


def loss_run(seed, n):
    c = VirtualClock()
    seg = Segment(c, seed=seed)
    a = seg.port(mac(1))
    b = seg.port(mac(2), rx_slots=100)
    a.faults(loss=0.1)
    f = seq_frame(0)
    buf = bytearray(100)
    got = 0
    for _ in range(n // 100):  # in batches: MicroPython's default heap is small
        for _ in range(100):
            a.send(f)
        seg.run(1)
        while b.recv_into(buf):
            got += 1
    return a.stats["lost"], got


def test_loss_rate_and_reproducible():
    lost, got = loss_run(42, 10000)
    assert lost + got == 10000
    assert 850 <= lost <= 1150, lost
    assert loss_run(42, 10000) == (lost, got)
    assert loss_run(43, 10000) != (lost, got)


def test_dup_observable():
    c = VirtualClock()
    seg = Segment(c, seed=3)
    a = seg.port(mac(1), rx_slots=1000)
    b = seg.port(mac(2), rx_slots=1000)
    a.faults(dup=0.2)
    for i in range(500):
        a.send(seq_frame(i))
    seg.run(5)
    got = drain(b)
    assert len(got) == 500 + a.stats["dup"]
    assert 50 < a.stats["dup"] < 150
    seqs = sorted(seq_of(f) for f in got)
    assert len(set(seqs)) == 500


def test_reorder_observable():
    c = VirtualClock()
    seg = Segment(c, seed=5)
    a = seg.port(mac(1), rx_slots=1000)
    b = seg.port(mac(2), rx_slots=1000)
    a.faults(reorder=0.1, reorder_ms=5, delay_ms=2)
    h = FakeHost(c, b)
    seg.add_host(h, b)
    for i in range(200):
        a.send(seq_frame(i))
        seg.run(1)
    seg.run(20)
    seqs = [seq_of(f) for _, f in h.got]
    assert sorted(seqs) == list(range(200))
    assert seqs != list(range(200))
    assert a.stats["reordered"] > 5
    # fixed latency: the first frame (unless reordered) arrives 2 ms after sending
    assert h.got[0][0] in (2, 7)


def test_corrupt_flips_one_bit():
    c = VirtualClock()
    seg = Segment(c, seed=9)
    a = seg.port(mac(1), rx_slots=1000)
    b = seg.port(mac(2), rx_slots=1000)
    a.faults(corrupt=0.3)
    f = seq_frame(0, 100)
    for _ in range(300):
        a.send(f)
    seg.run(1)
    bad = 0
    for g in drain(b):
        assert len(g) == len(f)
        diff = 0
        for i in range(len(f)):
            x = f[i] ^ g[i]
            while x:
                diff += x & 1
                x >>= 1
        assert diff in (0, 1)
        bad += diff
    assert bad == a.stats["corrupt"]
    assert 50 < bad < 130


def test_rx_overflow_counted():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2), rx_slots=4)
    for i in range(10):
        a.send(seq_frame(i))
    seg.run(0)
    got = drain(b)
    assert [seq_of(f) for f in got] == [0, 1, 2, 3]
    assert b.stats["overflow"] == 6


def test_oversize_counted():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    a.send(bytes(1515))
    assert a.stats["oversize"] == 1 and a.stats["tx"] == 0
    a.send(seq_frame(1, 200))
    seg.run(0)
    assert b.recv_into(bytearray(100)) == 0
    assert b.stats["oversize"] == 1
    a.send(seq_frame(2, 200))
    seg.run(0)
    buf = bytearray(1600)
    assert b.recv_into(memoryview(buf)) == 200
    assert seq_of(buf) == 2


def test_equal_due_keeps_send_order():
    c = VirtualClock()
    seg = Segment(c, seed=11)
    a = seg.port(mac(1), rx_slots=1000)
    b = seg.port(mac(2), rx_slots=1000)
    a.faults(delay_ms=3, reorder=0.5, reorder_ms=3)
    for i in range(100):
        a.send(seq_frame(i))
    seg.run(10)
    seqs = [seq_of(f) for f in drain(b)]
    # two groups (due 3 and due 6), each in send order
    late = [s for s in seqs[len(seqs) - a.stats["reordered"]:]]
    early = seqs[:len(seqs) - a.stats["reordered"]]
    assert early == sorted(early) and late == sorted(late)
    assert sorted(seqs) == list(range(100))


def test_run_jumps_to_next_event():
    c = VirtualClock(1000)
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    ha = FakeHost(c, a, timer=1500)
    hb = FakeHost(c, b)
    seg.add_host(ha, a)
    seg.add_host(hb, b)
    a.faults(delay_ms=50)
    a.send(seq_frame(7))
    seg.run(10000)
    assert c.now == 11000
    # polled at start, at the frame's arrival (1050, twice: something moved at that
    # instant so the hosts get another pass), at the timer (1500), at the end
    times = []
    for t in ha.polls:
        if t not in times:
            times.append(t)
    assert times == [1000, 1050, 1500, 11000], ha.polls
    assert len(ha.polls) <= 6
    assert hb.got == [(1050, seq_frame(7))]
    assert len(hb.polls) < 10


def test_run_no_spin_on_due_now_timer():
    c = VirtualClock()
    seg = Segment(c)

    class Busy:
        n = 0

        def poll(self):
            self.n += 1

        def poll_at(self):
            return c.ticks_ms()  # always "due now"

    h = Busy()
    seg.add_host(h)
    seg.run(100)
    assert c.now == 100
    assert 100 <= h.n <= 102


def test_run_until_and_echo():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    ha = FakeHost(c, a)
    hb = FakeHost(c, b, echo=True)
    seg.add_host(ha, a)
    seg.add_host(hb, b)
    b.faults(delay_ms=7)
    a.faults(delay_ms=3)
    a.send(seq_frame(1))
    assert seg.run_until(lambda: len(ha.got) > 0, 1000)
    assert c.now == 10
    assert not seg.run_until(lambda: False, 50)
    assert c.now == 60


def test_wait_returns_on_frame_and_skips_owner():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    ha = FakeHost(c, a)  # the owner: the one blocked in wait()
    hb = FakeHost(c, b, echo=True)
    seg.add_host(ha, a)
    seg.add_host(hb, b)
    a.faults(delay_ms=20)
    b.faults(delay_ms=20)
    a.send(seq_frame(3))
    a.wait(1000)
    assert c.now == 40
    assert ha.polls == []
    assert hb.got == [(20, seq_frame(3))]
    assert seq_of(drain(a)[0]) == 3
    a.wait(0)  # ms=0 never advances time
    assert c.now == 40
    a.wait(100)  # nothing comes: times out
    assert c.now == 140
    assert ha.polls == []


def test_wait_stops_at_owner_timer():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    ha = FakeHost(c, a, timer=30)
    seg.add_host(ha, a)
    a.wait(1000)
    assert c.now == 30
    a.wait(1000)  # timer still due (owner not polled): returns at once
    assert c.now == 30
    assert ha.polls == []


def test_wait_skips_every_host_of_the_waiting_board():
    # A board's apps are registered with its port too: while its driver waits, none
    # of its program runs (an app calling into the stack from inside the driver would
    # be a re-entrancy no single-threaded board has), but other boards still do.
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    nic_a = FakeHost(c, a)
    app_a = FakeHost(c)
    app_b = FakeHost(c)
    hb = FakeHost(c, b, echo=True)
    seg.add_host(nic_a, a)
    seg.add_host(app_a, a)
    seg.add_host(app_b, b)
    seg.add_host(hb, b)
    b.faults(delay_ms=5)
    a.send(seq_frame(4))
    a.wait(1000)
    assert c.now == 5
    assert nic_a.polls == [] and app_a.polls == []
    assert app_b.polls and hb.got
    seg.remove_host(app_a)
    assert app_a not in a.owners and app_a not in seg.hosts
    a.wait(20)
    assert app_a.polls == []
    seg.run(1)
    assert app_a.polls == [] and nic_a.polls

def test_wait_returns_at_once_if_frame_ready():
    c = VirtualClock()
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    b.send(seq_frame(1))
    seg.run(0)
    a.wait(1000)
    assert c.now == 0


def test_tap_pcap_round_trip():
    path = tmp_path("sim_test.pcap")
    c = VirtualClock(1234)
    seg = Segment(c)
    a = seg.port(mac(1))
    b = seg.port(mac(2))
    w = PcapWriter(path)
    seg.tap(w)
    a.faults(corrupt=1.0)  # the capture shows frames before faults
    f1 = seq_frame(1)
    f2 = seq_frame(2, 1514)
    a.send(f1)
    c.advance(2500)
    b.send(f2)
    seg.run(0)
    w.close()
    recs = read_pcap(path)
    assert recs == [(1234, f1), (3734, f2)]
    g = drain(b)
    assert g[0] != f1
    with open(path, "rb") as fh:
        hdr = fh.read(24)
    assert hdr[:4] == b"\xd4\xc3\xb2\xa1"  # 0xa1b2c3d4 little-endian
    assert hdr[20] == 1  # linktype Ethernet


def test_mocklan_trace():
    c = VirtualClock()
    m = MockLan(mac(5), c)
    assert m.link_up() and m.mac == mac(5)
    buf = bytearray(1514)
    assert m.recv_into(buf) == 0
    m.inject(b"abc")
    m.wait(100)
    assert c.now == 0
    assert m.recv_into(buf) == 3 and buf[:3] == b"abc"
    m.wait(100)
    assert c.now == 100
    ba = bytearray(b"xyz")
    m.send(ba)
    ba[0] = 0
    m.send(memoryview(b"12"))
    assert m.take() == [b"xyz", b"12"]
    assert m.take() == []
    m.up = False
    assert not m.link_up()


def test_mocklan_preload_no_alloc():
    m = MockLan(mac(5), keep=False)
    f = seq_frame(77, 590)
    m.preload(f, count=100)
    buf = bytearray(1514)
    mv = memoryview(buf)
    out = bytearray(600)

    def loop():
        total = 0
        n = m.recv_into(mv)
        while n:
            total += n
            m.send(out)
            n = m.recv_into(mv)
        return total

    if MICROPYTHON:
        import micropython
        micropython.heap_lock()
        try:
            total = loop()
        finally:
            micropython.heap_unlock()
    else:
        total = loop()
    assert total == 100 * 590
    assert m.replayed == 100
    assert buf[:590] == f
    assert m.n_sent == 100 and m.n_bytes == 60000
    assert m.sent == []
