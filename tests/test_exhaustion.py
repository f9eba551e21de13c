# Resource exhaustion on the simulated segment: every bounded table filled (socket
# slots, listen backlog, half-open connections under a SYN flood, ARP entries and
# queue, TIME-WAIT, UDP receive queues, DNS cache, reassembly) and MemoryError from
# an allocation inside the stack or from an application callback. Each case checks
# that new work is refused the documented way (OSError errno, a dropped SYN, a counted
# drop), that a connection already running keeps its bytes intact (SHA-256), and
# that the stack comes back to its baseline when the pressure stops.
# Plain test functions: pytest on CPython, tests/mprun.py on the MicroPython unix port.

import gc
import sys

import support
import tcp_apps
from boards.sim.clock import VirtualClock
from boards.sim.dnsd import DnsServer
from boards.sim.segment import Segment

import spinet
from spinet import config, socket, tcp, udp

EMFILE = 24
ENOMEM = 12
MICROPYTHON = sys.implementation.name == "micropython"
MAC_X = b"\x02\x00\x00\x00\x00\x66"  # the attacker's port
IP_X = "192.0.2.66"


# --- invariants ------------------------------------------------------------------------

def check(nic, sockets=config.SOCKETS):
    """The tables stay within their bounds and every ring is consistent."""
    assert len(nic._socks) == sockets
    assert len(nic._tw) == config.TCP_TIME_WAIT_SLOTS
    assert nic._arp.count() <= len(nic._arp._state)
    for s in nic._socks:
        if s is None:
            continue
        if s.kind == tcp.SOCK_STREAM:
            s.range_check()
            assert (s.rx is None) == (s.tx is None) == (s.asm is None), s.describe()
            for r in (s.rx, s.tx):
                if r is not None:
                    assert 0 <= r.count <= r.size and 0 <= r.head < r.size, s.describe()
            if s.queue is not None:
                # a handshake completes only into a queue below the backlog
                assert s.backlog <= config.TCP_BACKLOG_MAX
                assert len(s.queue) <= s.backlog, s.describe()
        else:
            assert 0 <= s.used <= len(s.q) and 0 <= s.count <= s.slots


def half_open(nic):
    n = 0
    for s in nic._socks:
        if s is not None and s.kind == tcp.SOCK_STREAM and s.state == tcp.SYN_RCVD:
            n += 1
    return n


def upload(seg, a, b, size, seed, port):
    """Start a size-byte transfer B -> A (A runs a sink server). Returns
    (apps, server, data digest)."""
    data = tcp_apps.pattern(size, seed)
    apps = tcp_apps.Apps()
    srv = apps.add(tcp_apps.Server(a, port, tcp_apps.sink, rx=4096, tx=2048))
    apps.add(tcp_apps.Client(b, (support.IP_A, port), data=data, expect=0, rx=2048, tx=4096))
    seg.add_host(apps)
    return apps, srv, tcp_apps.digest(data)


def finished(srv):
    return bool(srv.conns) and srv.conns[0].closed


class Flood:
    """A segment host sending one spoofed SYN every gap_ms to nic's port, from a
    new source port each time, until `count` are out."""

    def __init__(self, seg, port, count, gap_ms=20, dst_port=80):
        self.p = seg.port(MAC_X, name="flood")
        self.clock = seg.clock
        self.left = count
        self.gap = gap_ms
        self.next = seg.clock.now
        self.dport = dst_port
        self.sport = 20000

    def poll(self):
        while self.left and self.clock.now >= self.next:
            self.p.send(support.frame_tcp(self.sport, self.dport, 1000 + self.sport, 0,
                                          support.TCP_SYN, src_ip=IP_X, dst_ip=support.IP_A,
                                          dst_mac=support.MAC_A, src_mac=MAC_X,
                                          options=support.mss_opt(1460)))
            self.sport += 1
            self.left -= 1
            self.next += self.gap
        self.p._rx = []  # the attacker never answers (SYN,ACKs, ARP requests)

    def poll_at(self):
        return self.next if self.left else None


def recovered(seg, nic, sockets=config.SOCKETS):
    """After the pressure: run out every timer, then the tables are at baseline."""
    left, tw = tcp_apps.settle(seg, [nic])
    check(nic, sockets)
    assert left == [] and tw == 0, (left, tw)


# --- tables full -------------------------------------------------------------------------

