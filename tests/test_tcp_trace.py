# TCP packet traces (in the style of smoltcp's tcp.rs tests): a scripted peer on a
# MockLan talks to the stack, whose socket is driven non-blocking so the test owns
# time. Every segment the stack sends is checked against hand-worked values: flags,
# sequence and acknowledgment numbers relative to the stack's ISN (iss) and the
# peer's (irs), the MSS option, the window (free RX ring) and the tcp_* counters.
# The peer's ISN sits just below 2**32 so that its sequence numbers wrap.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import sys

import support
from support import (IP_A, IP_GW, IP_PEER, MAC_A, MAC_PEER, TCP_ACK, TCP_FIN, TCP_PSH,
                     TCP_RST, TCP_SYN, frame_arp, frame_tcp, learn_peer, mock_stack,
                     mss_opt, parse, raises)

from boards.sim.rng import XorShift
from spinet import config, tcp

AF_INET = 2
SOCK_STREAM = 1
SOL_SOCKET = 1
SO_KEEPALIVE = 8
IPPROTO_TCP = 6
TCP_NODELAY = 1

EAGAIN = 11
ECONNRESET = 104
EISCONN = 106
ENOTCONN = 107
ETIMEDOUT = 110
ECONNREFUSED = 111
EALREADY = 114
EINPROGRESS = 115

S = TCP_SYN
A = TCP_ACK
F = TCP_FIN
R = TCP_RST
P = TCP_PSH

M32 = 0xFFFFFFFF
IRS = 0xFFFFFF00  # the peer's ISN: its sequence numbers wrap 256 bytes in
PPORT = 40000  # the peer's port when it connects to us
MSS = 1460  # MTU 1500 - 20 - 20
MICROPYTHON = sys.implementation.name == "micropython"


def rel(x, base):
    """x - base as a signed 32-bit sequence distance."""
    d = (x - base) & M32
    return d - (1 << 32) if d >= (1 << 31) else d


