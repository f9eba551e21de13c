# The fuzzing world: one stack on a MockLan with something live in every TCP state
# that matters, an invariant checker run after every input frame, and a liveness check
# (the established connection still carries data both ways, bytes compared).
#
# Shared by the atheris harness (tests/fuzz/fuzz_frames.py), its seed corpus
# (tests/fuzz/make_seeds.py) and the hypothesis property tests
# (tests/cpython/test_properties_frames.py). CPython only.
#
# An input is a sequence of records: [action 1 byte][length 2 bytes BE][frame bytes].
# action bits 0-2: virtual milliseconds to advance before the frame (ADVANCE table);
#   0x08 / 0x20 in the first record: the small-tables world / the DHCP world;
#   0x40: TCP seq/ack are offsets from the live connection's RCV.NXT / SND.UNA;
#   0x80: recompute the IPv4 header and TCP/UDP/ICMP checksums.
# so a mutation of the payload is not thrown away at the checksum, and a segment can
# land inside the window of a connection whose ISNs are random.
import os
import struct
import sys

if hasattr(os, "path"):  # CPython; the MicroPython replay (tests/mpy/) sets sys.path itself
    ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for p in (os.path.join(ROOT, "tests"), ROOT, os.path.join(ROOT, "lib")):
        if p not in sys.path:
            sys.path.insert(0, p)

import support  # noqa: E402
from support import (IP_A, IP_PEER, MAC_A, MAC_PEER, TCP_ACK, TCP_FIN, TCP_SYN,  # noqa: E402
                     csum, frame_tcp, mss_opt)

from spinet import config, dns, tcp  # noqa: E402
from spinet.counters import COUNT, NAMES  # noqa: E402
from spinet.wire import dns as wdns  # noqa: E402

M32 = 0xFFFFFFFF
IRS = 0xFFFFFF00  # peer ISN of the live connection: its numbers wrap soon
LIVE_PORT = 40000  # peer port of the ESTABLISHED connection
HALF_PORT = 40001  # SYN_RCVD
FINW_PORT = 40002  # FIN_WAIT_1 (the stack closed, its FIN unacknowledged)
TW_PORT = 40003  # in the TIME-WAIT table
UDP_PORT = 7
DNS_SERVER = "192.0.2.53"
ADVANCE = (0, 0, 0, 10, 200, 1000, 5000, 30000)
MAX_FRAMES = 16
FIX_CSUM = 0x80
RELATIVE = 0x40


class World:
    pass


def _peer_send(w, sport, seq, ack, flags, data=b"", window=65535, options=b""):
    w.lan.inject(frame_tcp(sport, 80, seq & M32, ack & M32, flags, window, data,
                           options=options))
    w.nic.poll()


def _syn_ack(w, sport, irs):
    """The peer's SYN; returns the stack's ISN from its SYN,ACK."""
    _peer_send(w, sport, irs, 0, TCP_SYN, options=mss_opt(1460))
    for fr in w.lan.take():
        f = support.parse(fr)
        if f["type"] == 0x0800 and f["proto"] == 6 and f["dport"] == sport:
            return f["seq"]
    raise AssertionError("no SYN,ACK")


DHCP_WORLD = 0x20  # in the first record's action: a DHCP client in SELECTING instead


def make_dhcp_world():
    """A stack with no address, its DHCP client waiting for an offer."""
    tcp.DEBUG_RANGE = True
    nic, lan, clock = support.mock_stack(ip=None)
    nic.ipconfig(dhcp4=True)
    nic.poll()
    lan.take()
    w = World()
    w.nic, w.lan, w.clock = nic, lan, clock
    w.cb = w.conn = None
    w.base = snapshot(nic)
    w.last = list(nic._count)
    w.frames = 0
    return w


SMALL_WORLD = 0x08  # in the first record's action: the same with the smallest tables