def test_socket_slots_full():
    # 4 slots: a listener, a running upload, then UDP sockets until socket() says
    # EMFILE; SYNs meanwhile are dropped (counted, no RST: the peer retries), and
    # the retry that comes after a slot is freed connects.
    seg, clock, a, b, pa, pb = support.pair(sockets=4)
    for p in (pa, pb):
        p.faults(delay_ms=5)  # a 10 ms round trip: the upload lasts a while
    apps, srv, want = upload(seg, a, b, 64 * 1024, 1, 80)
    seg.run_until(lambda: srv.conns and srv.conns[0].got > 4096, 10_000)
    extra = []
    for _ in range(4):
        try:
            extra.append(a.socket(socket.AF_INET, socket.SOCK_DGRAM))
        except OSError as e:
            assert e.args[0] == EMFILE
            break
    assert len(extra) == 2 and None not in a._socks
    support.raises(EMFILE, a.socket, socket.AF_INET, socket.SOCK_STREAM)
    late = apps.add(tcp_apps.Client(b, (support.IP_A, 80), data=b"late", expect=0))
    seg.run(100)  # its SYN is dropped (the upload still holds its slot)
    assert a.stats()["tcp_syn_dropped"] >= 1 and late.s._cb.state == tcp.SYN_SENT
    assert not finished(srv)
    check(a, 4)
    seg.run_until(lambda: finished(srv), 60_000)
    st = srv.conns[0]
    assert st.eof and st.got == 64 * 1024 and st.digest() == want
    for s in extra:
        s.close()
    seg.run_until(lambda: len(srv.conns) == 2 and srv.conns[1].closed, 30_000)
    assert srv.conns[1].got == 4 and not late.err
    srv.close()
    recovered(seg, a, 4)
    recovered(seg, b, 4)


def test_listen_backlog_full_then_drained():
    # backlog 2 and nobody accepting: the first SYNs become half-open connections
    # (up to TCP_HALF_OPEN_MAX); two complete into the queue, and once it holds the
    # backlog the others stay half-open (their handshake ACKs ignored, counted
    # tcp_accept_full) and further SYNs are dropped. The queue never holds more than
    # the backlog. When the application accepts, the half-open ones complete on the
    # peers' next segments and the SYN retries get in: every client's bytes arrive.
    seg, clock, a, b, pa, pb = support.pair()
    ls = a.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("", 80))
    ls.listen(2)
    ls.setblocking(False)
    apps = tcp_apps.Apps()
    seg.add_host(apps)
    n = 6
    for i in range(n):
        apps.add(tcp_apps.Client(b, (support.IP_A, 80), data=tcp_apps.pattern(3000, i),
                                 expect=0))
    seg.run(2500)
    q = len(ls._cb.queue)
    assert q == 2 and 1 <= half_open(a) <= config.TCP_HALF_OPEN_MAX, (q, half_open(a))
    st = a.stats()
    assert st["tcp_accept_full"] >= half_open(a), st
    assert st["tcp_syn_dropped"] >= n - q - half_open(a), st
    check(a)
    streams = []
    for _ in range(300):
        try:
            c, _ = ls.accept()
            streams.append(tcp_apps.Stream(c))
            apps.add(streams[-1])
        except OSError:
            pass
        if len(streams) == n:
            break
        seg.run(100)
    assert len(streams) == n
    seg.run_until(lambda: all(s.closed for s in streams), 60_000)
    got = sorted(s.digest() for s in streams)
    assert got == sorted(tcp_apps.digest(tcp_apps.pattern(3000, i)) for i in range(n))
    ls.close()
    recovered(seg, a)


def test_syn_flood_half_open_bounded():
    # 200 spoofed SYNs while an upload runs: at most TCP_HALF_OPEN_MAX connections
    # sit in SYN-RECEIVED, the rest are dropped and counted, the upload's bytes are
    # intact, and once the half-open ones time out a new connection succeeds.
    seg, clock, a, b, pa, pb = support.pair()
    apps, srv, want = upload(seg, a, b, 128 * 1024, 2, 80)
    seg.run_until(lambda: srv.conns and srv.conns[0].got > 4096, 10_000)
    flood = Flood(seg, 80, 200, gap_ms=10)
    seg.add_host(flood)
    peak = 0
    for _ in range(300):
        seg.run(10)
        peak = max(peak, half_open(a))
        check(a)
        if not flood.left:
            break
    assert peak == config.TCP_HALF_OPEN_MAX, peak
    st = a.stats()
    assert st["tcp_syn_dropped"] >= 200 - 2 * config.TCP_HALF_OPEN_MAX, st["tcp_syn_dropped"]
    assert st["arp_entries"] <= config.ARP_ENTRIES
    seg.run_until(lambda: finished(srv), 120_000)
    c = srv.conns[0]
    assert c.eof and c.got == 128 * 1024 and c.digest() == want
    seg.run_until(lambda: half_open(a) == 0, 300_000)  # SYN,ACK retries spent
    assert half_open(a) == 0
    cli = apps.add(tcp_apps.Client(b, (support.IP_A, 80), data=b"after", expect=0))
    seg.run_until(lambda: len(srv.conns) == 2 and srv.conns[1].closed, 10_000)
    assert srv.conns[1].got == 5 and not cli.err
    srv.close()
    recovered(seg, a)


