# Scripted hostile TCP peers in the simulation (MockLan, virtual time): RFC 5961 blind
# RST/SYN/data injection sweeps, ACK storms, conflicting retransmissions, tiny and
# zero windows, MSS 1 and 0, out-of-window FIN, options abuse. Each test asserts the
# segments spinet sent (or did not), the bytes the application read and the tcp_*
# counters. Built on the scripted Peer of tests/test_tcp_trace.py (seq relative to
# the peer's ISN, ack relative to ours). docs/RELIABILITY.md lists these tests.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import test_tcp_trace as tt
from test_tcp_trace import A, F, P, R, S, expect, tcp_delta

from boards.sim.rng import XorShift

from spinet import config, tcp
from spinet.compat import ticks_diff

RXW = config.TCP_RX_BYTES


def read_all(s, limit=100000):
    out = b""
    for _ in range(1000):
        try:
            d = s.recv(4096)
        except OSError:
            break
        if not d:
            break
        out += d
        if len(out) >= limit:
            break
    return out


# --- RFC 5961 ------------------------------------------------------------------------------

def test_blind_rst_sweep_only_exact_resets():
    # A blind attacker walks RSTs through the sequence space, a window apart: the
    # ones outside the window are dropped silently, the one inside (not exact) gets a
    # challenge ACK (RFC 5961 3.2); only SEG.SEQ == RCV.NXT would reset.
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    before = nic.stats()
    n = 0
    inside = 0
    seq = 1 + 7  # not exact: 7 past RCV.NXT
    for i in range(256):
        p.send(R, seq, 0)
        n += 1
        for seg in p.segs():
            expect(seg, A, 1, 1, window=RXW)  # the challenge ACK, nothing else
            inside += 1
        seq = (seq + (1 << 24)) & 0xFFFFFFFF  # 256 steps cover the 32-bit space
    assert inside == 1 and cb.state == tcp.ESTABLISHED
    assert tcp_delta(nic, before) == {"tcp_rx": n, "tcp_tx": 1, "tcp_rst_ignored": n,
                                      "tcp_challenge_ack": 1}
    p.send(A | P, 1, 1, b"alive")
    assert s.recv(10) == b"alive"
    before = nic.stats()
    p.send(R, 6, 0)  # exactly RCV.NXT: the connection is reset, nothing sent
    p.none()
    assert cb.state == tcp.CLOSED
    assert tcp_delta(nic, before) == {"tcp_rx": 1, "tcp_rst_rx": 1, "tcp_abort": 1}


def test_challenge_acks_are_one_per_segment_no_amplification():
    # spinet has no RFC 5961 section 7 rate limit (decision in docs/SECURITY.md): a
    # challenge ACK is one 60-byte frame per attacker frame, never more.
    nic, lan, clock, s, p = tt.active()
    before = nic.stats()
    for i in range(100):
        p.send(R if i & 1 else S, 2 + i, 0, mss=tt.MSS if not i & 1 else None)
    segs = p.segs()
    assert len(segs) == 100
    for seg in segs:
        expect(seg, A, 1, 1, window=RXW)
        assert len(seg["frame"]) <= 60
    d = tcp_delta(nic, before)
    assert d["tcp_challenge_ack"] == 100 and d["tcp_tx"] == 100
    assert s._cb.state == tcp.ESTABLISHED


def test_blind_syn_in_window_challenge_ack_connection_survives():
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    before = nic.stats()
    for off in (1, 2, 100, RXW - 1):
        p.send(S, off, 0, mss=536)
        expect(p.one(), A, 1, 1, window=RXW)
    assert cb.state == tcp.ESTABLISHED and cb.mss == tt.MSS  # the SYN's MSS not taken
    assert tcp_delta(nic, before) == {"tcp_rx": 4, "tcp_tx": 4, "tcp_bad_flags": 4,
                                      "tcp_challenge_ack": 4}
    assert s.send(b"ok") == 2
    expect(p.one(), A | P, 1, 1, b"ok")