def make_world(small=False):
    """The stack and its live control blocks (see the module comment); small: 2 ARP
    entries, 1 ARP queue slot, 1 KB reassembly, 128/512-byte TCP rings."""
    tcp.DEBUG_RANGE = True
    if small:
        nic, lan, clock = support.mock_stack(arp_entries=2, arp_queue=1, reasm_bytes=1024)
    else:
        nic, lan, clock = support.mock_stack()
    support.learn_peer(nic, lan)
    support.learn_peer(nic, lan, peer_ip=DNS_SERVER)
    w = World()
    w.nic, w.lan, w.clock = nic, lan, clock
    ls = nic.socket(2, 1, rx=128 if small else None, tx=512 if small else None)
    ls.setblocking(False)
    ls.bind(("", 80))
    ls.listen(2)
    w.ls = ls
    # TIME-WAIT: accept, close (FIN), the peer ACKs and sends its own FIN.
    iss = _syn_ack(w, TW_PORT, 1000)
    _peer_send(w, TW_PORT, 1001, iss + 1, TCP_ACK)
    c, _ = ls.accept()
    c.close()
    lan.take()
    _peer_send(w, TW_PORT, 1001, iss + 2, TCP_ACK | TCP_FIN)
    lan.take()
    # FIN_WAIT_1: accept and close, the FIN left unacknowledged.
    iss = _syn_ack(w, FINW_PORT, 2000)
    _peer_send(w, FINW_PORT, 2001, iss + 1, TCP_ACK)
    c, _ = ls.accept()
    c.close()
    lan.take()
    # ESTABLISHED with 300 bytes in flight from the stack.
    iss = _syn_ack(w, LIVE_PORT, IRS)
    _peer_send(w, LIVE_PORT, IRS + 1, iss + 1, TCP_ACK)
    c, _ = ls.accept()
    c.setblocking(False)
    c.send(b"inflight" * 37 + b"0123")
    w.iss = iss
    w.conn = c
    w.cb = c._cb
    lan.take()
    # SYN_RCVD: a SYN left unanswered.
    _syn_ack(w, HALF_PORT, 3000)
    # UDP socket with one datagram queued.
    u = nic.socket(2, 2)
    u.setblocking(False)
    u.bind(("", UDP_PORT))
    w.udp = u
    lan.inject(support.frame_udp(5000, UDP_PORT, b"queued"))
    nic.poll()
    # A DNS query outstanding, and one name in the cache.
    r = dns.resolver(nic)
    r._store("cached.example.test", b"\xc0\x00\x02\x50", 300, clock.ticks_ms())
    r._qlen = wdns.encode("www.example.test", r._q, 0)
    r._send(support.ip4(DNS_SERVER))
    w.res = r
    lan.take()
    states = sorted(cb.state for cb in nic._socks if cb is not None and cb.kind == 1)
    assert states == [tcp.LISTEN, tcp.SYN_RCVD, tcp.ESTABLISHED, tcp.FIN_WAIT_1], states
    assert sum(1 for e in nic._tw if e is not None) == 1
    w.base = snapshot(nic)
    w.last = list(nic._count)
    w.frames = 0
    return w


def snapshot(nic):
    """Sizes of every preallocated buffer and table (must never change)."""
    a = nic._arp
    return (len(nic._rx), len(nic._tx), len(nic._socks), len(nic._tw), a.size,
            len(a._state), len(a._mac), len(a._qbuf), tuple(len(q) for q in a._qbuf),
            len(nic._reasm.buf), len(nic._reasm._map), len(nic._count))


# --- the invariant checker ----------------------------------------------------------------

def check(w):
    """Every bound and every internal relationship; raises AssertionError."""
    nic = w.nic
    assert snapshot(nic) == w.base, "a preallocated table or buffer changed size"
    assert len(nic._txviews) <= 8
    c = nic._count
    assert len(c) == COUNT
    for i in range(COUNT):
        assert c[i] >= w.last[i], "counter %s went down" % NAMES[i]
    w.last = list(c)
    a = nic._arp
    assert 0 <= a.count() <= a.size
    for i in range(len(a._qbuf)):
        assert 0 <= a._qlen[i] <= len(a._qbuf[i])
        assert -1 <= a._qent[i] < a.size
    r = nic._reasm
    assert r._total <= r.size
    for e in nic._tw:
        assert e is None or len(e) == 9
    tw = [e for e in nic._tw if e is not None]
    assert len(tw) <= config.TCP_TIME_WAIT_SLOTS
    for s in nic._socks:
        if s is None:
            continue
        if s.kind == 1:
            check_tcb(s)
        else:
            check_udp(s)
    res = nic._dns_res
    if res is not None:
        assert len(res._cn) == len(res._ca) == config.DNS_CACHE_ENTRIES
        for k in range(len(res._cn)):
            if res._cn[k] is not None:
                assert len(res._ca[k]) == 4
        assert res._qlen <= wdns.NAME_MAX and res._tlen <= wdns.NAME_MAX


def check_ring(g):
    assert 0 <= g.head < g.size and 0 <= g.count <= g.size and len(g.buf) == g.size