def test_arp_table_and_queue_full():
    # While an upload runs, A sends datagrams to 20 silent neighbours: the cache keeps
    # ARP_ENTRIES, and once half of it is pending the lookups evict each other, not
    # the live peer's entry (valid in every round); the queue keeps ARP_QUEUE_SLOTS
    # packets (the rest counted as queue drops), the failed ones answer EHOSTUNREACH.
    # The upload's bytes are intact and afterwards pings work and the tables are back.
    seg, clock, a, b, pa, pb = support.pair()
    apps, srv, want = upload(seg, a, b, 64 * 1024, 7, 80)
    seg.run_until(lambda: srv.conns and srv.conns[0].got > 4096, 10_000)
    u = a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    unreach = 0
    for i in range(20):
        try:
            u.sendto(b"x" * 100, ("192.0.2.%d" % (100 + i), 9))
        except OSError as e:
            assert e.args[0] == 113, e  # EHOSTUNREACH
            unreach += 1
        check(a)
        table = a.arp_table()
        assert len(table) <= config.ARP_ENTRIES
        assert [e[2] for e in table if e[0] == support.IP_B] == ["valid"], (i, table)
        seg.run(50)
    st = a.stats()
    assert st["arp_queue_drop"] >= 20 - config.ARP_ENTRIES - config.ARP_QUEUE_SLOTS, st
    assert st["arp_evict"] >= 20 - config.ARP_ENTRIES, st
    seg.run_until(lambda: finished(srv), 120_000)
    c = srv.conns[0]
    assert c.eof and c.got == 64 * 1024 and c.digest() == want
    seg.run(config.ARP_FAILED_MS + config.ARP_RETRIES * config.ARP_RETRY_MS + 1000)
    assert None not in a.ping(support.IP_B, count=3)
    u.close()
    srv.close()
    recovered(seg, a)


def test_time_wait_table_full():
    # A closes first, 10 times: TIME-WAIT keeps TCP_TIME_WAIT_SLOTS, the oldest
    # goes early (tcp_tw_reuse); every connection still completes; all drain.
    seg, clock, a, b, pa, pb = support.pair()
    apps = tcp_apps.Apps()
    seg.add_host(apps)
    srv = apps.add(tcp_apps.Server(b, 80, tcp_apps.sink))
    for i in range(10):
        data = tcp_apps.pattern(500, i)
        cli = apps.add(tcp_apps.Client(a, (support.IP_B, 80), data=data, expect=0))
        seg.run_until(lambda: cli.closed and len(srv.conns) == i + 1 and srv.conns[i].closed,
                      10_000)
        seg.run(500)
        assert srv.conns[i].digest() == tcp_apps.digest(data), i
        assert tcp_apps.tw_used(a) == min(i + 1, config.TCP_TIME_WAIT_SLOTS)
        check(a)
    assert a.stats()["tcp_tw_reuse"] == 10 - config.TCP_TIME_WAIT_SLOTS
    srv.close()
    recovered(seg, a)
    recovered(seg, b)


def test_udp_receive_queue_full():
    seg, clock, a, b, pa, pb = support.pair()
    r = a.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("", 5000))
    r.setblocking(False)
    s = b.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(12):
        s.sendto(bytes([i]) * 200, (support.IP_A, 5000))
        seg.run(5)
    check(a)
    assert a.stats()["udp_queue_full"] == 12 - config.UDP_RX_SLOTS
    got = []
    for _ in range(20):
        try:
            got.append(r.recv(512))
        except OSError:
            break
    assert got == [bytes([i]) * 200 for i in range(config.UDP_RX_SLOTS)]
    s.sendto(b"again", (support.IP_A, 5000))  # the queue takes new ones again
    seg.run(5)
    assert r.recv(512) == b"again"
    r.close()
    s.close()
    recovered(seg, a)


