# Helpers for the emulated-chip tests (tests/test_w5500.py, test_enc28j60.py,
# test_chips_stack.py): the real drivers on the fake SPI bus against the chip models.
# Restricted Python: runs under pytest and tests/mprun.py.
#
#   bench(board_module)       driver + chip whose wire is a MockLan (frames by hand)
#   segment(board_module)     nic A over the emulated chip + plain nic B on a segment
#   transfer(net, size, ...)  one TCP transfer A->B or B->A, SHA-256 checked

import struct

import support
import tcp_apps
from boards import sim_enc28j60, sim_w5500
from boards.sim.clock import VirtualClock
from boards.sim.mocklan import MockLan
from boards.sim.segment import Segment

import spinet

BOARDS = (("w5500", sim_w5500), ("enc28j60", sim_enc28j60))
MAC = support.MAC_A
PEER = support.MAC_PEER


def bench(mod, **kw):
    """(board, lan, clock): the chip's wire is a MockLan on a virtual clock."""
    clock = VirtualClock()
    lan = MockLan(PEER, clock)
    kw.setdefault("mac", MAC)
    b = mod.board(wire=lan, **kw)
    return b, lan, clock


def frame(n, seed=0, dst=MAC, src=PEER):
    """An n-byte Ethernet frame (n >= 14) to dst with a recognisable payload."""
    f = bytearray(n)
    f[0:6] = dst
    f[6:12] = src
    f[12] = 0x88
    f[13] = 0xB5  # local experimental EtherType
    for i in range(14, n):
        f[i] = (i * 7 + seed) & 0xFF
    if n >= 18:
        struct.pack_into(">I", f, 14, seed)
    return bytes(f)


def read_all(drv, limit=1000):
    """Every frame the driver hands over now, as a list of bytes."""
    buf = bytearray(1514)
    out = []
    for _ in range(limit):
        n = drv.recv_into(buf)
        if not n:
            break
        out.append(bytes(buf[:n]))
    return out


def cost(b, fn):
    """(SPI transactions, bytes) that fn() clocked on board b's bus."""
    t0, n0 = b.spi.counts()
    fn()
    t1, n1 = b.spi.counts()
    return t1 - t0, n1 - n0


class Net:
    def __init__(self, seg, clock, a, b, pa, pb):
        self.seg = seg
        self.clock = clock
        self.a = a  # over the emulated chip
        self.b = b  # plain Interface on a SimPort
        self.pa = pa
        self.pb = pb
        self.board = a.board
        self.chip = a.board.chip
        self.drv = a.board.driver


def segment(mod, seed=1, **kw):
    clock = VirtualClock()
    seg = Segment(clock, seed=seed)
    pa = seg.port(MAC, name="chip")
    pb = seg.port(support.MAC_B, name="b")
    a = mod.nic(wire=pa, mac=MAC, clock=clock.ticks_ms,
                ifconfig=(support.IP_A, support.MASK, support.IP_GW, support.IP_GW), **kw)
    b = spinet.Interface(pb, clock=clock.ticks_ms)
    b.ifconfig((support.IP_B, support.MASK, support.IP_GW, support.IP_GW))
    b.active(True)
    seg.add_host(a, pa)
    seg.add_host(b, pb)
    return Net(seg, clock, a, b, pa, pb)


def transfer(net, size, direction="upload", seed=1, during=None, timeout_ms=600_000,
             rx=8192, tx=8192):
    """One TCP transfer between A (over the chip) and B: "upload" A->B, "download"
    B->A. during(net) runs once a quarter of the data is across (fault injection).
    Returns (ok, bytes received, sha256 matched)."""
    data = tcp_apps.pattern(size, seed)
    want = tcp_apps.digest(data)
    # Each board's apps are its own segment host, registered with its port: A's
    # client never runs inside A's driver (a driver's wait() lets time pass on the
    # wire, and a board's program is single-threaded).
    apps_a = tcp_apps.Apps()
    apps_b = tcp_apps.Apps()
    port = 7000 + (seed & 0xFF)
    if direction == "upload":
        srv = apps_b.add(tcp_apps.Server(net.b, port, tcp_apps.sink, rx=rx, tx=tx))
        apps_a.add(tcp_apps.Client(net.a, (support.IP_B, port), data=data, expect=0, rx=rx,
                                   tx=tx))
    else:
        srv = apps_b.add(tcp_apps.Server(net.b, port, tcp_apps.source(data), rx=rx, tx=tx))
        cli = apps_a.add(tcp_apps.Client(net.a, (support.IP_B, port), rx=rx, tx=tx))
    net.seg.add_host(apps_a, net.pa)
    net.seg.add_host(apps_b, net.pb)

    def rx_stream():
        if direction == "upload":
            return srv.conns[0] if srv.conns else None
        return cli

    def got():
        s = rx_stream()
        return s.got if s is not None else 0

    if during is not None:
        net.seg.run_until(lambda: got() >= size // 4, timeout_ms)
        during(net)

    def finished():
        s = rx_stream()
        return s is not None and (s.eof or s.closed)

    net.seg.run_until(finished, timeout_ms)
    s = rx_stream()
    srv.close()
    net.seg.remove_host(apps_a)
    net.seg.remove_host(apps_b)
    if s is None:
        return False, 0, False
    return s.eof and not s.err, s.got, s.digest() == want