def check_tcb(t):
    assert tcp.CLOSED <= t.state <= tcp.TIME_WAIT
    t.range_check()
    if t.state == tcp.LISTEN:
        assert t.queue is None or len(t.queue) <= t.backlog
        return
    if t.rx is None:
        return
    check_ring(t.rx)
    check_ring(t.tx)
    assert t.rx.size == t.rx_bytes and t.tx.size == t.tx_bytes
    asm = t.asm
    assert 0 <= asm.n <= asm.max
    room = t.rx.size - t.rx.count
    prev = 0
    for k in range(asm.n):
        s, e = asm.start[k], asm.end[k]
        assert prev <= s < e <= room, "assembler range outside the window"
        prev = e + 1 if k else e
    if t.state >= tcp.ESTABLISHED:
        assert 0 <= t.snd_una <= t.snd_nxt <= t.snd_max, (t.snd_una, t.snd_nxt, t.snd_max)
        assert t.snd_max <= t.data_end() + 2  # + SYN and FIN
        assert t.tx_seq <= t.snd_una + 1


def check_udp(u):
    size = len(u.q)
    assert 0 <= u.head < size and 0 <= u.used <= size and 0 <= u.count <= u.slots


# --- input records --------------------------------------------------------------------------

def records(data):
    """(action, frame) pairs from an input (see the module comment)."""
    out = []
    i = 0
    n = len(data)
    while i < n and len(out) < MAX_FRAMES:
        act = data[i]
        ln = (data[i + 1] << 8) | data[i + 2] if i + 2 < n else 0
        ln = min(ln, 1514)
        out.append((act, bytes(data[i + 3:i + 3 + ln])))
        i += 3 + ln
    return out


def record(frame, action=0):
    return bytes((action, len(frame) >> 8, len(frame) & 255)) + bytes(frame)


def _put16(b, k, v):
    b[k] = (v >> 8) & 255
    b[k + 1] = v & 255


def _put32(b, k, v):
    b[k:k + 4] = struct.pack(">I", v & M32)


def _tcb_for(w, peer_port):
    for t in w.nic._socks:
        if t is not None and t.kind == 1 and t.rport == peer_port and t.rx is not None:
            return t
    return w.cb


def fix(w, frame, action):
    """Apply the RELATIVE and FIX_CSUM bits to an IPv4 frame."""
    b = bytearray(frame)
    if len(b) < 34 or b[12:14] != b"\x08\x00":
        return bytes(b)
    hl = (b[14] & 15) * 4
    if hl < 20 or 14 + hl > len(b):
        return bytes(b)
    total = (b[16] << 8) | b[17]
    end = min(len(b), 14 + max(total, hl))
    l4 = 14 + hl
    proto = b[23]
    frag = ((b[20] << 8) | b[21]) & 0x1FFF
    if action & RELATIVE and proto == 6 and end - l4 >= 20 and not frag:
        t = _tcb_for(w, (b[l4] << 8) | b[l4 + 1])
        if t is None:
            return bytes(b)
        irs = (t.irs_hi << 16) | t.irs_lo
        iss = (t.iss_hi << 16) | t.iss_lo
        seq, ack = struct.unpack_from(">II", b, l4 + 4)
        _put32(b, l4 + 4, seq + irs + t.rcv_nxt)
        _put32(b, l4 + 8, ack + iss + t.snd_una)
    if action & RELATIVE and proto == 17 and end - l4 >= 10 and not frag:
        r = w.nic._dns_res
        if (b[l4] << 8 | b[l4 + 1]) == 53 and r is not None and r.port:
            _put16(b, l4 + 2, r.port)  # a DNS answer to the outstanding query
            _put16(b, l4 + 8, r._id)
    if action & RELATIVE and proto == 17 and end - l4 >= 8 + 34 and not frag:
        d = w.nic._dhcp
        if (b[l4] << 8 | b[l4 + 1]) == 67 and d is not None:
            b[l4 + 12:l4 + 16] = d._xid  # a reply to the client's transaction
            b[l4 + 36:l4 + 42] = w.nic.mac
    if action & FIX_CSUM:
        b[24] = b[25] = 0
        _put16(b, 24, csum(b[14:14 + hl]))
        if not frag:
            seg = b[l4:end]
            pseudo = bytes(b[26:34]) + struct.pack(">BBH", 0, proto, len(seg))
            if proto == 6 and len(seg) >= 20:
                b[l4 + 16] = b[l4 + 17] = 0
                _put16(b, l4 + 16, csum(pseudo + bytes(b[l4:end])))
            elif proto == 17 and len(seg) >= 8:
                b[l4 + 6] = b[l4 + 7] = 0
                v = csum(pseudo + bytes(b[l4:end]))
                _put16(b, l4 + 6, v or 0xFFFF)
            elif proto == 1 and len(seg) >= 4:
                b[l4 + 2] = b[l4 + 3] = 0
                _put16(b, l4 + 2, csum(bytes(b[l4:end])))
    return bytes(b)