def recv_segments(lan, iss=0, irs=0):
    """The TCP segments the stack sent since the last call, as dicts; seq relative to
    iss, ack relative to irs (give 0 for raw values). Every frame must be valid TCP
    (ARP requests for the peer are answered and left out)."""
    out = []
    for fr in lan.take():
        f = parse(fr)
        if f["type"] == 0x0806:
            # ARP re-probes in the long tests: the peer answers them (next poll)
            if f["op"] == 1 and f["tpa"] == IP_PEER:
                lan.inject(frame_arp(2, MAC_PEER, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
            continue
        assert f["type"] == 0x0800 and f["proto"] == 6, f
        assert f["ip_csum_ok"] and f["tcp_csum_ok"]
        assert f["src"] == MAC_A
        assert f["ttl"] == 64 and f["flags"] == 0x4000 and f["src_ip"] == IP_A
        out.append({"flags": f["tcp_flags"], "seq": rel(f["seq"], iss),
                    "ack": rel(f["ack"], irs), "window": f["window"], "mss": f["mss"],
                    "data": bytes(f["data"]), "sport": f["sport"], "dport": f["dport"],
                    "dst_ip": f["dst_ip"], "raw_seq": f["seq"], "raw_ack": f["ack"],
                    "frame": fr, "ip": f})
    return out


def send_segment(lan, nic, flags, seq, ack, data=b"", window=65535, mss=None, sport=PPORT,
                 dport=80, src_ip=IP_PEER, options=None, **kw):
    """Inject one segment (absolute seq/ack) and poll."""
    if options is None:
        options = mss_opt(mss) if mss else b""
    lan.inject(frame_tcp(sport, dport, seq, ack, flags, window, data, src_ip=src_ip,
                         options=options, **kw))
    nic.poll()


class Peer:
    """The scripted far end of one connection. seq arguments are relative to the
    peer's ISN (irs), ack arguments to the stack's (iss)."""

    def __init__(self, nic, lan, clock, port, lport, irs=IRS):
        self.nic = nic
        self.lan = lan
        self.clock = clock
        self.port = port  # the peer's port
        self.lport = lport  # the stack's port
        self.irs = irs
        self.iss = 0

    def send(self, flags, seq, ack, data=b"", window=65535, mss=None, **kw):
        send_segment(self.lan, self.nic, flags, (self.irs + seq) & M32,
                     (self.iss + ack) & M32, data, window, mss, sport=self.port,
                     dport=self.lport, **kw)

    def segs(self):
        out = recv_segments(self.lan, self.iss, self.irs)
        for s in out:
            assert s["sport"] == self.lport and s["dport"] == self.port
            assert s["dst_ip"] == IP_PEER
        return out

    def one(self):
        s = self.segs()
        assert len(s) == 1, s
        return s[0]

    def none(self):
        s = self.segs()
        assert s == [], s

    def learn_iss(self):
        """Take the stack's SYN or SYN,ACK (exactly one segment) and learn its ISN."""
        s = self.one()
        self.iss = s["raw_seq"]
        s["seq"] = 0
        s["ack"] = rel(s["raw_ack"], self.irs)
        return s

    def tick(self, ms):
        self.clock.advance(ms)
        self.nic.poll()


def expect(s, flags, seq, ack, data=b"", window=None, mss=None):
    assert s["flags"] == flags, "flags %#x, wanted %#x" % (s["flags"], flags)
    assert s["seq"] == seq, "seq %d, wanted %d" % (s["seq"], seq)
    if flags & A:
        assert s["ack"] == ack, "ack %d, wanted %d" % (s["ack"], ack)
    else:
        assert s["raw_ack"] == 0
    assert s["data"] == data, (len(s["data"]), len(data))
    if window is not None:
        assert s["window"] == window, "window %d, wanted %d" % (s["window"], window)
    assert s["mss"] == mss, "mss %r, wanted %r" % (s["mss"], mss)


def tcp_delta(nic, before):
    """The tcp_* counters that moved since before = nic.stats()."""
    now = nic.stats()
    out = {}
    for k in now:
        if k.startswith("tcp_") and now[k] != before[k]:
            out[k] = now[k] - before[k]
    return out


def free_rx(cb):
    return cb.rx.size - cb.rx.count


def ready(**kw):
    # CPython only: range-check every sequence variable after each segment (the check
    # allocates, which would break the heap_lock tests that mprun runs afterwards).
    if not MICROPYTHON:
        tcp.DEBUG_RANGE = True
    nic, lan, clock = mock_stack(**kw)
    learn_peer(nic, lan)
    return nic, lan, clock


def connect_nb(nic, port=80, rx=None, tx=None):
    s = nic.socket(AF_INET, SOCK_STREAM, rx=rx, tx=tx)
    s.setblocking(False)
    raises(EINPROGRESS, s.connect, (IP_PEER, port))
    return s


def active(window=65535, mss=MSS, rx=None, tx=None, **kw):
    """An established active connection: (nic, lan, clock, sock, peer). The handshake
    takes no virtual time."""
    nic, lan, clock = ready(**kw)
    s = connect_nb(nic, rx=rx, tx=tx)
    p = Peer(nic, lan, clock, 80, s._cb.lport)
    syn = p.learn_iss()
    p.send(S | A, 0, 1, window=window, mss=mss)
    expect(p.one(), A, 1, 1, mss=None)
    assert s._cb.state == tcp.ESTABLISHED
    return nic, lan, clock, s, p


def listener(nic, port=80, backlog=2):
    ls = nic.socket(AF_INET, SOCK_STREAM)
    ls.setblocking(False)
    ls.bind(("", port))
    ls.listen(backlog)
    return ls


def children(nic, state=None):
    out = []
    for c in nic._socks:
        if c is not None and c.kind == SOCK_STREAM and c.state != tcp.LISTEN and (
                state is None or c.state == state):
            out.append(c)
    return out


def passive(window=65535, mss=MSS, **kw):
    """An accepted passive connection: (nic, lan, clock, listening sock, sock, peer)."""
    nic, lan, clock = ready(**kw)
    ls = listener(nic)
    p = Peer(nic, lan, clock, PPORT, 80)
    p.send(S, 0, 0, window=window, mss=mss)
    sa = p.learn_iss()
    p.send(A, 1, 1, window=window)
    p.none()
    c, addr = ls.accept()
    assert addr == (IP_PEER, PPORT)
    c.setblocking(False)
    return nic, lan, clock, ls, c, p


# --- opening --------------------------------------------------------------------------

def test_active_open():
    nic, lan, clock = ready()
    before = nic.stats()
    s = connect_nb(nic)
    cb = s._cb
    p = Peer(nic, lan, clock, 80, cb.lport)
    assert 49152 <= cb.lport <= 65535
    syn = p.learn_iss()
    # <SEQ=ISS><CTL=SYN>, MSS 1460 for MTU 1500, window = the whole RX ring
    expect(syn, S, 0, 0, window=config.TCP_RX_BYTES, mss=MSS)
    assert cb.state == tcp.SYN_SENT
    assert tcp_delta(nic, before) == {"tcp_tx": 1}
    raises(ENOTCONN, s.getpeername)
    raises(EALREADY, s.connect, (IP_PEER, 80))
    raises(EAGAIN, s.recv, 10)
    clock.advance(10)
    before = nic.stats()
    p.send(S | A, 0, 1, window=30000, mss=1200)
    # <SEQ=ISS+1><ACK=IRS+1><CTL=ACK>, no MSS option
    expect(p.one(), A, 1, 1, window=config.TCP_RX_BYTES)
    assert cb.state == tcp.ESTABLISHED
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_tx": 1}
    assert cb.mss == 1200 and cb.peer_mss == 1200  # the smaller of the two
    assert cb.snd_wnd == 30000
    assert cb.rto == config.TCP_RTO_MIN_MS  # one 10 ms sample: max(10 + 4*5, min)
    assert s.getpeername() == (IP_PEER, 80)
    assert s.getsockname() == (IP_A, cb.lport)
    raises(EISCONN, s.connect, (IP_PEER, 80))
    assert s.send(b"hi") == 2
    expect(p.one(), A | P, 1, 1, b"hi", window=config.TCP_RX_BYTES)
    assert "ESTABLISHED" in nic.netstat()[0]


def test_passive_open():
    nic, lan, clock = ready()
    ls = listener(nic)
    raises(EAGAIN, ls.accept)
    p = Peer(nic, lan, clock, PPORT, 80)
    before = nic.stats()
    p.send(S, 0, 0, window=20000, mss=1460)
    sa = p.learn_iss()
    # <SEQ=ISS><ACK=IRS+1><CTL=SYN,ACK> with our MSS
    expect(sa, S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_tx": 1}
    half = children(nic, tcp.SYN_RCVD)
    assert len(half) == 1
    raises(EAGAIN, ls.accept)  # not before the handshake completes
    p.send(A, 1, 1, window=20000)
    p.none()
    assert half[0].state == tcp.ESTABLISHED
    c, addr = ls.accept()
    assert addr == (IP_PEER, PPORT)
    assert c._cb is half[0]
    assert c.getpeername() == (IP_PEER, PPORT)
    assert c.getsockname() == (IP_A, 80)
    assert c._cb.snd_wnd == 20000
    raises(EAGAIN, ls.accept)
    c.setblocking(False)
    assert c.send(b"abc") == 3
    expect(p.one(), A | P, 1, 1, b"abc", window=config.TCP_RX_BYTES)


def test_passive_open_advertises_own_mss():
    # The SYN,ACK carries what we can receive (RFC 9293 3.7.1), whatever the peer's.
    nic, lan, clock = ready()
    ls = listener(nic)
    p = Peer(nic, lan, clock, PPORT, 80)
    p.send(S, 0, 0, mss=536)
    sa = p.learn_iss()
    expect(sa, S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    assert children(nic)[0].mss == 536  # what we send is the peer's limit
    p2 = Peer(nic, lan, clock, PPORT + 1, 80)
    p2.send(S, 0, 0)  # no option: the peer takes 536 (RFC 9293 3.7.1)
    expect(p2.learn_iss(), S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    assert children(nic)[1].mss == config.TCP_DEFAULT_MSS


def test_simultaneous_open():
    # RFC 9293 3.5 figure 8.
    nic, lan, clock = ready()
    s = connect_nb(nic)
    cb = s._cb
    p = Peer(nic, lan, clock, 80, cb.lport)
    syn = p.learn_iss()
    p.send(S, 0, 0, mss=MSS)  # the peer's SYN crosses ours
    expect(p.one(), S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    assert cb.state == tcp.SYN_RCVD
    raises(EAGAIN, s.send, b"x")
    before = nic.stats()
    p.send(S | A, 0, 1, mss=MSS)  # ... and its SYN,ACK crosses ours
    assert cb.state == tcp.ESTABLISHED
    p.none()  # our SYN,ACK already acknowledged its SYN
    assert tcp_delta(nic, before) == {"tcp_rx": 1}
    assert s.getpeername() == (IP_PEER, 80)
    assert s.send(b"abc") == 3
    expect(p.one(), A | P, 1, 1, b"abc", window=config.TCP_RX_BYTES)


def test_simultaneous_open_bare_ack():
    # The same crossing, but the peer answers our SYN,ACK with a plain ACK.
    nic, lan, clock = ready()
    s = connect_nb(nic)
    cb = s._cb
    p = Peer(nic, lan, clock, 80, cb.lport)
    p.learn_iss()
    p.send(S, 0, 0, mss=MSS)
    expect(p.one(), S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    p.send(A, 1, 1)
    p.none()
    assert cb.state == tcp.ESTABLISHED
    assert s.getpeername() == (IP_PEER, 80)


def test_connect_refused():
    nic, lan, clock = ready()
    s = connect_nb(nic)
    cb = s._cb
    p = Peer(nic, lan, clock, 80, cb.lport)
    p.learn_iss()
    before = nic.stats()
    p.send(R | A, 0, 5)  # RST whose ACK is not for our SYN: ignored (RFC 9293 3.10.7.3)
    p.send(R, 0, 0)  # RST without ACK: ignored
    p.none()
    assert cb.state == tcp.SYN_SENT
    p.send(R | A, 0, 1)
    p.none()
    assert cb.state == tcp.CLOSED
    assert tcp_delta(nic, before) == {"tcp_rx": 3, "tcp_rst_rx": 1, "tcp_abort": 1}
    raises(ECONNREFUSED, s.recv, 10)
    raises(ECONNREFUSED, s.send, b"x")
    s.close()
    assert children(nic) == []


def test_syn_lost():
    nic, lan, clock = ready()
    s = connect_nb(nic)
    cb = s._cb
    p = Peer(nic, lan, clock, 80, cb.lport)
    p.learn_iss()
    before = nic.stats()
    rto = config.TCP_RTO_INIT_MS
    for i in range(config.TCP_SYN_RETRIES):
        p.tick(rto - 1)
        p.none()
        p.tick(1)
        # the same SYN again, same ISN and MSS (RFC 6298 5.4-5.6: doubled each time)
        expect(p.one(), S, 0, 0, window=config.TCP_RX_BYTES, mss=MSS)
        rto *= 2
        assert cb.rto == rto
        assert cb.state == tcp.SYN_SENT
    assert tcp_delta(nic, before) == {"tcp_tx": 5, "tcp_timeout": 5}
    p.tick(rto - 1)
    assert cb.state == tcp.SYN_SENT
    p.tick(1)
    p.none()  # no RST for a connection that never was
    assert cb.state == tcp.CLOSED
    assert tcp_delta(nic, before) == {"tcp_tx": 5, "tcp_timeout": 6, "tcp_abort": 1}
    assert clock.now == 63000  # 1 + 2 + 4 + 8 + 16 + 32 s
    raises(ETIMEDOUT, s.recv, 1)
    # The SYN,ACK arriving late finds no connection: RST <SEQ=SEG.ACK>.
    p.send(S | A, 0, 1)
    expect(p.one(), R, 1, 0, window=0)


def test_synack_lost():
    nic, lan, clock = ready()
    ls = listener(nic)
    p = Peer(nic, lan, clock, PPORT, 80)
    p.send(S, 0, 0, mss=MSS)
    sa = p.learn_iss()
    cb = children(nic)[0]
    before = nic.stats()
    p.tick(999)
    p.none()
    p.tick(1)
    expect(p.one(), S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    assert cb.rto == 2000
    # The peer, having heard nothing, sends its SYN again: the SYN,ACK again.
    p.send(S, 0, 0, mss=MSS)
    expect(p.one(), S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    assert cb.state == tcp.SYN_RCVD
    assert len(children(nic)) == 1  # no second block for the same 4-tuple
    p.tick(1999)
    p.none()
    p.tick(1)
    expect(p.one(), S | A, 0, 1, window=config.TCP_RX_BYTES, mss=MSS)
    assert tcp_delta(nic, before) == {"tcp_tx": 3, "tcp_rx": 1, "tcp_timeout": 2,
                                      "tcp_out_of_window": 1}
    p.send(A, 1, 1)
    p.none()
    c, addr = ls.accept()
    assert addr == (IP_PEER, PPORT) and c._cb is cb
    assert cb.state == tcp.ESTABLISHED


def test_synack_retries_spent():
    nic, lan, clock = ready()
    ls = listener(nic)
    p = Peer(nic, lan, clock, PPORT, 80)
    p.send(S, 0, 0, mss=MSS)
    p.learn_iss()
    n = 0
    for i in range(64):
        p.tick(1000)
        n += len(p.segs())
    assert n == config.TCP_SYN_RETRIES
    assert children(nic) == []  # the half-open block is gone, the listener stays
    assert ls._cb.state == tcp.LISTEN
    raises(EAGAIN, ls.accept)


def test_final_ack_lost():
    nic, lan, clock = ready()
    ls = listener(nic)
    p = Peer(nic, lan, clock, PPORT, 80)
    p.send(S, 0, 0, mss=MSS)
    p.learn_iss()
    cb = children(nic)[0]
    # the ACK of the handshake is lost; the first data segment carries the same ACK
    p.send(A | P, 1, 1, b"hello")
    assert cb.state == tcp.ESTABLISHED
    p.none()  # the ACK for it is delayed
    c, addr = ls.accept()
    c.setblocking(False)
    assert c.recv(100) == b"hello"
    p.tick(config.TCP_DELACK_MS - 1)
    p.none()
    p.tick(1)
    # the ACK had been due when the data came: window as it was then (SWS avoidance
    # holds the right edge until it can move by min(ring/2, MSS))
    expect(p.one(), A, 1, 6, window=config.TCP_RX_BYTES - 5)


# --- data -----------------------------------------------------------------------------

def test_data_both_ways():
    nic, lan, clock, s, p = active(rx=8192)
    cb = s._cb
    before = nic.stats()
    assert s.send(b"x" * 100) == 100
    expect(p.one(), A | P, 1, 1, b"x" * 100, window=8192)
    assert cb.snd_nxt == 101 and cb.snd_una == 1 and cb.tx.count == 100
    p.send(A, 1, 101)
    p.none()
    assert cb.snd_una == 101 and cb.tx.count == 0 and cb.t_rtx == -1
    # 200 bytes in: the ACK waits (RFC 1122 4.2.3.2) up to TCP_DELACK_MS
    d1 = bytes(range(200))
    p.send(A | P, 1, 101, d1)
    p.none()
    p.tick(config.TCP_DELACK_MS - 1)
    p.none()
    p.tick(1)
    expect(p.one(), A, 101, 201, window=8192 - 200)
    assert s.recv(1000) == d1
    # two full-size segments: the second is ACKed at once
    big = bytes((i * 7) & 0xFF for i in range(2 * MSS))
    p.send(A, 201, 101, big[:MSS])
    p.none()
    p.send(A, 201 + MSS, 101, big[MSS:])
    # free = 8192 - 2920, but the right edge has stayed at 8193 since the 200 bytes
    # were read (moving it by 200 < MSS would be silly window syndrome)
    expect(p.one(), A, 101, 201 + 2 * MSS, window=8192 - 200 - 2 * MSS)
    assert free_rx(cb) == 8192 - 2 * MSS
    p.tick(config.TCP_DELACK_MS)
    p.none()  # no second ACK from the cancelled timer
    # reading opens the window by >= MSS: a window update
    assert s.recv(4000) == big
    expect(p.one(), A, 101, 201 + 2 * MSS, window=8192)
    # data piggybacks the pending ACK
    p.send(A | P, 201 + 2 * MSS, 101, b"ping")
    p.none()
    assert s.recv(10) == b"ping"
    s.send(b"pong")
    # the edge moved to 3121 + 8192 with the update; 4 more bytes read do not move it
    expect(p.one(), A | P, 101, 205 + 2 * MSS, b"pong", window=8192 - 4)
    p.tick(config.TCP_DELACK_MS)
    p.none()  # the delayed ACK went with the data
    d = tcp_delta(nic, before)
    assert d == {"tcp_rx": 5, "tcp_tx": 5}, d


def test_fin_lost():
    nic, lan, clock, s, p = active()
    cb = s._cb
    rto = cb.rto
    s.close()
    expect(p.one(), A | F, 1, 1, window=config.TCP_RX_BYTES)
    assert cb.state == tcp.FIN_WAIT_1
    before = nic.stats()
    p.tick(rto - 1)
    p.none()
    p.tick(1)
    expect(p.one(), A | F, 1, 1, window=config.TCP_RX_BYTES)  # the FIN again
    assert cb.rto == 2 * rto
    p.tick(2 * rto)
    expect(p.one(), A | F, 1, 1, window=config.TCP_RX_BYTES)
    assert tcp_delta(nic, before) == {"tcp_tx": 2, "tcp_retransmit": 2, "tcp_timeout": 2}
    p.send(A, 1, 2)
    p.none()
    assert cb.state == tcp.FIN_WAIT_2
    p.tick(10 * rto)
    p.none()


def test_peer_closes_first():
    nic, lan, clock, s, p = active()
    cb = s._cb
    p.send(A | P | F, 1, 1, b"bye")
    # FIN: ACK at once, covering data and FIN
    # RCV.NXT moved by 4 (3 bytes + FIN) while the right edge stays: 2048 - 4
    expect(p.one(), A, 1, 5, window=config.TCP_RX_BYTES - 4)
    assert cb.state == tcp.CLOSE_WAIT
    assert s.recv(10) == b"bye"
    assert s.recv(10) == b""  # end of stream
    assert s.recv(10) == b""
    assert s.send(b"late") == 4  # our half is still open
    expect(p.one(), A | P, 1, 5, b"late")
    p.send(A, 5, 5)
    s.close()
    expect(p.one(), A | F, 5, 5, window=config.TCP_RX_BYTES - 4)
    assert cb.state == tcp.LAST_ACK
    p.send(A, 5, 6)
    p.none()
    assert cb.state == tcp.CLOSED
    assert children(nic) == [] and nic.netstat() == []
    assert nic._tw == [None] * len(nic._tw)  # LAST-ACK leaves no TIME-WAIT


def test_we_close_first():
    nic, lan, clock, s, p = active()
    cb = s._cb
    lport = cb.lport
    s.close()
    expect(p.one(), A | F, 1, 1, window=config.TCP_RX_BYTES)
    assert cb.state == tcp.FIN_WAIT_1
    p.send(A, 1, 2)
    p.none()
    assert cb.state == tcp.FIN_WAIT_2
    p.send(A | F, 1, 2)
    expect(p.one(), A, 2, 2)
    # TIME-WAIT: the closed socket's block is freed, the table remembers the pair
    assert cb.state == tcp.CLOSED
    assert children(nic) == []
    tw = [e for e in nic._tw if e is not None]
    assert len(tw) == 1
    assert tw[0][0] == lport and tw[0][1] == 80
    p.tick(30000)
    # a retransmitted FIN is ACKed again and restarts the 2 MSL timer
    before = nic.stats()
    p.send(A | F, 1, 2)
    expect(p.one(), A, 2, 2)
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_tx": 1}
    p.tick(config.TCP_TIME_WAIT_MS - 1)
    assert [e for e in nic._tw if e is not None] != []
    p.tick(1)
    assert nic._tw == [None] * len(nic._tw)
    # now the 4-tuple is unknown: RST
    p.send(A | F, 1, 2)
    expect(p.one(), R, 2, 0, window=0)


def test_simultaneous_close():
    nic, lan, clock, s, p = active()
    cb = s._cb
    s.close()
    expect(p.one(), A | F, 1, 1)
    p.send(A | F, 1, 1)  # the peer's FIN, not yet ACKing ours
    expect(p.one(), A, 2, 2)
    assert cb.state == tcp.CLOSING
    p.send(A, 2, 2)
    p.none()
    assert cb.state == tcp.CLOSED  # TIME-WAIT lives on in the table
    assert children(nic) == []
    assert len([e for e in nic._tw if e is not None]) == 1


# --- RFC 5961 and bad segments on a connection ----------------------------------------

def test_rst_exact():
    nic, lan, clock, s, p = active()
    cb = s._cb
    p.send(A | P, 1, 1, b"abc")
    before = nic.stats()
    p.send(R, 4, 0)  # exactly RCV.NXT
    p.none()
    assert cb.state == tcp.CLOSED
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_rst_rx": 1, "tcp_abort": 1}
    raises(ECONNRESET, s.recv, 10)
    raises(ECONNRESET, s.send, b"x")


def test_rst_in_window_challenge_ack():
    nic, lan, clock, s, p = active()
    cb = s._cb
    before = nic.stats()
    p.send(R, 100, 0)
    expect(p.one(), A, 1, 1, window=config.TCP_RX_BYTES)  # challenge ACK
    p.send(R | A, 2, 1)
    expect(p.one(), A, 1, 1, window=config.TCP_RX_BYTES)
    assert cb.state == tcp.ESTABLISHED
    assert tcp_delta(nic, before) == {"tcp_rx": 2, "tcp_tx": 2, "tcp_rst_ignored": 2,
                                      "tcp_challenge_ack": 2}
    p.send(A | P, 1, 1, b"still")
    assert s.recv(10) == b"still"


def test_rst_out_of_window():
    nic, lan, clock, s, p = active()
    cb = s._cb
    before = nic.stats()
    p.send(R, 100000, 0)
    p.send(R, 0, 0)  # one before RCV.NXT
    p.send(R, -1000, 0)
    p.send(R | A, 1 + config.TCP_RX_BYTES, 1)  # just past the window
    p.none()
    assert cb.state == tcp.ESTABLISHED
    assert tcp_delta(nic, before) == {"tcp_rx": 4, "tcp_rst_ignored": 4}


def test_syn_on_established():
    nic, lan, clock, s, p = active()
    cb = s._cb
    before = nic.stats()
    p.send(S, 1, 0, mss=MSS)  # in window: challenge ACK (RFC 5961 4.2)
    expect(p.one(), A, 1, 1)
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_tx": 1, "tcp_bad_flags": 1,
                                      "tcp_challenge_ack": 1}
    before = nic.stats()
    p.send(S, 0, 0, mss=MSS)  # the old SYN again: out of window, an ACK
    expect(p.one(), A, 1, 1)
    p.send(S | A, 0, 1, mss=MSS)  # the old SYN,ACK again
    expect(p.one(), A, 1, 1)
    assert tcp_delta(nic, before) == {"tcp_rx": 2, "tcp_tx": 2, "tcp_out_of_window": 2}
    assert cb.state == tcp.ESTABLISHED


def test_data_out_of_window():
    nic, lan, clock, s, p = active()
    cb = s._cb
    before = nic.stats()
    p.send(A | P, 1 + config.TCP_RX_BYTES, 1, b"beyond")
    expect(p.one(), A, 1, 1, window=config.TCP_RX_BYTES)  # a duplicate ACK
    assert cb.rx.count == 0
    p.send(A | P, 1, 1, b"0123456789")
    p.tick(config.TCP_DELACK_MS)
    expect(p.one(), A, 1, 11)
    p.send(A | P, 1, 1, b"0123456789")  # all old: ACK at once
    expect(p.one(), A, 1, 11)
    p.send(A | P, 6, 1, b"56789abcde")  # half old: the new half is taken
    p.tick(config.TCP_DELACK_MS)
    expect(p.one(), A, 1, 16)
    assert s.recv(100) == b"0123456789abcde"
    assert tcp_delta(nic, before) == {"tcp_rx": 4, "tcp_tx": 4, "tcp_out_of_window": 2}


def test_ack_of_unsent_data():
    nic, lan, clock, s, p = active()
    cb = s._cb
    before = nic.stats()
    p.send(A | P, 1, 500, b"data")  # ACKs 499 bytes never sent
    expect(p.one(), A, 1, 1)
    assert cb.rx.count == 0 and cb.snd_una == 1  # dropped whole
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_tx": 1, "tcp_ack_unsent": 1}
    # too old an ACK (RFC 5961 5.2: below SND.UNA - MAX.SND.WND): ACK, drop
    before = nic.stats()
    p.send(A | P, 1, 1 - 65535 - 1, b"data")
    expect(p.one(), A, 1, 1)
    assert cb.rx.count == 0
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_tx": 1, "tcp_out_of_window": 1}
    # exactly SND.UNA - MAX.SND.WND is still acceptable
    p.send(A | P, 1, 1 - 65535, b"data")
    assert cb.rx.count == 4
    assert cb.state == tcp.ESTABLISHED


def test_out_of_order():
    nic, lan, clock, s, p = active()
    cb = s._cb
    before = nic.stats()
    a = b"a" * 100
    b = b"b" * 100
    c = b"c" * 100
    p.send(A, 101, 1, b)  # a hole before it: an immediate duplicate ACK
    expect(p.one(), A, 1, 1, window=config.TCP_RX_BYTES)
    p.send(A, 201, 1, c)
    expect(p.one(), A, 1, 1, window=config.TCP_RX_BYTES)
    p.send(A, 101, 1, b)  # the same again: stored already, still an ACK
    expect(p.one(), A, 1, 1, window=config.TCP_RX_BYTES)
    raises(EAGAIN, s.recv, 10)
    assert cb.rcv_nxt == 1
    p.send(A, 1, 1, a)  # fills the hole: ACK everything at once
    expect(p.one(), A, 1, 301, window=config.TCP_RX_BYTES - 300)
    assert s.recv(1000) == a + b + c
    # every out-of-order arrival is stored (the repeat merges into its range)
    assert tcp_delta(nic, before) == {"tcp_rx": 4, "tcp_tx": 4, "tcp_ooo": 3}
    assert cb.n_ooo == 3


def test_zero_window_persist():
    nic, lan, clock, s, p = active(window=0)
    cb = s._cb
    assert s.send(b"abc") == 3
    p.none()  # the window is shut
    p.tick(config.TCP_PERSIST_MIN_MS - 1)
    p.none()
    p.tick(1)
    expect(p.one(), A, 1, 1, b"a")  # a one-byte probe (RFC 9293 3.8.6.1)
    p.send(A, 1, 1, window=0)  # still shut: the byte is refused
    p.none()
    # the peer keeps answering: probes go on, the interval doubling up to
    # TCP_RTO_MAX_MS, and the connection stays up (RFC 1122 4.2.2.17)
    times = [clock.now]
    for i in range(1200):  # 10 minutes
        p.tick(500)
        for seg in p.segs():
            expect(seg, A, 1, 1, b"a")
            times.append(clock.now)
            p.send(A, 1, 1, window=0)
    gaps = [times[i + 1] - times[i] for i in range(len(times) - 1)]
    assert gaps[:7] == [1000, 2000, 4000, 8000, 16000, 32000, 60000], gaps
    assert gaps[7:] == [60000] * (len(gaps) - 7), gaps
    assert cb.state == tcp.ESTABLISHED, tcp.STATE_NAMES[cb.state]
    d = nic.stats()
    assert d["tcp_fast_retransmit"] == 0 and d["tcp_dupack"] == 0 and d["tcp_abort"] == 0
    p.send(A, 1, 1, window=1000)  # open
    expect(p.one(), A | P, 1, 1, b"abc")
    p.send(A, 1, 4, window=1000)
    assert cb.tx.count == 0 and cb.t_persist == -1


def test_ack_towards_zero_window_after_refused_probe():
    # Regression: after a refused probe byte SND.MAX is one above SND.UNA. An ACK
    # numbered SND.MAX is unacceptable to a peer whose window is zero (only SEG.SEQ
    # = RCV.NXT passes, RFC 9293 3.10.7.4), so the peer never read our ACKs of its
    # data: it retransmitted until ETIMEDOUT while we held its bytes.
    nic, lan, clock, s, p = active(window=0)
    assert s.send(b"abc") == 3
    p.tick(config.TCP_PERSIST_MIN_MS)
    expect(p.one(), A, 1, 1, b"a")
    p.send(A, 1, 1, window=0)  # refused
    p.none()
    p.send(A | P, 1, 1, b"xyz", window=0)  # data to us while our data waits
    p.tick(config.TCP_DELACK_MS)
    expect(p.one(), A, 1, 4)  # SEG.SEQ = SND.UNA, the peer's RCV.NXT
    assert s.recv(10) == b"xyz"


def test_zero_window_dead_peer():
    # Probes nobody answers count as retransmissions: the connection is given up.
    nic, lan, clock, s, p = active(window=0)
    cb = s._cb
    s.send(b"abc")
    rst = 0
    for i in range(400):
        p.tick(500)
        for seg in p.segs():
            if seg["flags"] & R:
                rst += 1
        if cb.state == tcp.CLOSED:
            break
    assert cb.state == tcp.CLOSED and rst == 1
    assert clock.now < 200000
    raises(ETIMEDOUT, s.recv, 1)


def test_nagle():
    nic, lan, clock, s, p = active()
    cb = s._cb
    s.send(b"a" * 10)
    expect(p.one(), A | P, 1, 1, b"a" * 10)
    s.send(b"b" * 10)
    p.none()  # small, with data in flight: held (RFC 1122 4.2.3.4)
    s.send(b"c" * 10)
    p.none()
    p.send(A, 1, 11)
    expect(p.one(), A | P, 11, 1, b"b" * 10 + b"c" * 10)  # coalesced
    p.send(A, 1, 31)
    p.none()
    assert cb.tx.count == 0


def test_nodelay():
    nic, lan, clock, s, p = active()
    s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    s.send(b"a" * 10)
    expect(p.one(), A | P, 1, 1, b"a" * 10)
    s.send(b"b" * 10)
    expect(p.one(), A | P, 11, 1, b"b" * 10)


def test_fast_retransmit():
    nic, lan, clock, s, p = active(tx=8192)
    cb = s._cb
    data = bytes((i * 13) & 0xFF for i in range(3 * MSS))
    assert cb.cwnd == 3 * MSS  # RFC 5681 3.1: min(4*SMSS, max(2*SMSS, 4380))
    s.send(data)
    segs = p.segs()
    assert len(segs) == 3
    for i in range(3):
        expect(segs[i], A | (P if i == 2 else 0), 1 + i * MSS, 1,
               data[i * MSS:(i + 1) * MSS])
    before = nic.stats()
    # the first segment is lost: three duplicate ACKs
    p.send(A, 1, 1)
    p.send(A, 1, 1)
    p.none()
    p.send(A, 1, 1)
    expect(p.one(), A, 1, 1, data[:MSS])  # resent at once, not after an RTO
    assert tcp_delta(nic, before) == {"tcp_rx": 3, "tcp_tx": 1, "tcp_dupack": 3,
                                      "tcp_fast_retransmit": 1, "tcp_retransmit": 1}
    assert cb.ssthresh == 2 * MSS  # max(FlightSize / 2, 2 * SMSS)
    assert cb.cwnd == cb.ssthresh + 3 * MSS
    p.send(A, 1, 1 + 3 * MSS)  # a full ACK ends recovery (RFC 6582 3.2 step 3)
    p.none()
    assert cb.tx.count == 0 and not cb.in_recovery
    assert cb.cwnd == 2 * MSS  # min(ssthresh, max(FlightSize, SMSS) + SMSS)


def test_retransmission_timeout_data():
    nic, lan, clock, s, p = active()
    cb = s._cb
    rto = cb.rto
    s.send(b"lost")
    expect(p.one(), A | P, 1, 1, b"lost")
    p.tick(rto - 1)
    p.none()
    p.tick(1)
    expect(p.one(), A | P, 1, 1, b"lost")
    p.tick(2 * rto)
    expect(p.one(), A | P, 1, 1, b"lost")
    p.send(A, 1, 5)
    p.tick(10 * rto)
    p.none()
    assert cb.retries == 0


def test_keepalive():
    saved = config.TCP_KEEPIDLE_MS
    config.TCP_KEEPIDLE_MS = 5000
    try:
        nic, lan, clock, s, p = active()
        cb = s._cb
        s.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
        p.tick(4999)
        p.none()
        p.tick(1)
        # <SEQ=SND.NXT-1><ACK=RCV.NXT>, no data (RFC 1122 4.2.3.6)
        expect(p.one(), A, 0, 1, window=config.TCP_RX_BYTES)
        # a live peer answers every probe: the connection stays up indefinitely
        for i in range(3 * config.TCP_KEEPCNT):
            p.send(A, 1, 1)
            p.tick(4999)
            p.none()  # the idle period starts over from the answer
            p.tick(1)
            expect(p.one(), A, 0, 1)
        assert cb.state == tcp.ESTABLISHED
        # traffic also restarts the idle period
        p.send(A | P, 1, 1, b"x")
        p.tick(config.TCP_DELACK_MS)
        expect(p.one(), A, 1, 2)
        p.tick(4999 - config.TCP_DELACK_MS)
        p.none()
        p.tick(1)
        expect(p.one(), A, 0, 2)
        # a dead peer: TCP_KEEPCNT probes, then a RST and ETIMEDOUT
        n = 1
        for i in range(config.TCP_KEEPCNT + 2):
            p.tick(config.TCP_KEEPINTVL_MS)
            for seg in p.segs():
                if seg["flags"] & R:
                    expect(seg, R | A, 1, 2)
                else:
                    expect(seg, A, 0, 2)
                    n += 1
        assert n == config.TCP_KEEPCNT
        assert cb.state == tcp.CLOSED
        raises(ETIMEDOUT, s.recv, 1)
    finally:
        config.TCP_KEEPIDLE_MS = saved


# --- bad input ------------------------------------------------------------------------

def test_bad_checksum_and_offsets():
    nic, lan, clock, s, p = active()
    cb = s._cb
    before = nic.stats()
    p.send(A | P, 1, 1, b"evil", bad_csum=True)
    p.send(R, 1, 0, bad_csum=True)
    p.none()
    assert tcp_delta(nic, before) == {"tcp_bad_checksum": 2}
    before = nic.stats()
    p.send(A | P, 1, 1, b"evil", doff=4)  # data offset below 5
    p.send(A | P, 1, 1, b"evil", doff=0)
    p.send(A | P, 1, 1, b"evil", doff=7)  # 28 bytes of header in a 24-byte segment
    p.send(A, 1, 1, doff=15)
    p.send(R, 1, 0, doff=6)  # 24 > 20
    p.none()
    assert tcp_delta(nic, before) == {"tcp_bad_header": 5}
    assert cb.rx.count == 0 and cb.state == tcp.ESTABLISHED
    # a data offset of 6 on a 24-byte segment is legal: the 4 bytes are an option
    # (NOPs here) and there is no data
    p.send(A, 1, 1, b"\x01\x01\x01\x01", doff=6)
    p.none()
    assert cb.rx.count == 0
    # a listener sees the same: nothing is created, nothing is answered
    ls = listener(nic, 81)
    before = nic.stats()
    q = Peer(nic, lan, clock, PPORT, 81)
    q.send(S, 0, 0, mss=MSS, bad_csum=True)
    q.send(S, 0, 0, doff=4)
    q.send(S, 0, 0, doff=6)
    q.none()
    assert tcp_delta(nic, before) == {"tcp_bad_checksum": 1, "tcp_bad_header": 2}
    assert children(nic, tcp.SYN_RCVD) == []
    assert ls._cb.state == tcp.LISTEN
    p.send(A | P, 1, 1, b"good")
    assert s.recv(10) == b"good"


def test_bad_options():
    nic, lan, clock = ready()
    ls = listener(nic)
    bad = (b"\x02\x00\x05\xb4",  # length 0
           b"\x02\x01\x05\xb4",  # length 1
           b"\x02\x08\x05\xb4",  # runs past the header
           b"\x01\x01\x01\x02",  # kind with no room for its length
           b"\x02\x03\x05\x00",  # MSS with length 3
           b"\x08\x0c\x00\x00\x00\x00\x00\x00",  # timestamps 12 long in 8 bytes
           b"\x03\x00\x01\x01")  # unknown kind, length 0
    before = nic.stats()
    for i in range(len(bad)):
        send_segment(lan, nic, S, 1000 + i, 0, options=bad[i], sport=PPORT + i)
    assert recv_segments(lan) == []
    assert children(nic) == []
    assert tcp_delta(nic, before) == {"tcp_rx": len(bad), "tcp_bad_header": len(bad)}
    # well-formed unknown options are skipped by their length (RFC 9293 3.2)
    good = b"\x04\x02\x01\x01\x08\x0a" + b"\x00" * 8 + b"\x01\x02\x04\x02\x18\x00\x00"
    send_segment(lan, nic, S, 5000, 0, options=good, sport=PPORT + 50)
    segs = recv_segments(lan)
    assert len(segs) == 1 and segs[0]["flags"] == S | A and segs[0]["mss"] == MSS
    assert children(nic)[0].mss == 0x218  # 536 from the option behind the others
    # bad options in a SYN,ACK: dropped, the SYN is retried later
    s = connect_nb(nic)
    p = Peer(nic, lan, clock, 80, s._cb.lport)
    p.learn_iss()
    before = nic.stats()
    p.send(S | A, 0, 1, options=b"\x02\x01\x05\xb4")
    p.none()
    assert s._cb.state == tcp.SYN_SENT
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_bad_header": 1}


def test_bad_flag_combinations():
    nic, lan, clock, s, p = active()
    ls = listener(nic, 81)
    cb = s._cb
    before = nic.stats()
    p.send(S | F, 1, 0)
    p.send(S | R, 1, 0)
    p.send(S | F | A, 1, 1)
    p.none()
    assert cb.state == tcp.ESTABLISHED
    q = Peer(nic, lan, clock, PPORT, 81)
    q.send(S | F, 0, 0)
    q.send(S | R, 0, 0)
    q.send(S | R | F | A | P, 0, 0)
    q.none()
    assert children(nic, tcp.SYN_RCVD) == []
    r = Peer(nic, lan, clock, PPORT, 9)  # closed port: no RST for nonsense either
    r.send(S | F, 0, 0)
    r.none()
    assert tcp_delta(nic, before) == {"tcp_rx": 7, "tcp_bad_flags": 7}
    # a listener answers an ACK with RST, ignores a RST and a bare FIN
    before = nic.stats()
    q.send(A, 0, 1234)
    expect(q.one(), R, 1234, 0, window=0)
    q.send(R, 0, 0)
    q.send(F, 0, 0)
    q.none()
    assert ls._cb.state == tcp.LISTEN
    d = tcp_delta(nic, before)
    assert d == {"tcp_rx": 3, "tcp_tx": 1, "tcp_no_socket": 1, "tcp_rst_tx": 1,
                 "tcp_bad_flags": 1}, d


def _rst_frame(f, sport, dport, seq, ack, flags):
    """The frame the stack must send: byte-exact but for the IP identification."""
    seg = support.tcp(IP_A, IP_PEER, sport, dport, seq, ack, flags, window=0)
    ip = support.ipv4(IP_A, IP_PEER, 6, seg, ident=f["ip"]["id"])
    return support.pad60(support.eth(MAC_PEER, MAC_A, 0x0800, ip))


def test_rst_to_closed_port():
    nic, lan, clock = ready()
    before = nic.stats()
    cases = (
        # flags, seq, ack, data -> RST seq, ack, flags (RFC 9293 3.10.7.1)
        (A | P, 0x12345678, 0xCAFEF00D, b"hello", 0xCAFEF00D, 0, R),
        (A, 7, 0xFFFFFFFF, b"", 0xFFFFFFFF, 0, R),
        (A | F, 7, 99, b"", 99, 0, R),
        (S, 0xFFFFFFFF, 0, b"", 0, 0, R | A),  # SYN: ACK = SEQ + 1 wraps to 0
        (S, 1000, 0, b"synd", 0, 1005, R | A),  # SYN with data: + len + 1
        (P, 0xFFFFFFFE, 0, b"abc", 0, 1, R | A),  # no ACK: ACK = SEQ + LEN
        (F, 500, 0, b"", 0, 501, R | A),
        (F | P, 500, 0, b"xy", 0, 503, R | A),
        (0, 42, 0, b"", 0, 42, R | A),  # no flags at all, no data
    )
    for i in range(len(cases)):
        fl, seq, ack, data, r_seq, r_ack, r_fl = cases[i]
        send_segment(lan, nic, fl, seq, ack, data, sport=PPORT + i, dport=7777)
        segs = recv_segments(lan)
        assert len(segs) == 1, i
        g = segs[0]
        assert g["raw_seq"] == r_seq and g["raw_ack"] == r_ack and g["flags"] == r_fl, i
        assert bytes(g["frame"]) == _rst_frame(g, 7777, PPORT + i, r_seq, r_ack, r_fl), i
    n = len(cases)
    assert tcp_delta(nic, before) == {"tcp_rx": n, "tcp_tx": n, "tcp_no_socket": n,
                                      "tcp_rst_tx": n}
    # a RST is never answered
    before = nic.stats()
    send_segment(lan, nic, R, 1, 0, sport=PPORT, dport=7777)
    send_segment(lan, nic, R | A, 1, 2, sport=PPORT, dport=7777)
    assert recv_segments(lan) == []
    assert tcp_delta(nic, before) == {"tcp_rx": 2, "tcp_no_socket": 2}


def test_rst_in_syn_rcvd():
    # A RST (exactly at RCV.NXT) for a passive half-open connection: back to LISTEN
    # (RFC 9293 3.10.7.4 second check), the listener never sees it.
    nic, lan, clock = ready()
    ls = listener(nic)
    p = Peer(nic, lan, clock, PPORT, 80)
    p.send(S, 0, 0, mss=MSS)
    p.learn_iss()
    before = nic.stats()
    p.send(R, 5, 0)  # in window, not exact: challenge ACK
    expect(p.one(), A, 1, 1)
    assert len(children(nic, tcp.SYN_RCVD)) == 1
    p.send(R, 1, 0)
    p.none()
    assert children(nic) == []
    assert ls._cb.state == tcp.LISTEN
    raises(EAGAIN, ls.accept)
    d = tcp_delta(nic, before)
    assert d["tcp_rst_rx"] == 1 and d["tcp_rst_ignored"] == 1, d


def test_syn_rcvd_bad_ack():
    # In SYN-RECEIVED an ACK that is not for our SYN gets RST <SEQ=SEG.ACK>.
    nic, lan, clock = ready()
    ls = listener(nic)
    p = Peer(nic, lan, clock, PPORT, 80)
    p.send(S, 0, 0, mss=MSS)
    p.learn_iss()
    cb = children(nic)[0]
    p.send(A, 1, 5)
    expect(p.one(), R, 5, 0, window=0)
    p.send(A, 1, 0)
    expect(p.one(), R, 0, 0, window=0)
    assert cb.state == tcp.SYN_RCVD
    p.send(A, 1, 1)
    assert cb.state == tcp.ESTABLISHED


def test_syn_sent_bad_ack():
    # In SYN-SENT an ACK that is not for our SYN gets RST <SEQ=SEG.ACK>.
    nic, lan, clock = ready()
    s = connect_nb(nic)
    p = Peer(nic, lan, clock, 80, s._cb.lport)
    p.learn_iss()
    before = nic.stats()
    p.send(S | A, 0, 2, mss=MSS)
    expect(p.one(), R, 2, 0, window=0)
    p.send(A, 0, 0)
    expect(p.one(), R, 0, 0, window=0)
    assert s._cb.state == tcp.SYN_SENT
    d = tcp_delta(nic, before)
    assert d == {"tcp_rx": 2, "tcp_tx": 2, "tcp_rst_tx": 2, "tcp_ack_unsent": 2}, d
    p.send(S | A, 0, 1, mss=MSS)
    expect(p.one(), A, 1, 1)
    assert s._cb.state == tcp.ESTABLISHED


def test_syn_flood():
    # 10 000 SYNs from random addresses and ports against a listener that also has
    # an established connection. The full count on MicroPython too: the unix port
    # does it in about a second.
    n_syn = 10000
    nic, lan, clock, ls, c, p = passive()
    learn_peer(nic, lan, IP_GW, b"\x02\x00\x00\x00\x00\x01")
    c_cb = c._cb
    n_socks = len(nic._socks)
    rng = XorShift(20240601)
    before = nic.stats()
    max_half = 0
    made = 0
    known = []
    for i in range(n_syn):
        if rng.below(2):
            src = "198.51.100.%d" % (1 + rng.below(254))  # through the gateway
        else:
            src = "192.0.2.%d" % (100 + rng.below(150))  # on-link
        sport = 1024 + rng.below(64000)
        seq = rng.next()
        send_segment(lan, nic, S, seq, 0, mss=536 + rng.below(1000), sport=sport,
                     src_ip=src, window=rng.below(65536))
        if i % 64 == 0:
            clock.advance(rng.below(50))
            nic.poll()
        half = children(nic, tcp.SYN_RCVD)
        for h in half:
            if h not in known:
                made += 1
        known = half
        if len(half) > max_half:
            max_half = len(half)
        assert len(nic._socks) == n_socks
        lan.take()
    d = tcp_delta(nic, before)
    assert max_half == config.TCP_HALF_OPEN_MAX
    assert d["tcp_syn_dropped"] + made == n_syn, d
    assert made >= config.TCP_HALF_OPEN_MAX
    assert len([x for x in nic._socks if x is not None]) <= n_socks
    # the established connection still works both ways
    lan.take()
    p.send(A | P, 1, 1, b"during the flood")
    assert c.recv(100) == b"during the flood"
    c.send(b"fine")
    segs = [g for g in recv_segments(lan, p.iss, p.irs) if g["dport"] == PPORT]
    assert len(segs) == 1
    expect(segs[0], A | P, 1, 17, b"fine")
    p.send(A, 17, 5)
    assert c_cb.tx.count == 0
    # SYN,ACK retries spent: the half-open blocks are gone
    for i in range(70):
        clock.advance(1000)
        nic.poll()
        lan.take()
    assert children(nic, tcp.SYN_RCVD) == []
    assert c_cb.state == tcp.ESTABLISHED
    assert ls._cb.state == tcp.LISTEN
    # and a new connection is taken again
    q = Peer(nic, lan, clock, 5555, 80)
    q.send(S, 0, 0, mss=MSS)
    q.learn_iss()
    q.send(A, 1, 1)
    c2, addr = ls.accept()
    assert addr == (IP_PEER, 5555)