def test_dns_cache_full():
    clock = VirtualClock()
    seg = Segment(clock, seed=1)
    ns = DnsServer(seg.port(b"\x02\x00\x00\x00\x00\x53", name="ns"), clock, "192.0.2.53")
    for i in range(10):
        ns.a["h%d.example.test" % i] = ("192.0.2.%d" % (150 + i), 300)
    seg.add_host(ns, ns.port)
    p = seg.port(support.MAC_A, name="client")
    nic = spinet.Interface(p, clock=clock.ticks_ms)
    seg.add_host(nic, p)
    nic.ifconfig((support.IP_A, support.MASK, "192.0.2.1", "192.0.2.53"))
    nic.active(True)
    for rnd in range(2):
        for i in range(10):
            got = socket.getaddrinfo("h%d.example.test" % i, 80)[0][-1][0]
            assert got == "192.0.2.%d" % (150 + i)
            assert len(nic._dns_res.entries(clock.ticks_ms())) <= config.DNS_CACHE_ENTRIES
    n = len(ns.queries)  # 10 names through 4 entries: most second lookups miss
    assert 10 + 10 - config.DNS_CACHE_ENTRIES <= n < 20, n
    got = socket.getaddrinfo("h9.example.test", 80)[0][-1][0]  # the newest is cached
    assert got == "192.0.2.159" and len(ns.queries) == n
    check(nic)


def test_reassembly_slot_busy():
    # One datagram reassembled at a time: while an incomplete one holds the slot,
    # fragments of another are dropped (counted); after REASM_TIMEOUT_MS the slot
    # is free and a complete datagram goes through.
    nic, lan, clock = support.mock_stack()
    support.learn_peer(nic, lan)
    r = nic.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("", 5001))
    r.setblocking(False)
    big = bytes(range(256)) * 6
    first = support.fragments(support.IP_PEER, support.IP_A, 17,
                              support.udp(support.IP_PEER, support.IP_A, 9, 5001, big), 1,
                              chunk=512)
    other = support.fragments(support.IP_PEER, support.IP_A, 17,
                              support.udp(support.IP_PEER, support.IP_A, 9, 5001, big), 2,
                              chunk=512)
    lan.inject(first[0])  # never completed
    for f in other:
        lan.inject(f)
    nic.poll()
    assert nic.stats()["ip_reasm_drop"] >= 1
    support.raises(11, r.recv, 2048)
    clock.advance(config.REASM_TIMEOUT_MS + 1)
    nic.poll()
    assert nic.stats()["ip_reasm_timeout"] == 1
    for f in other:
        lan.inject(f)
    nic.poll()
    assert r.recv(2048) == big
    r.close()
    check(nic)


# --- MemoryError -------------------------------------------------------------------------

class _NoMemory:
    def __init__(self, *a, **kw):
        raise MemoryError()


def no_constructors(fn):
    """fn() while every constructor the stack allocates its blocks and rings with
    raises MemoryError (both interpreters: module globals patched)."""
    from spinet import socket as ssock
    saved = (tcp.Tcb, tcp.Ring, tcp.Assembler, ssock.UdpSocket)
    tcp.Tcb = tcp.Ring = tcp.Assembler = ssock.UdpSocket = _NoMemory
    try:
        return fn()
    finally:
        tcp.Tcb, tcp.Ring, tcp.Assembler, ssock.UdpSocket = saved


def starved(fn):
    """fn() with no heap: micropython.heap_lock() on MicroPython (every allocation
    fails); on CPython the stack's constructors raise (no_constructors)."""
    if MICROPYTHON:
        import micropython
        micropython.heap_lock()
        try:
            return fn()
        finally:
            micropython.heap_unlock()
    return no_constructors(fn)


def _syn(sport, seq=5000):
    return support.frame_tcp(sport, 80, seq, 0, support.TCP_SYN,
                             options=support.mss_opt(1460))


def _listener(nic):
    ls = nic.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("", 80))
    ls.listen(2)
    ls.setblocking(False)
    return ls