def feed(w, data):
    """Run one input through the stack, checking the invariants after every frame."""
    for act, frame in records(data):
        w.clock.advance(ADVANCE[act & 7])
        w.lan.inject(fix(w, frame, act))
        w.nic.poll()
        w.frames += 1
        check(w)
        w.lan.take()
    # Let the timers run (retransmissions, TIME-WAIT, reassembly expiry), still checked.
    for _ in range(3):
        w.clock.advance(250)
        w.nic.poll()
        check(w)


# --- liveness ----------------------------------------------------------------------------

def _drain(c, limit=64):
    out = b""
    for _ in range(limit):
        try:
            d = c.recv(4096)
        except OSError:
            break
        if not d:
            break
        out += d
    return out


def live(w, tag=b""):
    """If the input left the connection ESTABLISHED, data still crosses both ways:
    the peer's bytes reach the application and the application's reach the wire.
    Returns True if checked, False if the input legitimately ended the connection."""
    t = w.cb
    nic, lan = w.nic, w.lan
    if t is None or t.state != tcp.ESTABLISHED or t not in nic._socks:
        return False
    c = w.conn
    _drain(c)
    lan.take()
    mark_in = b"<in:" + tag[:32].hex().encode() + b">"
    irs = (t.irs_hi << 16) | t.irs_lo
    iss = (t.iss_hi << 16) | t.iss_lo
    # The peer acknowledges everything sent and opens its window, then sends. Its
    # window update carries the highest sequence number a fuzzed segment already
    # updated the window with (RFC 9293 3.10.7.4: SND.WL1 only moves forward), as the
    # real peer that sent that segment would.
    wl1 = t.snd_wl1 if t.snd_wl1 > t.rcv_nxt else t.rcv_nxt
    lan.inject(frame_tcp(LIVE_PORT, 80, irs + wl1, iss + t.snd_max, TCP_ACK, 65535))
    nic.poll()
    lan.inject(frame_tcp(LIVE_PORT, 80, irs + t.rcv_nxt, iss + t.snd_max, TCP_ACK, 65535,
                         mark_in))
    nic.poll()
    check(w)
    got = _drain(c)
    assert got.startswith(mark_in), (got[:80], mark_in)
    if t.state != tcp.ESTABLISHED:
        return True
    lan.take()
    mark_out = b"<out:" + tag[:32].hex().encode() + b">"
    sent_from = iss + t.snd_nxt
    c.send(mark_out)
    seen = {}
    for _ in range(20):
        nic.poll()
        for fr in lan.take():
            f = support.parse(fr)
            if f["type"] == 0x0806 and f["op"] == 1 and f["tpa"] == IP_PEER:
                # the input evicted the peer from the ARP cache: the peer answers
                lan.inject(support.frame_arp(2, MAC_PEER, IP_PEER, MAC_A, IP_A,
                                             dst_mac=MAC_A))
            if f["type"] == 0x0800 and f["proto"] == 6 and f["dport"] == LIVE_PORT and f["data"]:
                assert f["tcp_csum_ok"]
                seen[(f["seq"] - sent_from) & M32] = bytes(f["data"])
        if 0 in seen and seen[0].startswith(mark_out[:len(seen[0])]):
            break
        w.clock.advance(500)
    out = b""
    while len(out) in seen and len(out) < len(mark_out):
        out += seen[len(out)]
    assert out[:len(mark_out)] == mark_out, (seen, mark_out)
    check(w)
    return True


def fresh(data):
    """The world an input asks for in its first action byte."""
    if data and data[0] & DHCP_WORLD:
        return make_dhcp_world()
    return make_world(bool(data and data[0] & SMALL_WORLD))


def run(data, world=None):
    """A fresh world (or the given one), one input, the liveness check."""
    w = world or fresh(data)
    feed(w, data)
    live(w, data[:8])
    return w


__all__ = ["make_world", "check", "feed", "live", "run", "record", "records", "fix",
           "IP_A", "IP_PEER", "MAC_A", "MAC_PEER"]
