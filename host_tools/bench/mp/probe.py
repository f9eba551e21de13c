# One benchmark probe per run, on the MicroPython unix port (or CPython):
#
#   micropython probe.py LIBDIR MODE [ARG ...]
#
# LIBDIR holds the `spinet` package (lib/, or a folder of .mpy files). Prints result
# lines "ROW<TAB>name<TAB>value<TAB>unit<TAB>note" that host_tools/bench parses, and
# "DONE" at the end. Restricted Python (no argparse, os.path, f-strings).

import gc
import sys

_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
_ROOT = _HERE + "/../../.."
MP = sys.implementation.name == "micropython"


def row(name, value, unit, note=""):
    print("ROW\t%s\t%s\t%s\t%s" % (name, value, unit, note))


def _paths(lib):
    for p in (_ROOT + "/tests", _HERE, _ROOT, lib):
        sys.path.insert(0, p)


def _mem():
    gc.collect()
    return gc.mem_alloc()


def _ticks_us():
    import time
    if MP:
        return time.ticks_us()
    return int(time.perf_counter() * 1000000)


# --- memory --------------------------------------------------------------------------

def mem_import():
    m0 = _mem()
    import spinet  # noqa: F401
    import spinet.socket  # noqa: F401
    m1 = _mem()
    row("import spinet + spinet.socket", m1 - m0, "B", "heap after import, from .mpy")
    import spinet.drivers.w5500  # noqa: F401
    import spinet.dhcp  # noqa: F401
    import spinet.dns  # noqa: F401
    m2 = _mem()
    row("import + dhcp, dns, w5500 driver", m2 - m0, "B", "what a board program imports")


def mem_iface():
    from boards.sim.clock import VirtualClock
    from boards.sim.mocklan import MockLan
    import spinet
    clock = VirtualClock()
    lan = MockLan(b"\x02\x00\x00\x00\x00\x0a", clock, keep=False)
    m0 = _mem()
    nic = spinet.Interface(lan, clock=clock.ticks_ms)
    nic.ifconfig(("192.0.2.10", "255.255.255.0", "192.0.2.1", "192.0.2.1"))
    nic.active(True)
    nic.poll()
    m1 = _mem()
    row("active Interface", m1 - m0, "B", "incl. its 2 frame buffers, ARP cache, counters")


def mem_conn():
    import rigs
    nic, lan, clock = rigs.interface(rigs.Feeder)
    m0 = _mem()
    s = rigs.connect(nic, lan, 2048, 2048)
    buf = bytearray(2048)
    for _ in range(8):
        lan.feeding = 1
        nic.poll()
        s.recv_into(buf)
    del buf
    m1 = _mem()
    row("TCP connection beyond its rings", m1 - m0 - 4096, "B",
        "established, 2 KB/2 KB rings not counted (%d in all)" % (m1 - m0))


def alloc_rx(segs):
    import rigs
    from spinet import tcp
    nic, lan, clock = rigs.interface(rigs.Feeder)
    s = rigs.connect(nic, lan, 2048, 2048)
    buf = bytearray(4096)
    for _ in range(20):
        lan.feeding = 1
        nic.poll()
        s.recv_into(buf)
    for label, use_socket in (("stack", False), ("with sock.recv_into", True)):
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        for _ in range(segs):
            lan.feeding = 1
            nic.poll()
            if use_socket:
                s.recv_into(buf)
            else:
                tcp.app_recv_into(s._cb, buf, 4096, clock.ticks_ms())
        a1 = gc.mem_alloc()
        gc.enable()
        row("alloc per received segment (%s)" % label, (a1 - a0) / segs, "B/seg",
            "%d full-size segments in, 2 KB ring: app read + ACK per segment" % segs)