def test_blind_data_injection_with_bad_ack_not_delivered():
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    assert s.send(b"x" * 100) == 100
    p.segs()
    before = nic.stats()
    # in-window sequence numbers, ACK fields an off-path attacker guessed wrong
    p.send(A | P, 1, 102, b"EVIL1")  # beyond SND.MAX (ACK of unsent data)
    expect(p.one(), A, 101, 1)
    p.send(A | P, 1, 1 - 65535 - 10, b"EVIL2")  # before SND.UNA - MAX.SND.WND
    expect(p.one(), A, 101, 1)
    p.send(A | P, 1, (1 << 31) + 5, b"EVIL3")  # half the space away
    expect(p.one(), A, 101, 1)
    p.send(P, 1, 0, b"EVIL4")  # no ACK bit at all: dropped silently
    p.none()
    assert cb.rx.count == 0 and cb.rcv_nxt == 1 and cb.snd_una == 1
    d = tcp_delta(nic, before)
    # (an ACK half the space away reads as too old: out of window)
    assert d == {"tcp_rx": 4, "tcp_tx": 3, "tcp_ack_unsent": 1, "tcp_out_of_window": 2}, d
    p.send(A | P, 1, 101, b"real")
    assert s.recv(10) == b"real"


# --- ACK storms ---------------------------------------------------------------------------

def test_ack_storm_of_duplicates_and_old_acks():
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    s.setsockopt(tt.IPPROTO_TCP, tt.TCP_NODELAY, 1)  # both segments at once
    data = bytes(range(250)) * 8  # 2000 bytes: 2 segments
    assert s.send(data) == len(data)
    first = p.segs()
    assert [len(x["data"]) for x in first] == [1460, 540]
    p.send(A, 1, 1461)  # the first segment arrived
    before = nic.stats()
    sent = []
    for i in range(500):  # duplicates of that ACK
        p.send(A, 1, 1461)
        sent += p.segs()
    for i in range(500):  # old ACKs (below SND.UNA, still inside MAX.SND.WND)
        p.send(A, 1, 1 + (i % 1400))
        sent += p.segs()
    # one fast retransmission of the missing segment, and nothing else: no answer
    # to a pure ACK, however many
    assert [(x["seq"], len(x["data"])) for x in sent] == [(1461, 540)], \
        [(x["seq"], len(x["data"]), x["flags"]) for x in sent]
    d = tcp_delta(nic, before)
    assert d["tcp_fast_retransmit"] == 1 and d["tcp_tx"] == 1 and d["tcp_rx"] == 1000
    assert cb.state == tcp.ESTABLISHED
    p.send(A, 1, 1 + len(data))
    assert cb.tx.count == 0


def test_acks_for_unsent_data_each_answered_once():
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    before = nic.stats()
    for i in range(50):
        p.send(A, 1, 2 + i * 1000)
        expect(p.one(), A, 1, 1)
    d = tcp_delta(nic, before)
    assert d == {"tcp_rx": 50, "tcp_tx": 50, "tcp_ack_unsent": 50}, d
    assert cb.snd_una == 1 and cb.state == tcp.ESTABLISHED


# --- conflicting retransmissions -------------------------------------------------------

def test_conflicting_retransmission_in_order_keeps_first_bytes():
    nic, lan, clock, s, p = tt.active()
    p.send(A | P, 1, 1, b"AAAAAAAAAA")
    p.send(A | P, 1, 1, b"BBBBBBBBBBBBBBB")  # same start, other bytes, 5 more
    p.send(A | P, 4, 1, b"CCCCCCCCCCCCCCCCCCCC")  # overlaps both
    p.tick(config.TCP_DELACK_MS)
    p.segs()
    # what was taken stays; only the new tail of each retransmission is added
    assert read_all(s) == b"A" * 10 + b"B" * 5 + b"C" * 8
    assert s._cb.rcv_nxt == 24


def test_conflicting_out_of_order_first_copy_wins_nothing_duplicated():
    # Out-of-order data waits in the RX ring at its offset. Policy (docs/SECURITY.md):
    # the first copy of a byte is the one kept, in order or not; a later copy with
    # other bytes only adds what no earlier segment held. The stream has exactly one
    # byte per sequence number: nothing duplicated, nothing lost.
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    p.send(A, 101, 1, b"X" * 100)
    p.send(A, 101, 1, b"Y" * 100)  # same range: nothing new
    p.send(A, 151, 1, b"Z" * 100)  # overlaps the back half, 50 new
    p.send(A, 41, 1, b"W" * 80)  # straddles the hole's end: 60 new, 20 held
    p.send(A, 1, 1, b"a" * 120)  # fills the hole; its last 80 bytes are held already
    p.segs()
    got = read_all(s)
    assert got == b"a" * 40 + b"W" * 60 + b"X" * 100 + b"Z" * 50, got
    assert cb.rcv_nxt == 251
    p.send(A, 1, 1, b"b" * 250)  # all old now: re-ACKed, nothing read
    expect(p.one(), A, 1, 251)
    assert read_all(s) == b""