def test_memory_error_on_syn_drops_it():
    nic, lan, clock = support.mock_stack()
    support.learn_peer(nic, lan)
    ls = _listener(nic)
    lan.inject(_syn(4000))
    assert starved(nic.poll) == 1  # no exception out of poll()
    assert nic.stats()["no_memory"] == 1 and lan.take() == [] and half_open(nic) == 0
    check(nic)
    lan.inject(_syn(4000))  # the peer's retransmission, with memory back
    nic.poll()
    out = [support.parse(f) for f in lan.take()]
    assert len(out) == 1 and out[0]["tcp_flags"] == support.TCP_SYN | support.TCP_ACK
    ls.close()


def test_memory_error_completing_handshake():
    # The ACK of our SYN,ACK needs the rings: with no heap the segment is dropped,
    # the block stays SYN-RECEIVED without half a set of rings, and the handshake
    # completes on the SYN,ACK retransmission.
    nic, lan, clock = support.mock_stack()
    support.learn_peer(nic, lan)
    ls = _listener(nic)
    lan.inject(_syn(4001))
    nic.poll()
    sa = support.parse(lan.take()[0])
    ack = support.frame_tcp(4001, 80, 5001, sa["seq"] + 1, support.TCP_ACK)
    lan.inject(ack)
    starved(nic.poll)
    assert nic.stats()["no_memory"] == 1 and half_open(nic) == 1
    check(nic)
    clock.advance(config.TCP_RTO_INIT_MS + 1)
    nic.poll()
    again = [support.parse(f) for f in lan.take()]
    assert again and again[0]["tcp_flags"] == support.TCP_SYN | support.TCP_ACK
    lan.inject(ack)
    lan.inject(support.frame_tcp(4001, 80, 5001, sa["seq"] + 1,
                                 support.TCP_ACK | support.TCP_PSH, data=b"hello"))
    nic.poll()
    c, addr = ls.accept()
    assert c.recv(100) == b"hello" and addr == (support.IP_PEER, 4001)
    check(nic)
    c.close()
    ls.close()


def test_memory_error_at_the_socket_edge_is_enomem():
    # A control block or a ring that cannot be allocated is OSError(ENOMEM) from
    # socket() / connect(), as lwIP says when its pools are empty; the socket that
    # failed to connect stays usable.
    nic, lan, clock = support.mock_stack()
    support.learn_peer(nic, lan)
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        e = no_constructors(lambda: _raises(lambda: nic.socket(socket.AF_INET, kind)))
        assert e == ENOMEM and nic._socks.count(None) == len(nic._socks)
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    addr = (support.IP_PEER, 80)
    assert no_constructors(lambda: _raises(lambda: s.connect(addr))) == ENOMEM
    assert s._cb.state == tcp.CLOSED and s._cb.rx is None
    check(nic)
    assert _raises(lambda: s.connect(addr)) == 115  # EINPROGRESS
    s.close()
    assert nic.netstat() == []


def _raises(fn):
    try:
        fn()
    except OSError as e:
        return e.args[0]
    return None


def test_memory_error_from_a_callback_inside_poll():
    # The frame tracer is application code run inside poll(): when it raises
    # MemoryError the frame is dropped and counted, TCP repairs the loss, and the
    # upload's bytes are intact.
    seg, clock, a, b, pa, pb = support.pair()
    apps, srv, want = upload(seg, a, b, 32 * 1024, 3, 80)
    seg.run_until(lambda: srv.conns and srv.conns[0].got > 2048, 10_000)
    hits = [0]

    def tracer(nic, direction, mv, off, n):
        hits[0] += 1
        if hits[0] % 7 == 0:
            raise MemoryError()

    a._tracer = tracer
    a._trace = 4
    seg.run(300)
    a._trace = 0
    assert a.stats()["no_memory"] >= 2
    check(a)
    seg.run_until(lambda: finished(srv), 60_000)
    c = srv.conns[0]
    assert c.eof and c.got == 32 * 1024 and c.digest() == want
    srv.close()
    recovered(seg, a)