def alloc_tx(segs):
    import rigs
    from spinet import tcp
    nic, lan, clock = rigs.interface(rigs.Acker)
    s = rigs.connect(nic, lan, 2048, 8192)
    chunk = memoryview(bytes((i * 7) & 0xFF for i in range(1460)))
    for _ in range(20):
        s.send(chunk)
        nic.poll()
    for label, use_socket in (("stack", False), ("with sock.send", True)):
        n0 = lan.data_segs
        gc.collect()
        gc.disable()
        a0 = gc.mem_alloc()
        while lan.data_segs - n0 < segs:
            if use_socket:
                s.send(chunk)
            else:
                tcp.app_send(s._cb, chunk, 1460, clock.ticks_ms())
            nic.poll()
        a1 = gc.mem_alloc()
        gc.enable()
        n = lan.data_segs - n0
        row("alloc per sent segment (%s)" % label, (a1 - a0) / n, "B/seg",
            "%d full-size segments out, each ACKed" % n)


# --- the board-like program ------------------------------------------------------------

def board(total, peer_only=0):
    """DHCP, DNS, one TCP connection with 2 KB/2 KB rings downloading `total` bytes,
    against servers and a peer spinet stack on a simulated segment (same process)."""
    from boards.sim.clock import VirtualClock
    from boards.sim.dhcpd import DhcpServer
    from boards.sim.dnsd import DnsServer
    from boards.sim.segment import Segment
    import spinet
    from spinet import socket
    clock = VirtualClock()
    seg = Segment(clock, seed=3)
    d = DhcpServer(seg.port(b"\x02\x00\x00\x00\x00\x01", rx_slots=8), clock, "192.0.2.1",
                   dns=("192.0.2.53",))
    seg.add_host(d, d.port)
    ns = DnsServer(seg.port(b"\x02\x00\x00\x00\x00\x53", rx_slots=8), clock, "192.0.2.53")
    ns.a["files.example.test"] = ("192.0.2.11", 300)
    seg.add_host(ns, ns.port)
    pp = seg.port(b"\x02\x00\x00\x00\x00\x0b", rx_slots=8)
    peer = spinet.Interface(pp, clock=clock.ticks_ms, sockets=2)
    seg.add_host(peer, pp)
    peer.ifconfig(("192.0.2.11", "255.255.255.0", "192.0.2.1", "192.0.2.1"))
    peer.active(True)
    ls = peer.socket(socket.AF_INET, socket.SOCK_STREAM, rx=2048, tx=2048)
    ls.setblocking(False)
    ls.bind(("", 80))
    ls.listen(1)
    chunk = bytes(512)
    state = {"conn": None, "sent": 0}

    class Server:
        def poll(self):
            c = state["conn"]
            if c is None:
                try:
                    c, _ = ls.accept()
                except OSError:
                    return
                c.setblocking(False)
                state["conn"] = c
            while state["sent"] < total:
                try:
                    n = c.send(chunk)
                except OSError:
                    return
                if not n:
                    return
                state["sent"] += n
            if state["sent"] >= total and not state.get("closed"):
                state["closed"] = True
                c.close()

        def poll_at(self):
            return None

    seg.add_host(Server())
    gc.collect()
    base = gc.mem_alloc()
    if peer_only:  # the in-process peer side alone: servers, peer stack, segment
        seg.run(100)
        print("BOARD OK")
        return
    # --- the board program proper ---
    bp = seg.port(b"\x02\x00\x00\x00\x00\x0a", rx_slots=8)
    nic = spinet.Interface(bp, clock=clock.ticks_ms)
    seg.add_host(nic, bp)
    nic.active(True)
    nic.ipconfig(dhcp4=True)
    if not seg.run_until(nic.isconnected, 30000):
        print("FAIL dhcp")
        return
    addr = socket.getaddrinfo("files.example.test", 80)[0][-1]
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=2048, tx=2048)
    s.settimeout(10)
    s.connect(addr)
    buf = bytearray(1024)
    got = 0
    peak = 0
    while True:
        n = s.readinto(buf)
        if not n:
            break
        got += n
        if (got & 0x3FFFF) < 1024:  # every 256 KB: live heap after a collection
            m = _mem()
            if m > peak:
                peak = m
    s.close()
    if got != total:
        print("FAIL got %d of %d" % (got, total))
        return
    row("board program live heap mid-transfer", peak - base, "B",
        "beyond the in-process servers and peer stack (largest of samples every 256 KB)")
    # What of that is code: the modules the board program loaded that the peer side
    # had not (DHCP client, resolver), measured by importing them again afresh. With
    # frozen firmware the code stays in flash; the rest is the program's data.
    import sys
    names = [k for k in ("spinet.dhcp", "spinet.dns") if k in sys.modules]
    for k in names:
        del sys.modules[k]
    gc.collect()
    m0 = _mem()
    for k in names:
        __import__(k)
    gc.collect()
    code = _mem() - m0
    row("board program data (code excluded)", peak - base - code, "B",
        "live heap mid-transfer minus the %d B of %s loaded from .mpy: the heap it needs "
        "with frozen modules" % (code, " + ".join(names)))
    print("BOARD OK")