def test_conflicting_copies_in_random_order_first_copy_of_each_byte_kept():
    # Seeded: segments of a 3000-byte stream, each sent with its own fill byte, in a
    # random order and overlapping at random, until every byte has come once; holes
    # of every shape. The stream read is, byte for byte, the first copy that arrived
    # (a model of first-wins that skips segments the stack counted as dropped).
    n = 3000
    for seed in (1, 2, 3, 4, 5):
        nic, lan, clock, s, p = tt.active(rx=4096)
        rng = XorShift(seed)
        first = bytearray(n)
        have = bytearray(n)  # 1 once some copy of the byte was taken
        fill = 0
        for _ in range(400):
            off = s._cb.rcv_nxt - 1 - 100 + rng.next() % 900  # near the hole: some
            if off < 0:                                        # old, some far ahead
                off = 0
            if off >= n:
                off = n - 1
            ln = 1 + rng.next() % 300
            if off + ln > n:
                ln = n - off
            fill = fill % 250 + 1
            drops = nic.stats()["tcp_ooo_drop"]
            p.send(A, 1 + off, 1, bytes([fill]) * ln)
            p.segs()
            nxt = s._cb.rcv_nxt - 1  # all before it was taken in order
            if nic.stats()["tcp_ooo_drop"] == drops:
                for i in range(off, off + ln):
                    if not have[i]:
                        have[i] = 1
                        first[i] = fill
            for i in range(nxt):
                have[i] = 1
            if nxt >= n:
                break
        for off in range(0, n, 1000):  # whatever holes are left: fill them last
            p.send(A, 1 + off, 1, b"\xff" * 1000)
            p.segs()
        for i in range(n):
            if not have[i]:
                first[i] = 0xFF
        assert s._cb.rcv_nxt == n + 1, (seed, s._cb.rcv_nxt)
        got = read_all(s)
        assert got == bytes(first), (seed, [i for i in range(n) if got[i] != first[i]][:5])


# --- windows -------------------------------------------------------------------------------

def test_tiny_window_one_byte_at_a_time():
    nic, lan, clock, s, p = tt.active(window=1)
    cb = s._cb
    assert s.send(b"0123456789") == 10
    got = b""
    for i in range(200):
        segs = p.segs()
        for seg in segs:
            assert len(seg["data"]) <= 1
            if seg["seq"] == 1 + len(got) and seg["data"]:
                got += seg["data"]
        if len(got) == 10:
            break
        if segs:
            p.send(A, 1, 1 + len(got), window=1)
        else:
            p.tick(100)
    assert got == b"0123456789" and i < 100
    p.send(A, 1, 11, window=1)
    assert cb.tx.count == 0
    assert nic.stats()["tcp_abort"] == 0


def test_zero_window_no_busy_loop_then_data_arrives():
    nic, lan, clock, s, p = tt.active(window=0)
    cb = s._cb
    assert s.send(b"hello world") == 11
    frames = 0
    wakeups = 0
    end = clock.now + 120000
    while clock.now < end:  # two minutes, woken only when the stack says so
        due = nic.poll_at()
        assert due is not None
        step = ticks_diff(due, clock.ticks_ms())
        clock.advance(max(1, min(step, end - clock.now)))
        nic.poll()
        wakeups += 1
        for seg in p.segs():
            frames += 1
            expect(seg, A, 1, 1, b"h")  # a one-byte probe
            p.send(A, 1, 1, window=0)
    # probes back off (1, 2, 4 ... 60 s): a handful, not a loop
    assert 4 <= frames <= 10, frames
    # wake-ups: the probes plus the link check every LINK_CHECK_MS, nothing more
    assert wakeups <= 120000 // config.LINK_CHECK_MS + 2 * frames + 2, wakeups
    assert cb.state == tcp.ESTABLISHED
    p.send(A, 1, 1, window=4000)  # the window opens
    expect(p.one(), A | P, 1, 1, b"hello world")
    p.send(A, 1, 12, window=4000)
    assert cb.tx.count == 0