def test_application_gives_up_after_memory_error():
    # The application's own code raises MemoryError half-way through a download and
    # drops its socket without close(): the Interface closes the abandoned block
    # (socket.__del__ only marks it), the peer sees the connection end, and both
    # stacks return to baseline while another connection is unaffected.
    seg, clock, a, b, pa, pb = support.pair()
    apps, srv, want = upload(seg, a, b, 32 * 1024, 4, 80)
    srv2 = tcp_apps.Server(b, 81, tcp_apps.source(tcp_apps.pattern(20000, 5)))
    seg.add_host(srv2)
    s = a.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((support.IP_B, 81))
    try:
        got = s.recv(1000)
        assert got
        raise MemoryError()  # the application fails while handling it
    except MemoryError:
        pass
    s.__del__()  # what the collector does with the dropped socket (CPython and boards)
    s = None
    gc.collect()
    seg.run_until(lambda: finished(srv), 60_000)
    c = srv.conns[0]
    assert c.eof and c.got == 32 * 1024 and c.digest() == want
    srv.close()
    srv2.close()
    recovered(seg, a)
    recovered(seg, b)


class _ReentryDriver:
    """Wraps a LAN driver; send() and recv_into() stand for SPI transactions. Inside
    each, `inside()` runs (a garbage collection) and any driver call it makes is a
    re-entrant one."""

    def __init__(self, drv):
        self.d = drv
        self.mac = drv.mac
        self.busy = False
        self.reentered = 0
        self.inside = None

    def _txn(self, fn, *args):
        if self.busy:
            self.reentered += 1
        self.busy = True
        try:
            f = self.inside
            if f is not None:
                self.inside = None
                f()
            return fn(*args)
        finally:
            self.busy = False

    def send(self, frame):
        return self._txn(self.d.send, frame)

    def recv_into(self, buf):
        return self._txn(self.d.recv_into, buf)

    def link_up(self):
        return self.d.link_up()

    def wait(self, ms):
        return self.d.wait(ms)


def test_socket_collected_inside_a_driver_transaction():
    # CPython's collector can finalise an unreachable socket (here: one in a reference
    # cycle) at any allocation, e.g. inside the driver's SPI transaction. Its FIN must
    # not be sent from there; it goes out at the next poll(). (MicroPython's collector
    # does not finalise Python objects, so there the finaliser is called directly.)
    clock = VirtualClock()
    seg = Segment(clock, seed=1)
    pa = seg.port(support.MAC_A, name="a")
    pb = seg.port(support.MAC_B, name="b")
    rd = _ReentryDriver(pa)
    a = spinet.Interface(rd, clock=clock.ticks_ms)
    b = spinet.Interface(pb, clock=clock.ticks_ms)
    seg.add_host(a, pa)
    seg.add_host(b, pb)
    a.ifconfig((support.IP_A, support.MASK, support.IP_GW, support.IP_GW))
    b.ifconfig((support.IP_B, support.MASK, support.IP_GW, support.IP_GW))
    b.active(True)
    a.active(True)
    apps = tcp_apps.Apps()
    srv = apps.add(tcp_apps.Server(b, 80, tcp_apps.sink))
    seg.add_host(apps)
    s = a.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect((support.IP_B, 80))
    s.sendall(b"abc")
    seg.run(200)
    cb = s._cb
    if MICROPYTHON:
        victim = s
        rd.inside = victim.__del__
    else:
        s.cycle = s  # unreachable once dropped: only the collector frees it
        rd.inside = gc.collect
    s = None
    seg.run(50)  # the next send/receive runs the collection inside the driver
    assert rd.inside is None and rd.reentered == 0
    seg.run_until(lambda: srv.conns and srv.conns[0].closed, 5000)
    assert srv.conns[0].eof and srv.conns[0].got == 3
    assert cb.orphan and rd.reentered == 0
    srv.close()
    recovered(seg, a)


def test_transfer_with_polls_under_heap_lock():
    # Every third poll of A runs with no heap: the per-segment paths allocate
    # nothing, so the transfer completes with its bytes intact and nothing is
    # dropped for lack of memory.
    seg, clock, a, b, pa, pb = support.pair()

    class Starved:
        def __init__(self, nic):
            self.nic = nic
            self.n = 0

        def poll(self):
            self.n += 1
            if self.n % 3 == 0:
                starved(self.nic.poll)
            else:
                self.nic.poll()

        def poll_at(self):
            return self.nic.poll_at()

    seg.remove_host(a)
    wrapped = Starved(a)
    seg.add_host(wrapped, pa)
    seg.run(10)
    apps, srv, want = upload(seg, a, b, 64 * 1024, 6, 80)
    seg.run_until(lambda: finished(srv), 60_000)
    c = srv.conns[0]
    assert c.eof and c.got == 64 * 1024 and c.digest() == want
    assert wrapped.n > 30
    check(a)
    srv.close()
    recovered(seg, a)