# --- CPU (run under callgrind; counts come from the host) -------------------------------

def cpu_rx(segs, feed_only):
    import rigs
    from spinet import tcp
    nic, lan, clock = rigs.interface(rigs.Feeder)
    s = rigs.connect(nic, lan, 2048, 2048)
    cb = s._cb
    buf = bytearray(4096)
    fb = bytearray(1514)
    for _ in range(8):
        lan.feeding = 1
        nic.poll()
        tcp.app_recv_into(cb, buf, 4096, clock.ticks_ms())
    n_tx = lan.n_sent
    if feed_only == 1:  # the rig's own work per segment: build + copy one frame
        for _ in range(segs):
            lan.make(fb)
    elif feed_only == 0:
        for _ in range(segs):
            lan.feeding = 1
            nic.poll()
            tcp.app_recv_into(cb, buf, 4096, 0)
    print("ACKS %d" % (lan.n_sent - n_tx))


def cpu_tx(segs, ack_only):
    import rigs
    from spinet import tcp
    nic, lan, clock = rigs.interface(rigs.Acker)
    s = rigs.connect(nic, lan, 2048, 8192)
    cb = s._cb
    chunk = memoryview(bytes((i * 7) & 0xFF for i in range(1460)))
    fb = bytearray(1514)
    for _ in range(8):
        tcp.app_send(cb, chunk, 1460, 0)
        nic.poll()
    n0 = lan.data_segs
    if ack_only == 1:
        frame = bytearray(1514)
        frame[23] = 6
        frame[16] = 0x05
        frame[17] = 0xDC
        frame[46] = 0x50
        for _ in range(segs):
            lan.send(frame)
            lan.pending = False
            lan.make(fb)
    elif ack_only == 0:
        while lan.data_segs - n0 < segs:
            tcp.app_send(cb, chunk, 1460, 0)
            nic.poll()
    print("SEGS %d" % (lan.data_segs - n0))


def cpu_csum(n, impl):
    from spinet.wire import checksum
    b = bytearray(1514)
    for i in range(1514):
        b[i] = (i * 7) & 0xFF
    mv = memoryview(b)
    if impl == "loop":
        f = checksum._sum16_loop
    elif impl == "viper":
        f = checksum._sum16_viper
    else:
        f = checksum.sum16
    if impl == "none":
        for _ in range(n):
            pass
    else:
        for _ in range(n):
            f(mv, 54, 1460)


# --- scaling ------------------------------------------------------------------------------