# --- MSS -----------------------------------------------------------------------------------

def test_mss_1_is_honoured_and_bounded():
    nic, lan, clock, s, p = tt.active(mss=1)
    cb = s._cb
    assert cb.mss == 1
    assert s.send(b"abcdefgh") == 8
    got = b""
    first_flight = None
    for i in range(100):
        segs = p.segs()
        if first_flight is None:
            first_flight = len(segs)
        for seg in segs:
            assert len(seg["data"]) == 1
            if seg["seq"] == 1 + len(got):
                got += seg["data"]
        if len(got) == 8:
            break
        if segs:
            p.send(A, 1, 1 + len(got))
        else:
            p.tick(50)
    assert got == b"abcdefgh"
    # the initial window is min(4 * SMSS, ...): 4 one-byte segments, not thousands
    assert first_flight == 4, first_flight


def test_mss_0_option_means_default():
    nic, lan, clock, s, p = tt.active(mss=0)  # an option present, with value 0
    assert s._cb.peer_mss == config.TCP_DEFAULT_MSS


def test_mss_0_option_in_syn_to_listener():
    nic, lan, clock = tt.ready()
    ls = tt.listener(nic)
    p = tt.Peer(nic, lan, clock, tt.PPORT, 80)
    p.send(S, 0, 0, options=b"\x02\x04\x00\x00")
    sa = p.learn_iss()
    assert sa["flags"] == S | A and sa["mss"] == tt.MSS
    assert tt.children(nic)[0].mss == config.TCP_DEFAULT_MSS
    ls.close()


# --- FIN -------------------------------------------------------------------------------------

def test_fin_out_of_window_and_early_fin():
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    before = nic.stats()
    p.send(A | F, 1 + RXW + 10, 1)  # beyond the window
    expect(p.one(), A, 1, 1)
    p.send(A | F, 0, 1)  # before RCV.NXT (an old FIN)
    expect(p.one(), A, 1, 1)
    assert cb.state == tcp.ESTABLISHED and not cb.fin_rcvd
    assert tcp_delta(nic, before)["tcp_out_of_window"] == 2
    # a FIN in the window but after a hole is not taken until the hole is filled
    p.send(A | F, 11, 1, b"tail")
    p.segs()
    assert cb.state == tcp.ESTABLISHED and not cb.fin_rcvd
    p.send(A, 1, 1, b"0123456789")
    p.tick(config.TCP_DELACK_MS)
    p.segs()
    # the stored segment is data only: the FIN comes again with the retransmission
    p.send(A | F, 11, 1, b"tail")
    p.segs()
    assert read_all(s) == b"0123456789tail"
    assert cb.state == tcp.CLOSE_WAIT and cb.rcv_nxt == 16


# --- options abuse ----------------------------------------------------------------------

def test_options_abuse_on_established_segments():
    # Options are only parsed in SYNs (tests/test_tcp_trace.py test_bad_options):
    # on other segments they are skipped by the data offset, so none of these can
    # change the connection; the data in them is taken normally.
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    abuse = (b"\x02\x00\x00\x01",  # MSS, length 0
             b"\x02\x01\x00\x01",  # MSS, length 1
             b"\x02\x04\x00\x01",  # MSS 1 in a non-SYN (RFC 9293 3.2: only in SYNs)
             b"\xfe\x28\x00\x00",  # unknown kind, length running past the header
             b"\x01" * 40,  # 40 NOPs, the largest header there is
             b"\x99\x02\x88\x02\x00\x00\x00\x00")  # unknown kinds, then END
    want = b""
    seq = 1
    for i in range(len(abuse)):
        d = b"%d" % i
        p.send(A | P, seq, 1, d, options=abuse[i])
        seq += len(d)
        want += d
    p.tick(config.TCP_DELACK_MS)
    p.segs()
    assert read_all(s) == want
    assert cb.mss == tt.MSS and cb.state == tcp.ESTABLISHED
    assert nic.stats()["tcp_bad_header"] == 0