def scale(ring, conns, total):
    """`conns` connections from A to B over the simulated segment, rings of `ring`
    bytes both sides, `total` bytes split among them; wall time and heap."""
    import support
    from spinet import socket
    gc.collect()
    m0 = gc.mem_alloc()
    seg, clock, a, b, pa, pb = support.pair(seed=5, sockets=conns + 1)
    ls = b.socket(socket.AF_INET, socket.SOCK_STREAM, rx=ring, tx=ring)
    ls.bind(("", 80))
    ls.listen(conns)
    ls.setblocking(False)
    cs = []
    for _ in range(conns):
        c = a.socket(socket.AF_INET, socket.SOCK_STREAM, rx=ring, tx=ring)
        c.setblocking(False)
        try:
            c.connect((support.IP_B, 80))
        except OSError:
            pass
        cs.append(c)
    srv = []

    def acc():
        while True:
            try:
                x, _ = ls.accept()
            except OSError:
                break
            x.setblocking(False)
            srv.append(x)
        return len(srv) == conns
    assert seg.run_until(acc, 10000)
    gc.collect()
    m1 = gc.mem_alloc()
    each = total // conns
    chunk = memoryview(bytes((i * 7) & 0xFF for i in range(1024)))
    buf = bytearray(2048)
    sent = [0] * conns
    got = [0] * conns

    class Pump:
        def poll(self):
            for i in range(conns):
                while sent[i] < each:
                    k = each - sent[i]
                    try:
                        n = cs[i].send(chunk[:k] if k < 1024 else chunk)
                    except OSError:
                        n = 0
                    if not n:
                        break
                    sent[i] += n
                while True:
                    try:
                        n = srv[i].recv_into(buf)
                    except OSError:
                        n = 0
                    if not n:
                        break
                    got[i] += n

        def poll_at(self):
            return None

    seg.add_host(Pump())
    v0 = clock.now
    t0 = _ticks_us()
    ok = seg.run_until(lambda: sum(got) >= each * conns, 600000)
    t1 = _ticks_us()
    v1 = clock.now
    assert ok, got
    us = t1 - t0
    row("%d KB rings, %d conn" % (ring // 1024, conns), each * conns / us, "MB/s",
        "wall, both stacks in one process; virtual %d ms" % (v1 - v0))
    row("%d KB rings, %d conn heap" % (ring // 1024, conns), m1 - m0, "B",
        "2 Interfaces + %d connected pairs, rings both sides" % conns)


# --- time per stage (ticks_us wrappers, installed by the harness only) ------------------

_T = {}
_N = {}


def _wrap(mod, name, label):
    f = getattr(mod, name)
    _T[label] = 0
    _N[label] = 0

    def w(*a):
        t0 = _ticks_us()
        r = f(*a)
        _T[label] += _ticks_us() - t0
        _N[label] += 1
        return r
    setattr(mod, name, w)


def _wrap_method(obj, name, label):
    f = getattr(obj, name)
    _T[label] = 0
    _N[label] = 0

    def w(*a):
        t0 = _ticks_us()
        r = f(*a)
        _T[label] += _ticks_us() - t0
        _N[label] += 1
        return r
    setattr(obj, name, w)


def stages(path, segs):
    import rigs
    from spinet import tcp, iface, ring
    from spinet.wire import tcp as wtcp
    kind = rigs.Feeder if path == "rx" else rigs.Acker
    nic, lan, clock = rigs.interface(kind)
    s = rigs.connect(nic, lan, 2048, 8192)
    cb = s._cb
    buf = bytearray(4096)
    chunk = memoryview(bytes((i * 7) & 0xFF for i in range(1460)))
    # Warm up, then install the wrappers (module functions looked up at call time).
    for _ in range(8):
        if path == "rx":
            lan.feeding = 1
            nic.poll()
            tcp.app_recv_into(cb, buf, 4096, 0)
        else:
            tcp.app_send(cb, chunk, 1460, 0)
            nic.poll()
    order = []

    def add(mod, name, label, method=False):
        order.append(label)
        if method:
            _wrap_method(mod, name, label)
        else:
            _wrap(mod, name, label)
    add(nic, "poll", "nic.poll (all)", True)
    add(lan, "recv_into", " driver recv_into (rig: frame copy)", True)
    add(nic, "_input", " ethernet + ipv4 + everything below", True)
    add(tcp, "input", "   tcp.input", False)
    add(wtcp, "check", "    tcp checksum verify", False)
    add(tcp, "segment_in", "    tcp.segment_in", False)
    add(tcp, "_ack_in", "     ACK processing", False)
    add(tcp, "_data_in", "     data in", False)
    add(ring.Ring, "write_at", "      ring write_at (copy into a ring)", True)
    add(tcp, "output", "  tcp.output", False)
    add(tcp, "_emit", "   segment build + send", False)
    add(ring.Ring, "copy_out", "    copy from TX ring", True)
    add(wtcp, "build", "    tcp header + checksum", False)
    add(nic, "_ip_send", "    ipv4 + ethernet + xmit", True)
    add(lan, "send", "     driver send (rig)", True)
    add(tcp, "app_recv_into", "app_recv_into (app reads)", False)
    add(tcp, "app_send", "app_send (app writes)", False)
    t0 = _ticks_us()
    done = 0
    while done < segs:
        if path == "rx":
            lan.feeding = 1
            nic.poll()
            tcp.app_recv_into(cb, buf, 4096, 0)
            done += 1
        else:
            tcp.app_send(cb, chunk, 1460, 0)
            nic.poll()
            done = lan.data_segs
    total = _ticks_us() - t0
    for label in order:
        if _N[label]:
            row(label, _T[label] / done, "us/seg", "%d calls per 100 segments" % (
                _N[label] * 100 // done))
    row("loop total", total / done, "us/seg", "wall, incl. wrapper overhead")
    del iface


# --- CPython profile ----------------------------------------------------------------------

def profile(path, segs):
    import cProfile
    import io
    import pstats
    import rigs
    from spinet import tcp
    kind = rigs.Feeder if path == "rx" else rigs.Acker
    nic, lan, clock = rigs.interface(kind)
    s = rigs.connect(nic, lan, 2048, 8192)
    cb = s._cb
    buf = bytearray(4096)
    chunk = memoryview(bytes((i * 7) & 0xFF for i in range(1460)))

    def run(n):
        done = 0
        while done < n:
            if path == "rx":
                lan.feeding = 1
                nic.poll()
                s.recv_into(buf)
                done += 1
            else:
                s.send(chunk)
                nic.poll()
                done = lan.data_segs
    run(8)
    lan.data_segs = 0
    pr = cProfile.Profile()
    pr.enable()
    run(segs)
    pr.disable()
    out = io.StringIO()
    st = pstats.Stats(pr, stream=out)
    st.sort_stats("tottime")
    stats = st.stats  # type: ignore[attr-defined]
    items = sorted(stats.items(), key=lambda kv: -kv[1][2])[:15]
    tot = sum(v[2] for v in stats.values())
    for (fn, line, name), (cc, nc, tt, ct, callers) in items:
        short = fn.split("/lib/", 1)[-1].split("/host_tools/", 1)[-1]
        short = short.split("/tests/", 1)[-1].split("/")[-1] if "spinet" not in short else short
        row("%s:%d %s" % (short, line, name), tt * 1e6 / segs, "us/seg",
            "%.1f%% of %.2f s; %d calls/seg; cum %.1f us/seg" % (
                100 * tt / tot, tot, nc // segs, ct * 1e6 / segs))


def main():
    lib = sys.argv[1]
    _paths(lib)
    mode = sys.argv[2]
    args = sys.argv[3:]
    if mode == "mem_import":
        mem_import()
    elif mode == "mem_iface":
        mem_iface()
    elif mode == "mem_conn":
        mem_conn()
    elif mode == "alloc_rx":
        alloc_rx(int(args[0]))
    elif mode == "alloc_tx":
        alloc_tx(int(args[0]))
    elif mode == "board":
        board(int(args[0]), int(args[1]) if len(args) > 1 else 0)
    elif mode == "cpu_rx":
        cpu_rx(int(args[0]), int(args[1]))
    elif mode == "cpu_tx":
        cpu_tx(int(args[0]), int(args[1]))
    elif mode == "cpu_csum":
        cpu_csum(int(args[0]), args[1])
    elif mode == "scale":
        scale(int(args[0]), int(args[1]), int(args[2]))
    elif mode == "stages":
        stages(args[0], int(args[1]))
    elif mode == "profile":
        profile(args[0], int(args[1]))
    else:
        raise SystemExit("unknown mode " + mode)
    print("DONE")


main()
