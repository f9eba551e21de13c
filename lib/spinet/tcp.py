# spinet.tcp — TCP control blocks and the state machine.
#
# Heads up: read RFC 9293 3.10 (event processing, followed step by step in
# segment_in), RFC 5961 (blind RST/SYN/data injection: exact-RST rule and challenge
# ACKs), RFC 6298 (RTO), RFC 5681 + RFC 6582 (congestion control, fast
# retransmit/recovery), RFC 1122 4.2.3 (delayed ACK, SWS avoidance, Nagle, keepalive)
# and RFC 6528 (ISN).
#
# A connection is a Tcb: addresses, ports, state, sequence variables, timers and two
# caller-sized rings. Sequence numbers are offsets from a base (our ISN for what we
# send, the peer's IRS for what we receive; see wire/seq.py), so every integer here
# stays small on a 32-bit board.
#
# Send side: the TX ring holds [unacknowledged | unsent] data; tx_seq is the sequence
# offset of its first byte. Segments are copied straight from the ring into the frame
# buffer; a retransmission copies again from the same place. SYN and FIN take
# sequence space but no ring bytes.
# Receive side: in-order bytes wait in the RX ring for the application; out-of-order
# bytes are written into the ring at their place and tracked by an Assembler (a few
# ranges, bounded). The advertised window is the free space of the ring, and its
# right edge never moves left.
#
# Not implemented (RFC 1122 allows leaving them out): window scaling, timestamps and
# SACK (rings are a few KB, so 16-bit windows suffice), urgent data (ignored),
# IP options on TCP, path MTU discovery.

from . import config
from .compat import (ECONNREFUSED, ECONNRESET, EHOSTUNREACH, ETIMEDOUT, const,
                     getrandbits, micropython, ticks_add, ticks_diff)
from .counters import (TCP_ABORT, TCP_ACK_UNSENT, TCP_BAD_CHECKSUM, TCP_BAD_FLAGS,
                       TCP_ACCEPT_FULL, TCP_BAD_HEADER, TCP_CHALLENGE_ACK, TCP_DUPACK,
                       TCP_FAST_RETRANSMIT,
                       TCP_NO_SOCKET, TCP_OOO, TCP_OOO_DROP, TCP_OUT_OF_WINDOW,
                       TCP_RETRANSMIT, TCP_RST_IGNORED, TCP_RST_RX, TCP_RST_TX, TCP_RX,
                       TCP_SYN_DROPPED, TCP_TIMEOUT, TCP_TW_REUSE, TCP_TX)
from .ring import Assembler, Ring
from .wire import seq as wseq
from .wire import tcp as wtcp
from .wire.checksum import sum16 as _sum16

SOCK_STREAM = const(1)

# States, ordered so that ranges read naturally (lwIP does the same).
CLOSED = const(0)
LISTEN = const(1)
SYN_SENT = const(2)
SYN_RCVD = const(3)
ESTABLISHED = const(4)
FIN_WAIT_1 = const(5)
FIN_WAIT_2 = const(6)
CLOSE_WAIT = const(7)
CLOSING = const(8)
LAST_ACK = const(9)
TIME_WAIT = const(10)
STATE_NAMES = ("CLOSED", "LISTEN", "SYN_SENT", "SYN_RCVD", "ESTABLISHED", "FIN_WAIT_1",
               "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT")

_FAR = wseq.FAR
_TW_EXPIRY = const(8)  # index of the expiry time in a TIME-WAIT entry
_OFF = const(-1)  # a timer that is not running
# wire/tcp.py's flags and header length, and wire/ipv4.py's, as constants of this module:
# MicroPython folds them at compile time, where wtcp.ACK is two lookups per use.
_FIN = const(0x01)
_SYN = const(0x02)
_RST = const(0x04)
_PSH = const(0x08)
_ACK = const(0x10)
_ACK_PSH = const(0x18)  # _ACK | _PSH: the flags header prediction accepts
_TCP_HDR = const(20)
_IP_HDR = const(20)
_PROTO_TCP = const(6)
_IP_OFF = const(16)  # iface._IP_OFF: where the IP header starts in the frame buffers
_L4_OFF = const(36)  # iface._L4_OFF: where the TCP header starts

# Set by tests on CPython: every sequence variable is range-checked after each event.
DEBUG_RANGE = False


class Tcb:
    """The control block of one TCP connection (or listener)."""

    kind = SOCK_STREAM

    def __init__(self, nic, rx_bytes, tx_bytes):
        self.nic = nic
        self.state = CLOSED
        self.lport = 0
        self.laddr = None
        self.rport = 0
        self.raddr = b"\x00\x00\x00\x00"
        self.r_hi = 0
        self.r_lo = 0
        self.rx_bytes = rx_bytes
        self.tx_bytes = tx_bytes
        self.rx = None  # Ring, allocated when the connection is established or opened
        self.tx = None
        self.asm = None
        # send sequence space (offsets from iss)
        self.iss_hi = 0
        self.iss_lo = 0
        self.snd_una = 0
        self.snd_nxt = 0
        self.snd_max = 0  # highest offset sent + 1 (snd_nxt moves back on timeout)
        self.snd_wnd = 0
        self.max_wnd = 0  # largest window the peer offered (sender SWS avoidance)
        self.snd_wl1 = 0  # receive offset of the segment that last updated snd_wnd
        self.snd_wl2 = 0
        self.tx_seq = 1  # offset of the first byte in the TX ring
        self.fin_queued = False  # the application closed: FIN after the data
        self.fin_sent = False
        # receive sequence space (offsets from irs)
        self.irs_hi = 0
        self.irs_lo = 0
        self.rcv_nxt = 0
        self.rcv_adv = 0  # right edge of the window we last advertised
        self.fin_rcvd = False
        self.peer_mss = config.TCP_DEFAULT_MSS
        self.mss = config.TCP_DEFAULT_MSS  # what we put in a segment
        # congestion control
        self.cwnd = 0
        self.ssthresh = 0xFFFF
        self.dupacks = 0
        self.recover = -1  # > snd_una while in fast recovery (NewReno)
        self.in_recovery = False
        # RTT / RTO (RFC 6298), in ms; srtt scaled by 8, rttvar by 4 (Jacobson)
        self.srtt8 = 0
        self.rttvar4 = 0
        self.rto = config.TCP_RTO_INIT_MS
        self.rtt_seq = -1  # offset whose ACK ends the running RTT sample, -1: none
        self.rtt_t = 0
        self.retries = 0
        # timers: ticks when due, or _OFF
        self.t_rtx = _OFF
        self.t_dack = _OFF
        self.t_persist = _OFF
        self.t_keep = _OFF
        self.t_wait = _OFF  # TIME-WAIT / FIN-WAIT-2 / orphan timeout
        self.persist_ms = config.TCP_PERSIST_MIN_MS
        self.keep_probes = 0
        self.ack_now = False
        self.unacked_segs = 0  # full segments received since our last ACK
        # options and application state
        self.nodelay = False
        self.keepalive = False
        self.reuse = False
        self.orphan = False  # the application closed the socket
        self.err = 0  # errno to raise at the application
        self.parent = None  # the listener a passive connection came from
        self.backlog = 0
        self.queue = None  # listener: established connections waiting for accept()
        # per-connection counters
        self.n_retransmit = 0
        self.n_dupack = 0
        self.n_ooo = 0

    # --- display --------------------------------------------------------------------

    def describe(self):
        from .wire.ipv4 import ntoa
        rx = self.rx.count if self.rx else 0
        tx = self.tx.count if self.tx else 0
        return ("tcp %-11s %s:%d %s:%d snd_una=%d snd_nxt=%d snd_wnd=%d rcv_nxt=%d "
                "rcv_wnd=%d cwnd=%d rto=%d rxq=%d txq=%d rexmit=%d dupack=%d ooo=%d") % (
            STATE_NAMES[self.state], ntoa(self.laddr or self.nic._ip), self.lport,
            ntoa(self.raddr), self.rport, self.snd_una, self.snd_nxt, self.snd_wnd,
            self.rcv_nxt, self.rcv_wnd(), self.cwnd, self.rto, rx, tx, self.n_retransmit,
            self.n_dupack, self.n_ooo)

    # --- small helpers ----------------------------------------------------------------

    @micropython.native
    def rcv_wnd(self):
        """The window to advertise: free RX space, never moving the right edge left
        (RFC 9293 3.8.6.2.2) and growing only in steps of min(ring/2, MSS) (receiver
        SWS avoidance, RFC 1122 4.2.3.3)."""
        rx = self.rx
        if rx is None:
            w = self.rx_bytes if self.rx_bytes < self.nic._wnd_cap else self.nic._wnd_cap
            return w if w < 0xFFFF else 0xFFFF
        free = rx.size - rx.count
        cap = self.nic._wnd_cap
        if free > cap:
            free = cap  # what the chip's receive buffer can hold (Interface)
        nxt = self.rcv_nxt
        edge = self.rcv_adv
        if nxt + free - edge >= (rx.size >> 1 if rx.size >> 1 < self.mss else self.mss):
            edge = nxt + free
        w = edge - nxt
        if w < 0:
            w = 0
        return w if w < 0xFFFF else 0xFFFF

    def data_end(self):
        """Offset just past the last byte in the TX ring."""
        return self.tx_seq + (self.tx.count if self.tx else 0)

    def set_peer(self, addr, port):
        self.raddr = bytes(addr)
        self.rport = port
        self.r_hi = (addr[0] << 8) | addr[1]
        self.r_lo = (addr[2] << 8) | addr[3]

    def alloc_rings(self):
        if self.rx is None:
            # All three or none: a MemoryError part-way must not leave rx without tx.
            rx = Ring(self.rx_bytes)
            tx = Ring(self.tx_bytes)
            asm = Assembler(config.TCP_ASSEMBLER_RANGES)
            self.tx = tx
            self.asm = asm
            self.rx = rx

    def choose_iss(self):
        """RFC 6528: ISN = M + F(local, remote, secret), M a 4-microsecond clock."""
        nic = self.nic
        import hashlib
        h = hashlib.sha256(nic._isn_key)
        h.update(nic._ip)
        h.update(self.raddr)
        h.update(bytes((self.lport >> 8, self.lport & 0xFF, self.rport >> 8,
                        self.rport & 0xFF)))
        d = h.digest()
        # M = ms * 250 (4 us units) mod 2**32, computed in halves to stay small.
        ms = nic._now()
        low = (ms & 0xFFFF) * 250
        m_lo = low & 0xFFFF
        m_hi = ((ms >> 16) * 250 + (low >> 16)) & 0xFFFF
        lo = ((d[2] << 8) | d[3]) + m_lo
        self.iss_lo = lo & 0xFFFF
        self.iss_hi = (((d[0] << 8) | d[1]) + m_hi + (lo >> 16)) & 0xFFFF

    def init_cc(self):
        # RFC 5681 3.1: IW = min(4*SMSS, max(2*SMSS, 4380)).
        smss = self.mss
        iw = 2 * smss if 2 * smss > 4380 else 4380
        self.cwnd = iw if iw < 4 * smss else 4 * smss
        self.ssthresh = 0xFFFF

    def range_check(self):
        for v in (self.snd_una, self.snd_nxt, self.snd_max, self.snd_wl2, self.tx_seq,
                  self.rcv_nxt, self.rcv_adv, self.snd_wl1, self.cwnd, self.ssthresh,
                  self.recover, self.rtt_seq):
            assert -(1 << 30) < v < (1 << 30), "sequence variable out of small-int range"


# --- sending ------------------------------------------------------------------------------

@micropython.native
def _emit(t, flags, seq_off, n_data, data_k):
    """Build and send one segment of connection t: flags, sequence offset seq_off, and
    n_data bytes taken from the TX ring at logical position data_k."""
    nic = t.nic
    b = nic._tx
    # The MSS option says what we can receive (RFC 9293 3.7.1: MTU - 40), not the
    # smaller of that and the peer's, which is only our sending limit (t.mss).
    mss_opt = nic.mtu - _IP_HDR - _TCP_HDR if flags & _SYN else 0
    hl = _TCP_HDR + (4 if mss_opt else 0)
    if n_data:
        t.tx.copy_out(data_k, b, _L4_OFF + hl, n_data)
    nic._ip_prepare(t.raddr, 0, _PROTO_TCP, hl + n_data)
    # The header (wire.tcp.build written out, one call fewer per segment), with the
    # absolute seq/ack halves (wseq.absolute_hi / absolute_lo written out).
    b[_L4_OFF] = t.lport >> 8
    b[_L4_OFF + 1] = t.lport & 0xFF
    b[_L4_OFF + 2] = t.rport >> 8
    b[_L4_OFF + 3] = t.rport & 0xFF
    a_hi = (t.iss_hi + (seq_off >> 16) + (((seq_off & 0xFFFF) + t.iss_lo) >> 16)) & 0xFFFF
    a_lo = (t.iss_lo + seq_off) & 0xFFFF
    b[_L4_OFF + 4] = a_hi >> 8
    b[_L4_OFF + 5] = a_hi & 0xFF
    b[_L4_OFF + 6] = a_lo >> 8
    b[_L4_OFF + 7] = a_lo & 0xFF
    if flags & _ACK or t.state != SYN_SENT:
        flags |= _ACK
        a_lo = t.rcv_nxt
        a_hi = (t.irs_hi + (a_lo >> 16) + (((a_lo & 0xFFFF) + t.irs_lo) >> 16)) & 0xFFFF
        a_lo = (t.irs_lo + a_lo) & 0xFFFF
    else:
        a_hi = 0
        a_lo = 0
    b[_L4_OFF + 8] = a_hi >> 8
    b[_L4_OFF + 9] = a_hi & 0xFF
    b[_L4_OFF + 10] = a_lo >> 8
    b[_L4_OFF + 11] = a_lo & 0xFF
    b[_L4_OFF + 12] = (hl >> 2) << 4
    b[_L4_OFF + 13] = flags
    a_lo = t.rcv_wnd()
    t.rcv_adv = t.rcv_nxt + a_lo
    b[_L4_OFF + 14] = a_lo >> 8
    b[_L4_OFF + 15] = a_lo & 0xFF
    b[_L4_OFF + 16] = 0
    b[_L4_OFF + 17] = 0
    b[_L4_OFF + 18] = 0
    b[_L4_OFF + 19] = 0
    if mss_opt:
        b[_L4_OFF + 20] = 2  # kind MSS
        b[_L4_OFF + 21] = 4
        b[_L4_OFF + 22] = mss_opt >> 8
        b[_L4_OFF + 23] = mss_opt & 0xFF
    hl += n_data
    a_lo = _sum16(b, _L4_OFF, hl) + _sum16(b, _IP_OFF + 12, 8) + _PROTO_TCP + hl
    a_lo = (a_lo & 0xFFFF) + (a_lo >> 16)
    a_lo = ~((a_lo & 0xFFFF) + (a_lo >> 16)) & 0xFFFF
    b[_L4_OFF + 16] = a_lo >> 8
    b[_L4_OFF + 17] = a_lo & 0xFF
    if flags & _ACK:
        t.ack_now = False
        t.unacked_segs = 0
        t.t_dack = _OFF
    nic._count[TCP_TX] += 1
    if nic._ip_send(hl) < 0 and t.state == SYN_SENT:
        _abort(t, EHOSTUNREACH)


def _arm_rtx(t, now):
    t.t_rtx = ticks_add(now, t.rto)
    t.nic._schedule(t.t_rtx)


def output(t, now):
    """Send what connection t may send now: SYN, data within the windows (Nagle and
    sender SWS avoidance permitting), FIN, or a pending ACK."""
    st = t.state
    if st == CLOSED or st == LISTEN or st == TIME_WAIT:
        if t.ack_now and st == TIME_WAIT:
            _emit(t, _ACK, t.snd_nxt, 0, 0)
        return
    if st == SYN_SENT or st == SYN_RCVD:
        if t.snd_nxt == 0:  # SYN not sent yet (or being retransmitted)
            _emit(t, _SYN if st == SYN_SENT else _SYN | _ACK, 0, 0, 0)
            t.snd_nxt = 1
            if t.snd_max < 1:
                t.snd_max = 1
            if t.rtt_seq < 0 and t.retries == 0:
                t.rtt_seq = 0
                t.rtt_t = now
            if t.t_rtx == _OFF:
                _arm_rtx(t, now)
        elif t.ack_now:
            _emit(t, _ACK, t.snd_nxt, 0, 0)
        return
    sent = False
    tx = t.tx
    end = t.tx_seq + tx.count
    mss = t.mss
    while True:
        nxt = t.snd_nxt
        unsent = end - nxt
        flight = nxt - t.snd_una
        wnd = t.snd_wnd if t.snd_wnd < t.cwnd else t.cwnd
        usable = wnd - flight
        fin = t.fin_queued and not t.fin_sent
        n = unsent if unsent < mss else mss
        if n > usable:
            n = usable if usable > 0 else 0
        if n <= 0 and not (fin and unsent == 0 and nxt == end):
            break
        if n > 0 and n < mss:
            # Nagle (RFC 1122 4.2.3.4 / RFC 896) and sender SWS avoidance: a short
            # segment goes only if it empties the buffer with nothing in flight (or
            # TCP_NODELAY), or is at least half the largest window seen.
            if n < unsent or (flight > 0 and not t.nodelay):
                if not (t.max_wnd and n >= t.max_wnd >> 1) and not (
                        fin and n == unsent and (flight == 0 or t.nodelay)):
                    break
        flags = _ACK
        if n > 0 and n == unsent:
            flags |= _PSH
        send_fin = fin and n == unsent and (n > 0 or nxt == end)
        if send_fin:
            flags |= _FIN
        if nxt < t.snd_max:
            t.n_retransmit += 1
            t.nic._count[TCP_RETRANSMIT] += 1
        _emit(t, flags, nxt, n, nxt - t.tx_seq)
        sent = True
        if t.rtt_seq < 0 and nxt >= t.snd_max:  # time one new segment (Karn)
            t.rtt_seq = nxt
            t.rtt_t = now
        nxt += n
        if send_fin:
            nxt += 1
            t.fin_sent = True
            if t.state == ESTABLISHED:
                t.state = FIN_WAIT_1
            elif t.state == CLOSE_WAIT:
                t.state = LAST_ACK
        t.snd_nxt = nxt
        if nxt > t.snd_max:
            t.snd_max = nxt
        if t.t_rtx == _OFF:
            _arm_rtx(t, now)
        if send_fin:
            break
    if end - t.snd_nxt > 0 and t.snd_nxt == t.snd_una:
        # Data waits with nothing in flight: the window is zero (probe it, RFC 9293
        # 3.8.6.1) or too small for SWS avoidance, whose override timeout (RFC 9293
        # 3.8.6.2.1) is the same timer: a lost window update must not stall us.
        if t.t_persist == _OFF:
            t.t_persist = ticks_add(now, t.persist_ms)
            t.nic._schedule(t.t_persist)
    if not sent and t.ack_now:
        _emit(t, _ACK, _ack_seq(t), 0, 0)
    if t.keepalive and t.t_keep == _OFF:
        t.t_keep = ticks_add(now, config.TCP_KEEPIDLE_MS)
        t.nic._schedule(t.t_keep)


def send_rst_reply(nic, buf, ip, off, n_seg, flags, hl):
    """RFC 9293 3.10.7.1: answer a segment that has no connection with a RST.
    If it had ACK: <SEQ=SEG.ACK><CTL=RST>; else <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>."""
    b = nic._tx
    l4 = nic._l4_off
    sport = (buf[off + 2] << 8) | buf[off + 3]
    dport = (buf[off] << 8) | buf[off + 1]
    if flags & _ACK:
        s_hi = (buf[off + 8] << 8) | buf[off + 9]
        s_lo = (buf[off + 10] << 8) | buf[off + 11]
        a_hi = 0
        a_lo = 0
        fl = _RST
    else:
        seglen = n_seg - hl
        if flags & _SYN:
            seglen += 1
        if flags & _FIN:
            seglen += 1
        lo = ((buf[off + 6] << 8) | buf[off + 7]) + seglen
        a_lo = lo & 0xFFFF
        a_hi = (((buf[off + 4] << 8) | buf[off + 5]) + (lo >> 16)) & 0xFFFF
        s_hi = 0
        s_lo = 0
        fl = _RST | _ACK
    nic._ip_prepare(buf, ip + 12, _PROTO_TCP, _TCP_HDR)
    wtcp.build(b, nic._ip_off, l4, sport, dport, s_hi, s_lo, a_hi, a_lo, fl, 0, 0, 0)
    nic._count[TCP_RST_TX] += 1
    nic._count[TCP_TX] += 1
    nic._ip_send(_TCP_HDR)


def _ack_seq(t):
    """The sequence number for a segment without data: one the peer's acceptability
    test (RFC 9293 3.10.7.4) passes, or its ACK field is never read.

    Normally SND.MAX, not SND.NXT (BSD does the same): after a timeout SND.NXT goes
    back below the peer's RCV.NXT, and two stacks would answer each other's
    unacceptable ACKs with ACKs forever. Towards a zero window only SEG.SEQ =
    RCV.NXT passes; the peer's last ACK told us that is SND.UNA (a refused window
    probe byte leaves SND.MAX one above it)."""
    return t.snd_una if t.snd_wnd == 0 else t.snd_max


def _send_rst(t):
    """Abort: RST from our current send position (RFC 9293 3.10.5)."""
    _emit(t, _RST | _ACK, _ack_seq(t), 0, 0)
    t.nic._count[TCP_RST_TX] += 1


def _challenge_ack(t):
    t.nic._count[TCP_CHALLENGE_ACK] += 1
    _emit(t, _ACK, _ack_seq(t), 0, 0)


# --- life cycle -----------------------------------------------------------------------------

def release(t):
    """The connection is over: free its slot (its rings go with it)."""
    t.state = CLOSED
    t.t_rtx = t.t_dack = t.t_persist = t.t_keep = t.t_wait = _OFF
    t.nic._free_sock(t)
    p = t.parent
    if p is not None and p.queue is not None and t in p.queue:
        p.queue.remove(t)


def _abort(t, err):
    t.err = err
    t.nic._count[TCP_ABORT] += 1
    if t.orphan or (t.parent is not None and t.state == SYN_RCVD):
        release(t)
    else:
        # Keep the block (for the application to see the error) but stop it.
        t.state = CLOSED
        t.t_rtx = t.t_dack = t.t_persist = t.t_keep = t.t_wait = _OFF


def _enter_time_wait(t, now):
    """TIME-WAIT (RFC 9293 3.6): remembered in a small table, so the socket slot and
    the rings are freed at once."""
    nic = t.nic
    tw = nic._tw
    slot = -1
    oldest = 0
    for i in range(len(tw)):
        e = tw[i]
        if e is None:
            slot = i
            break
        if slot < 0 or ticks_diff(e[_TW_EXPIRY], tw[oldest][_TW_EXPIRY]) < 0:
            slot = i
            oldest = i
    if tw[slot] is not None:
        nic._count[TCP_TW_REUSE] += 1  # table full: forget the oldest early
    # [lport, rport, peer hi, peer lo, RCV.NXT hi, lo, SND.NXT hi, lo, expiry]
    tw[slot] = [t.lport, t.rport, t.r_hi, t.r_lo,
                wseq.absolute_hi(t.rcv_nxt, t.irs_hi, t.irs_lo),
                wseq.absolute_lo(t.rcv_nxt, t.irs_lo),
                wseq.absolute_hi(t.snd_nxt, t.iss_hi, t.iss_lo),
                wseq.absolute_lo(t.snd_nxt, t.iss_lo), ticks_add(now, nic._time_wait_ms)]
    nic._schedule(tw[slot][_TW_EXPIRY])
    t.state = TIME_WAIT
    if t.orphan:
        release(t)
    else:
        # The application still holds the socket: it reads EOF; the block stays until
        # close() (TIME-WAIT itself lives on in the table).
        t.t_rtx = t.t_dack = t.t_persist = t.t_keep = t.t_wait = _OFF


def _established(t):
    t.state = ESTABLISHED
    t.init_cc()
    p = t.parent
    if p is not None and p.queue is not None:
        p.queue.append(t)


# --- input ------------------------------------------------------------------------------------

def _find(nic, buf, ip, off):
    sport = (buf[off] << 8) | buf[off + 1]
    dport = (buf[off + 2] << 8) | buf[off + 3]
    s_hi = (buf[ip + 12] << 8) | buf[ip + 13]
    s_lo = (buf[ip + 14] << 8) | buf[ip + 15]
    listener = None
    for t in nic._socks:
        if t is None or t.kind != SOCK_STREAM or t.lport != dport:
            continue
        st = t.state
        if st == LISTEN:
            listener = t
        elif st != CLOSED and t.rport == sport and t.r_hi == s_hi and t.r_lo == s_lo:
            return t
    return listener


def _time_wait_input(nic, buf, ip, off, n, flags, hl):
    """A segment for a connection in the TIME-WAIT table. Returns True if handled."""
    sport = (buf[off] << 8) | buf[off + 1]
    dport = (buf[off + 2] << 8) | buf[off + 3]
    s_hi = (buf[ip + 12] << 8) | buf[ip + 13]
    s_lo = (buf[ip + 14] << 8) | buf[ip + 15]
    tw = nic._tw
    for i in range(len(tw)):
        e = tw[i]
        if e is None or e[0] != dport or e[1] != sport or e[2] != s_hi or e[3] != s_lo:
            continue
        if flags & _RST:
            tw[i] = None  # RFC 1337 would ignore it; RFC 9293 closes. Close.
            return True
        if flags & _SYN and not flags & _ACK:
            # A new connection for the same pair: allow it if its sequence number is
            # past the old one (RFC 6191 idea), by forgetting the TIME-WAIT entry.
            seq_hi = (buf[off + 4] << 8) | buf[off + 5]
            seq_lo = (buf[off + 6] << 8) | buf[off + 7]
            if wseq.offset(seq_hi, seq_lo, e[4], e[5]) > 0:
                tw[i] = None
                nic._count[TCP_TW_REUSE] += 1
                return False
        # Anything else (a retransmitted FIN above all) gets the last ACK again and
        # restarts the 2 MSL timer (RFC 9293 3.10.7.4 TIME-WAIT).
        if flags & _FIN:
            e[_TW_EXPIRY] = ticks_add(nic._now(), nic._time_wait_ms)
        b = nic._tx
        l4 = nic._l4_off
        nic._ip_prepare(buf, ip + 12, _PROTO_TCP, _TCP_HDR)
        wtcp.build(b, nic._ip_off, l4, dport, sport, e[6], e[7], e[4], e[5], _ACK, 0, 0, 0)
        nic._count[TCP_TX] += 1
        nic._ip_send(_TCP_HDR)
        return True
    return False


@micropython.native
def input(nic, buf, ip, off, n, bcast):
    """A TCP segment of n bytes at buf[off:] (IP header at ip)."""
    cnt = nic._count
    if bcast:
        cnt[TCP_BAD_FLAGS] += 1  # TCP is unicast only (RFC 1122 4.2.3.10)
        return
    # wire.tcp.check written out (two calls and a heap-allocated frame fewer per
    # segment): data offset within the segment, checksum with the pseudo-header.
    if n < _TCP_HDR:
        cnt[TCP_BAD_HEADER] += 1
        return
    hl = (buf[off + 12] >> 4) << 2
    if hl < _TCP_HDR or hl > n:
        cnt[TCP_BAD_HEADER] += 1
        return
    flags = _sum16(buf, off, n) + _sum16(buf, ip + 12, 8) + _PROTO_TCP + n
    flags = (flags & 0xFFFF) + (flags >> 16)
    if (flags & 0xFFFF) + (flags >> 16) != 0xFFFF:
        cnt[TCP_BAD_CHECKSUM] += 1
        return
    cnt[TCP_RX] += 1
    flags = buf[off + 13]
    if flags & _SYN and flags & (_FIN | _RST):
        cnt[TCP_BAD_FLAGS] += 1  # SYN+FIN / SYN+RST: never legitimate
        return
    # The connection of the last segment first (no table walk for a stream of
    # segments); _find for anything else.
    t = nic._tcb_hit
    if t is None or t.state < SYN_SENT or t.lport != ((buf[off + 2] << 8) | buf[off + 3]) \
            or t.rport != ((buf[off] << 8) | buf[off + 1]) \
            or t.r_lo != ((buf[ip + 14] << 8) | buf[ip + 15]) \
            or t.r_hi != ((buf[ip + 12] << 8) | buf[ip + 13]):
        t = _find(nic, buf, ip, off)
        if t is not None and t.state >= SYN_SENT:
            nic._tcb_hit = t
    if t is None or t.state == LISTEN:
        if _time_wait_input(nic, buf, ip, off, n, flags, hl):
            return
    now = nic._now()
    if t is None:
        cnt[TCP_NO_SOCKET] += 1
        if not flags & _RST:
            send_rst_reply(nic, buf, ip, off, n, flags, hl)
        return
    if t.state == LISTEN:
        _listen_input(nic, t, buf, ip, off, n, flags, hl, now)
        return
    if t.state == ESTABLISHED and flags | _PSH == _ACK_PSH:
        if n > hl:
            if _fast_in(t, buf, off, n - hl, hl, now):
                if DEBUG_RANGE:
                    t.range_check()
                return
        elif _fast_ack(t, buf, off, flags, now):
            if DEBUG_RANGE:
                t.range_check()
            return
    segment_in(t, buf, ip, off, n, flags, hl, now)
    if DEBUG_RANGE:
        t.range_check()


@micropython.native
def _fast_in(t, buf, off, dlen, hl, now):
    """Header prediction (Van Jacobson; BSD's and Linux's fast path): in ESTABLISHED,
    a segment with only ACK (and maybe PSH) set, carrying the next expected data that
    fits the ring (the caller has checked there is some), with nothing held out of order, acknowledging nothing new and not
    changing the window. Does exactly what segment_in would do for it, with a small
    call chain; returns False, having changed nothing, for any other segment."""
    if t.keepalive or t.orphan or t.t_persist != _OFF or t.asm.n:
        return False
    rx = t.rx
    if dlen > rx.size - rx.count or ((buf[off + 14] << 8) | buf[off + 15]) != t.snd_wnd:
        return False
    # seq == rcv_nxt and ack == snd_una, compared as the absolute 16-bit halves (the
    # wseq.absolute_* arithmetic written out; both offsets are >= 0 and < FAR).
    seg = t.rcv_nxt
    if ((buf[off + 6] << 8) | buf[off + 7]) != ((t.irs_lo + seg) & 0xFFFF) or (
            ((buf[off + 4] << 8) | buf[off + 5]) != (
                (t.irs_hi + (seg >> 16) + (((seg & 0xFFFF) + t.irs_lo) >> 16)) & 0xFFFF)):
        return False
    una = t.snd_una
    if ((buf[off + 10] << 8) | buf[off + 11]) != ((t.iss_lo + una) & 0xFFFF) or (
            ((buf[off + 8] << 8) | buf[off + 9]) != (
                (t.iss_hi + (una >> 16) + (((una & 0xFFFF) + t.iss_lo) >> 16)) & 0xFFFF)):
        return False
    # _ack_in for ack == snd_una and an unchanged window: only the window bookkeeping.
    if t.snd_wl1 < seg or (t.snd_wl1 == seg and t.snd_wl2 <= una):
        t.snd_wl1 = seg
        t.snd_wl2 = una
        if t.snd_wnd > t.max_wnd:
            t.max_wnd = t.snd_wnd
    # _data_in for in-order data with an empty assembler.
    rx.write_at(rx.count, buf, off + hl, dlen)
    rx.count += dlen
    t.rcv_nxt = seg + dlen
    t.unacked_segs += 1
    if dlen >= t.mss and t.unacked_segs >= 2:
        t.ack_now = True  # every second full-size segment (RFC 1122 4.2.3.2)
    elif t.t_dack == _OFF:
        t.t_dack = ticks_add(now, config.TCP_DELACK_MS)
        t.nic._schedule(t.t_dack)
    _output_quick(t, now)
    return True


@micropython.native
def _fast_ack(t, buf, off, flags, now):
    """A pure ACK (no data, only ACK and maybe PSH) in ESTABLISHED at seq == rcv_nxt,
    acknowledging nothing unsent or too old, without keepalive: segment_in's steps
    before _ack_in change nothing for it, so go straight to _ack_in and output, as
    segment_in would. Returns False, having changed nothing, for any other segment."""
    if t.keepalive:
        return False
    seg = t.rcv_nxt
    if ((buf[off + 6] << 8) | buf[off + 7]) != ((t.irs_lo + seg) & 0xFFFF) or (
            ((buf[off + 4] << 8) | buf[off + 5]) != (
                (t.irs_hi + (seg >> 16) + (((seg & 0xFFFF) + t.irs_lo) >> 16)) & 0xFFFF)):
        return False
    ack = wseq.offset((buf[off + 8] << 8) | buf[off + 9], (buf[off + 10] << 8) | buf[off + 11],
                      t.iss_hi, t.iss_lo)
    if ack < t.snd_una or ack > t.snd_max:
        return False
    _ack_in(t, ack, seg, (buf[off + 14] << 8) | buf[off + 15], 0, flags, now)
    if t.state != CLOSED:
        output(t, now)
    return True


@micropython.native
def _output_quick(t, now):
    """output(t, now) for a synchronized connection (ESTABLISHED to LAST-ACK), with
    a shorter path when there is nothing to send but maybe an ACK: no data past
    SND.NXT, no FIN waiting and no keepalive timer to start."""
    if t.tx_seq + t.tx.count - t.snd_nxt > 0 or (t.fin_queued and not t.fin_sent) or (
            t.keepalive):
        output(t, now)
    elif t.ack_now:
        _emit(t, _ACK, _ack_seq(t), 0, 0)


def _listen_input(nic, lt, buf, ip, off, n, flags, hl, now):
    cnt = nic._count
    if flags & _RST:
        return
    la = lt.laddr  # bound to one local address (127.0.0.1, say): nothing listens on others
    if flags & _ACK or (la is not None and not (
            la[0] == buf[ip + 16] and la[1] == buf[ip + 17] and la[2] == buf[ip + 18]
            and la[3] == buf[ip + 19])):
        cnt[TCP_NO_SOCKET] += 1
        send_rst_reply(nic, buf, ip, off, n, flags, hl)
        return
    if not flags & _SYN:
        cnt[TCP_BAD_FLAGS] += 1
        return
    mss = wtcp.mss_option(buf, off, hl)
    if mss < 0:
        cnt[TCP_BAD_HEADER] += 1
        return
    # Bounded: half-open children, the accept queue, and socket slots. Past a bound
    # the SYN is dropped before anything is allocated (the peer retries).
    half = 0
    for s in nic._socks:
        if s is not None and s.kind == SOCK_STREAM and s.parent is lt and s.state == SYN_RCVD:
            half += 1
    if half >= config.TCP_HALF_OPEN_MAX or len(lt.queue) >= lt.backlog or (
            None not in nic._socks):
        cnt[TCP_SYN_DROPPED] += 1
        return
    t = Tcb(nic, lt.rx_bytes, lt.tx_bytes)
    t.parent = lt
    t.nodelay = lt.nodelay
    t.keepalive = lt.keepalive
    t.lport = lt.lport
    t.laddr = lt.laddr
    if buf[ip + 16] == 127:  # over loopback: the local address is the one asked for
        t.laddr = bytes((127, buf[ip + 17], buf[ip + 18], buf[ip + 19]))
    s_addr = bytes((buf[ip + 12], buf[ip + 13], buf[ip + 14], buf[ip + 15]))
    t.set_peer(s_addr, (buf[off] << 8) | buf[off + 1])
    _accept_syn(t, buf, off, mss)
    t.state = SYN_RCVD
    t.choose_iss()
    nic._alloc_sock(t)
    output(t, now)


def _accept_syn(t, buf, off, mss):
    """Take the peer's initial sequence number and MSS from its SYN."""
    t.irs_hi = (buf[off + 4] << 8) | buf[off + 5]
    t.irs_lo = (buf[off + 6] << 8) | buf[off + 7]
    t.rcv_nxt = 1
    t.rcv_adv = 1
    own = t.nic.mtu - _IP_HDR - _TCP_HDR
    t.peer_mss = mss if mss else config.TCP_DEFAULT_MSS
    t.mss = own if own < t.peer_mss else t.peer_mss
    if t.mss < 1:
        t.mss = 1
    t.snd_wnd = (buf[off + 14] << 8) | buf[off + 15]
    t.max_wnd = t.snd_wnd
    t.snd_wl1 = 0


def _acceptable(t, seg, seglen):
    """RFC 9293 3.10.7.4 first check: does any of the segment fall in the window?"""
    nxt = t.rcv_nxt
    wnd = t.rcv_adv - nxt
    free = t.rx.size - t.rx.count if t.rx else 0
    if free > wnd:
        wnd = free
    if seglen == 0:
        if wnd == 0:
            return seg == nxt
        return nxt <= seg < nxt + wnd
    if wnd == 0:
        return False
    return (nxt <= seg < nxt + wnd) or (nxt <= seg + seglen - 1 < nxt + wnd)


def segment_in(t, buf, ip, off, n, flags, hl, now):
    nic = t.nic
    cnt = nic._count
    seq_hi = (buf[off + 4] << 8) | buf[off + 5]
    seq_lo = (buf[off + 6] << 8) | buf[off + 7]
    ack_hi = (buf[off + 8] << 8) | buf[off + 9]
    ack_lo = (buf[off + 10] << 8) | buf[off + 11]
    wnd = (buf[off + 14] << 8) | buf[off + 15]
    dlen = n - hl
    st = t.state

    if st == SYN_SENT:
        ack = wseq.offset(ack_hi, ack_lo, t.iss_hi, t.iss_lo)
        if flags & _ACK and (ack <= 0 or ack > t.snd_max):
            if not flags & _RST:
                cnt[TCP_ACK_UNSENT] += 1
                send_rst_reply(nic, buf, ip, off, n, flags, hl)
            return
        if flags & _RST:
            if flags & _ACK:
                cnt[TCP_RST_RX] += 1
                _abort(t, ECONNREFUSED)
            return
        if not flags & _SYN:
            return
        mss = wtcp.mss_option(buf, off, hl)
        if mss < 0:
            cnt[TCP_BAD_HEADER] += 1
            return
        _accept_syn(t, buf, off, mss)
        if flags & _ACK:
            t.snd_una = ack
            t.tx_seq = 1
            _rtt_sample(t, ack, now)
            t.retries = 0
            t.t_rtx = _OFF
            t.snd_wl1 = 0
            t.snd_wl2 = ack
            _established(t)
            t.ack_now = True
            output(t, now)
        else:
            # Simultaneous open (RFC 9293 3.5): SYN-RECEIVED, send SYN,ACK.
            t.state = SYN_RCVD
            t.snd_nxt = 0
            t.t_rtx = _OFF
            output(t, now)
        return

    # --- synchronized states (and SYN-RECEIVED): RFC 9293 3.10.7.4 ---
    seg = wseq.offset(seq_hi, seq_lo, t.irs_hi, t.irs_lo)
    if st == SYN_RCVD and seg == 0 and flags & _SYN and flags & _ACK and (
            t.parent is None):
        # Simultaneous open (RFC 9293 3.5 figure 8, line 6): the peer's SYN,ACK
        # repeats the SYN we already took; what is new is its ACK, so take the
        # segment without the SYN (Linux does the same). Answering it with our
        # SYN,ACK again would ping-pong forever between two such stacks.
        flags ^= _SYN
        seg = 1
    seglen = dlen + (1 if flags & _SYN else 0) + (1 if flags & _FIN else 0)
    # First: sequence number acceptable?
    if not _acceptable(t, seg, seglen):
        if flags & _RST:
            cnt[TCP_RST_IGNORED] += 1
            return
        cnt[TCP_OUT_OF_WINDOW] += 1
        if flags & _SYN and st == SYN_RCVD and seg == 0:
            t.ack_now = True  # the peer retransmitted its SYN: repeat our SYN,ACK
            t.snd_nxt = 0
            output(t, now)
            return
        t.ack_now = True
        output(t, now)
        return
    if t.keepalive:
        # The peer is alive: the idle period starts over (RFC 1122 4.2.3.6: probe
        # only when nothing has been received for the interval).
        t.keep_probes = 0
        t.t_keep = ticks_add(now, config.TCP_KEEPIDLE_MS)
        nic._schedule(t.t_keep)
    # Second: RST (RFC 5961 3.2: reset only at exactly RCV.NXT, else challenge ACK).
    if flags & _RST:
        if seg != t.rcv_nxt:
            cnt[TCP_RST_IGNORED] += 1
            _challenge_ack(t)
            return
        cnt[TCP_RST_RX] += 1
        if st == SYN_RCVD and t.parent is not None:
            release(t)  # passive open: back to LISTEN (the listener never saw it)
            return
        if st >= CLOSING:
            release(t)
            return
        _abort(t, ECONNRESET if st != SYN_RCVD else ECONNREFUSED)
        return
    # Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK.
    if flags & _SYN:
        cnt[TCP_BAD_FLAGS] += 1
        _challenge_ack(t)
        return
    # Fifth: ACK.
    if not flags & _ACK:
        return
    ack = wseq.offset(ack_hi, ack_lo, t.iss_hi, t.iss_lo)
    if st == SYN_RCVD:
        if not (t.snd_una < ack <= t.snd_max):
            send_rst_reply(nic, buf, ip, off, n, flags, hl)
            return
        p = t.parent
        if p is not None and p.queue is not None and len(p.queue) >= p.backlog:
            # The accept queue holds the backlog: stay half-open (as Linux does), so
            # the queue never outgrows listen(backlog). Our SYN,ACK goes out again on
            # its timer, and the peer's answer to it, or its data, completes later.
            cnt[TCP_ACCEPT_FULL] += 1
            return
        t.snd_wnd = wnd
        t.max_wnd = wnd if wnd > t.max_wnd else t.max_wnd
        t.snd_wl1 = seg
        t.snd_wl2 = ack
        t.alloc_rings()
        _established(t)
        st = ESTABLISHED
    if ack > t.snd_max:
        cnt[TCP_ACK_UNSENT] += 1  # RFC 5961 5.2: ACK of unsent data
        t.ack_now = True
        output(t, now)
        return
    if ack < t.snd_una - t.max_wnd:
        cnt[TCP_OUT_OF_WINDOW] += 1  # RFC 5961 5.2: too old
        t.ack_now = True
        output(t, now)
        return
    _ack_in(t, ack, seg, wnd, dlen, flags, now)
    st = t.state
    if st == CLOSED:
        return
    # Seventh: segment text.
    if dlen > 0:
        if st == ESTABLISHED or st == FIN_WAIT_1 or st == FIN_WAIT_2:
            if t.orphan:
                # Nobody will read: RFC 9293 3.10.4 / RFC 1122 4.2.2.13, reset.
                _send_rst(t)
                release(t)
                return
            _data_in(t, buf, off + hl, seg, dlen, now)
        # else: data after the peer's FIN is ignored
    # Eighth: FIN, taken only once all data before it is in.
    if flags & _FIN and seg + dlen == t.rcv_nxt and not t.fin_rcvd:
        t.fin_rcvd = True
        t.rcv_nxt += 1
        t.ack_now = True
        if st == ESTABLISHED or st == SYN_RCVD:
            t.state = CLOSE_WAIT
        elif st == FIN_WAIT_1:
            if t.snd_una >= t.snd_max and t.fin_sent:
                output(t, now)
                _enter_time_wait(t, now)
                return
            t.state = CLOSING
        elif st == FIN_WAIT_2:
            output(t, now)
            _enter_time_wait(t, now)
            return
    elif flags & _FIN and t.state == TIME_WAIT:
        t.ack_now = True
    output(t, now)


def _rtt_sample(t, ack, now):
    """RFC 6298 2.2-2.3 with Karn's rule: only a segment sent once is timed."""
    if t.rtt_seq < 0 or ack <= t.rtt_seq:
        return
    r = ticks_diff(now, t.rtt_t)
    t.rtt_seq = -1
    if r < 0:
        return
    if t.srtt8 == 0:
        t.srtt8 = r << 3
        t.rttvar4 = r << 1
    else:
        d = r - (t.srtt8 >> 3)
        t.srtt8 += d  # srtt += (r - srtt) / 8
        if d < 0:
            d = -d
        t.rttvar4 += d - (t.rttvar4 >> 2)  # rttvar += (|d| - rttvar) / 4
    rto = (t.srtt8 >> 3) + (t.rttvar4 if t.rttvar4 > 1 else 1)
    if rto < config.TCP_RTO_MIN_MS:
        rto = config.TCP_RTO_MIN_MS
    t.rto = rto if rto < config.TCP_RTO_MAX_MS else config.TCP_RTO_MAX_MS


def _ack_in(t, ack, seg, wnd, dlen, flags, now):
    cnt = t.nic._count
    una = t.snd_una
    mss = t.mss
    # Window update (RFC 9293 3.10.7.4: only from a newer segment).
    if t.snd_wl1 < seg or (t.snd_wl1 == seg and t.snd_wl2 <= ack):
        opened = wnd > t.snd_wnd
        t.snd_wnd = wnd
        if wnd > t.max_wnd:
            t.max_wnd = wnd
        t.snd_wl1 = seg
        t.snd_wl2 = ack
        if wnd and t.t_persist != _OFF:
            t.t_persist = _OFF
            t.persist_ms = config.TCP_PERSIST_MIN_MS
        window_changed = opened
    else:
        window_changed = False
    if ack > una:
        acked = ack - una
        # Data bytes acknowledged leave the TX ring (SYN/FIN take no ring space).
        tx = t.tx
        d_end = t.tx_seq + tx.count
        top = ack if ack < d_end else d_end
        if top > t.tx_seq:
            tx.consume(top - t.tx_seq)
            t.tx_seq = top
        t.snd_una = ack
        if t.snd_nxt < ack:
            t.snd_nxt = ack
        _rtt_sample(t, ack, now)
        t.retries = 0
        t.keep_probes = 0
        # Congestion control (RFC 5681 3.1, RFC 6582 NewReno recovery).
        if t.in_recovery:
            if ack >= t.recover:
                t.in_recovery = False
                # RFC 6582 3.2 step 3 (1): min(ssthresh, max(FlightSize, SMSS) + SMSS)
                flight = t.snd_max - ack
                if flight < mss:
                    flight = mss
                c = flight + mss if flight + mss < t.ssthresh else t.ssthresh
                t.cwnd = c if c > mss else mss
            else:
                # Partial ACK: the next hole is lost too; resend it at once.
                t.cwnd = t.cwnd - acked + mss if t.cwnd > acked else mss
                _retransmit_first(t, now)
        elif t.cwnd < t.ssthresh:
            t.cwnd += acked if acked < mss else mss  # slow start
        else:
            inc = (mss * mss) // t.cwnd  # congestion avoidance
            t.cwnd += inc if inc > 0 else 1
        if t.cwnd > 0xFFFF:
            t.cwnd = 0xFFFF
        t.dupacks = 0
        if t.snd_una >= t.snd_max:
            t.t_rtx = _OFF
        else:
            _arm_rtx(t, now)
        # FIN acknowledged?
        if t.fin_sent and t.snd_una >= t.snd_max:
            st = t.state
            if st == FIN_WAIT_1:
                t.state = FIN_WAIT_2
                if t.orphan:
                    t.t_wait = ticks_add(now, config.TCP_FIN_WAIT2_MS)
                    t.nic._schedule(t.t_wait)
            elif st == CLOSING:
                _enter_time_wait(t, now)
            elif st == LAST_ACK:
                release(t)
    elif ack == una and t.snd_wnd == 0 and t.t_persist != _OFF:
        # An answer to a zero-window probe: the window is still shut but the peer is
        # alive, so the connection stays (RFC 1122 4.2.2.17 MUST), and this is not a
        # duplicate ACK (fast retransmit would send past the window). The probe byte
        # was refused: it is unsent again, and the persist timer (not the RTO, which
        # would back off and count retries) is in charge until the window opens.
        t.retries = 0
        t.snd_nxt = una
        t.t_rtx = _OFF
    elif ack == una and dlen == 0 and not (flags & _FIN) and not window_changed and (
            t.snd_max > una):
        # A duplicate ACK (RFC 5681 2): three in a row mean a lost segment.
        t.dupacks += 1
        t.n_dupack += 1
        cnt[TCP_DUPACK] += 1
        if t.dupacks == 3 and not t.in_recovery:
            flight = t.snd_max - una
            half = flight >> 1
            t.ssthresh = half if half > 2 * mss else 2 * mss
            t.recover = t.snd_max
            t.in_recovery = True
            cnt[TCP_FAST_RETRANSMIT] += 1
            _retransmit_first(t, now)
            t.cwnd = t.ssthresh + 3 * mss
        elif t.in_recovery:
            t.cwnd += mss  # each dup ACK: one more segment has left the network
            if t.cwnd > 0xFFFF:
                t.cwnd = 0xFFFF


def _retransmit_first(t, now):
    """Resend the first unacknowledged segment (fast retransmit / partial ACK)."""
    una = t.snd_una
    if una < t.tx_seq:  # the SYN itself
        return
    end = t.tx_seq + t.tx.count
    # Only bytes sent before (below SND.MAX): the first send may have been shorter
    # than an MSS, and what lies past it may be beyond the peer's window. Sending it
    # here would also leave SND.MAX behind the data, and the peer's ACK for it would
    # then look like an ACK of unsent data (RFC 5961 5.2) forever.
    top = t.snd_max if t.snd_max < end else end
    n = top - una
    if n > t.mss:
        n = t.mss
    fin = t.fin_sent and una + n == end
    if n <= 0 and not fin:
        return
    t.n_retransmit += 1
    t.nic._count[TCP_RETRANSMIT] += 1
    if t.rtt_seq >= una:
        t.rtt_seq = -1  # Karn: this sample would be ambiguous
    _emit(t, _ACK | (_FIN if fin else 0), una, n if n > 0 else 0, una - t.tx_seq)
    _arm_rtx(t, now)


def _data_in(t, buf, d, seg, dlen, now):
    """Store segment data (RFC 9293 3.10.7.4 seventh step), in order or not."""
    rx = t.rx
    nxt = t.rcv_nxt
    # Trim what we already have and what lies past the ring.
    skip = nxt - seg
    if skip > 0:
        d += skip
        dlen -= skip
        seg = nxt
        if dlen <= 0:
            t.ack_now = True  # a pure retransmission: re-ACK at once
            return
    rel = seg - nxt  # where it goes, counted from the next expected byte
    room = rx.size - rx.count - rel
    if dlen > room:
        dlen = room
        if dlen <= 0:
            t.ack_now = True
            return
    asm = t.asm
    if asm.n:
        _write_holes(rx, asm, rel, buf, d, dlen)
    else:
        rx.write_at(rx.count + rel, buf, d, dlen)
    if rel == 0:
        reach = asm.advance(dlen) if asm.n else dlen
        rx.count += reach
        t.rcv_nxt = nxt + reach
        if reach > dlen or asm.n:
            t.ack_now = True  # filled a hole: ACK at once (RFC 5681 4.2)
        else:
            t.unacked_segs += 1
            if dlen >= t.mss and t.unacked_segs >= 2:
                t.ack_now = True  # every second full-size segment (RFC 1122 4.2.3.2)
            elif t.t_dack == _OFF:
                t.t_dack = ticks_add(now, config.TCP_DELACK_MS)
                t.nic._schedule(t.t_dack)
    else:
        t.n_ooo += 1
        if asm.add(rel, rel + dlen):
            t.nic._count[TCP_OOO] += 1
        else:
            t.nic._count[TCP_OOO_DROP] += 1
        t.ack_now = True  # a duplicate ACK tells the sender about the hole


def _write_holes(rx, asm, rel, buf, d, dlen):
    """Store only the bytes of [rel, rel + dlen) that no out-of-order range holds
    yet: the first copy of a byte wins, as it does once in order (docs/SECURITY.md).
    A later copy with other bytes (a buggy or hostile peer) changes nothing."""
    st = asm.start
    en = asm.end
    base = rx.count
    s = rel
    e = rel + dlen
    for i in range(asm.n):
        if en[i] <= s:
            continue
        if st[i] >= e:
            break
        if st[i] > s:
            rx.write_at(base + s, buf, d + s - rel, st[i] - s)
        s = en[i]
        if s >= e:
            return
    rx.write_at(base + s, buf, d + s - rel, e - s)


# --- timers -------------------------------------------------------------------------------------

def timers(t, now):
    """Run connection t's due timers; returns its next deadline or None."""
    if t.state == CLOSED:
        return None
    if t.t_dack != _OFF and ticks_diff(now, t.t_dack) >= 0:
        t.t_dack = _OFF
        t.ack_now = True
        output(t, now)
    if t.t_rtx != _OFF and ticks_diff(now, t.t_rtx) >= 0:
        t.t_rtx = _OFF
        _rto_expired(t, now)
        if t.state == CLOSED:
            return None
    if t.t_persist != _OFF and ticks_diff(now, t.t_persist) >= 0:
        t.t_persist = _OFF
        _probe_window(t, now)
    if t.t_keep != _OFF and ticks_diff(now, t.t_keep) >= 0:
        t.t_keep = _OFF
        _keepalive(t, now)
        if t.state == CLOSED:
            return None
    if t.t_wait != _OFF and ticks_diff(now, t.t_wait) >= 0:
        t.t_wait = _OFF
        if t.state == FIN_WAIT_2 and t.orphan:
            release(t)  # the peer never closed its side
            return None
    due = _earlier(_OFF, t.t_dack)
    due = _earlier(due, t.t_rtx)
    due = _earlier(due, t.t_persist)
    due = _earlier(due, t.t_keep)
    due = _earlier(due, t.t_wait)
    return None if due == _OFF else due


def _earlier(a, b):
    """The earlier of two timer values, either of which may be _OFF."""
    if b == _OFF:
        return a
    if a == _OFF or ticks_diff(b, a) < 0:
        return b
    return a


def _rto_expired(t, now):
    cnt = t.nic._count
    cnt[TCP_TIMEOUT] += 1
    st = t.state
    limit = config.TCP_SYN_RETRIES if st == SYN_SENT or st == SYN_RCVD else config.TCP_DATA_RETRIES
    if t.retries >= limit:
        if st != SYN_SENT and st != SYN_RCVD:
            _send_rst(t)
        _abort(t, ETIMEDOUT)
        return
    t.retries += 1
    # RFC 6298 5.5: back off; RFC 5681 3.1 (eq. 4): the loss window is one segment.
    t.rto = t.rto * 2 if t.rto * 2 < config.TCP_RTO_MAX_MS else config.TCP_RTO_MAX_MS
    flight = t.snd_max - t.snd_una
    half = flight >> 1
    t.ssthresh = half if half > 2 * t.mss else 2 * t.mss
    t.cwnd = t.mss
    t.in_recovery = False
    t.dupacks = 0
    t.rtt_seq = -1  # Karn
    if st == SYN_SENT or st == SYN_RCVD:
        t.snd_nxt = 0  # resend the SYN
    else:
        t.snd_nxt = t.snd_una  # go back: resend from the first unacknowledged byte
        if t.fin_sent and t.snd_una < t.snd_max:
            t.fin_sent = t.snd_una >= t.data_end() + 1
    _arm_rtx(t, now)
    output(t, now)


def _probe_window(t, now):
    """Zero-window probe: one byte past the window (RFC 9293 3.8.6.1)."""
    st = t.state
    if st < ESTABLISHED:
        return
    end = t.data_end()
    if t.snd_wnd:
        # SWS override timeout (RFC 9293 3.8.6.2.1, RFC 1122 4.2.3.4): the window is
        # open but too small to pass sender SWS avoidance and nothing is in flight,
        # so no ACK will come to change that: send what the window takes.
        nxt = t.snd_nxt
        n = end - nxt
        if n > t.snd_wnd:
            n = t.snd_wnd
        if n > t.mss:
            n = t.mss
        if n > 0 and nxt == t.snd_una:
            if nxt < t.snd_max:
                t.n_retransmit += 1
                t.nic._count[TCP_RETRANSMIT] += 1
            _emit(t, _ACK | _PSH, nxt, n, nxt - t.tx_seq)
            t.snd_nxt = nxt + n
            if t.snd_nxt > t.snd_max:
                t.snd_max = t.snd_nxt
            _arm_rtx(t, now)
        return
    if end > t.snd_nxt and t.snd_nxt == t.snd_una:
        _emit(t, _ACK, t.snd_nxt, 1, t.snd_nxt - t.tx_seq)
        t.snd_nxt += 1
        if t.snd_nxt > t.snd_max:
            t.snd_max = t.snd_nxt
        _arm_rtx(t, now)
    else:
        _emit(t, _ACK, t.snd_una - 1, 0, 0)
    ms = t.persist_ms * 2
    t.persist_ms = ms if ms < config.TCP_RTO_MAX_MS else config.TCP_RTO_MAX_MS
    t.t_persist = ticks_add(now, t.persist_ms)
    t.nic._schedule(t.t_persist)


def _keepalive(t, now):
    """RFC 1122 4.2.3.6: after an idle period, probe with SEG.SEQ = SND.NXT - 1."""
    if not t.keepalive or t.state < ESTABLISHED or t.state > CLOSE_WAIT:
        return
    if t.keep_probes >= config.TCP_KEEPCNT:
        _send_rst(t)
        _abort(t, ETIMEDOUT)
        return
    if t.snd_una == t.snd_max:
        t.keep_probes += 1
        _emit(t, _ACK, t.snd_nxt - 1, 0, 0)
        t.t_keep = ticks_add(now, config.TCP_KEEPINTVL_MS)
    else:
        t.t_keep = ticks_add(now, config.TCP_KEEPIDLE_MS)
    t.nic._schedule(t.t_keep)


def tw_timers(nic, now):
    """Expire TIME-WAIT entries; returns the next deadline or None."""
    due = None
    tw = nic._tw
    for i in range(len(tw)):
        e = tw[i]
        if e is None:
            continue
        if ticks_diff(now, e[_TW_EXPIRY]) >= 0:
            tw[i] = None
        elif due is None or ticks_diff(e[_TW_EXPIRY], due) < 0:
            due = e[_TW_EXPIRY]
    return due


# --- application side -----------------------------------------------------------------------

def open_active(t, addr, port, now):
    t.set_peer(addr, port)
    t.alloc_rings()
    own = t.nic.mtu - _IP_HDR - _TCP_HDR
    t.mss = own  # until the SYN,ACK tells us the peer's
    t.choose_iss()
    t.state = SYN_SENT
    t.snd_una = 0
    t.snd_nxt = 0
    t.snd_max = 0
    t.tx_seq = 1
    output(t, now)


def app_close(t, now):
    """close() from the application: FIN after queued data; the block lives on as
    an orphan until the exchange ends."""
    t.orphan = True
    st = t.state
    if st == LISTEN:
        # Pending connections that nobody will accept are reset.
        for c in list(t.queue):
            _send_rst(c)
            release(c)
        for s in t.nic._socks:
            if s is not None and s.kind == SOCK_STREAM and s.parent is t:
                release(s)
        release(t)
        return
    if st == SYN_SENT or st == CLOSED or st == TIME_WAIT:
        release(t)
        return
    if st == SYN_RCVD or st == ESTABLISHED or st == CLOSE_WAIT:
        if t.rx is not None and t.rx.count and st != SYN_RCVD:
            # Unread data is lost: tell the peer with a RST (RFC 1122 4.2.2.13).
            _send_rst(t)
            release(t)
            return
        t.fin_queued = True
        if st == SYN_RCVD:
            return  # FIN goes after the handshake completes
        output(t, now)
        return
    # FIN_WAIT_*, CLOSING, LAST_ACK: already closing


def app_send(t, data, n, now):
    """Queue up to n bytes; returns how many were taken."""
    m = t.tx.write(data, n)
    if m:
        output(t, now)
    return m


@micropython.native
def app_recv_into(t, dst, n, now):
    """Move up to n received bytes into dst; opens the window when it grows enough."""
    rx = t.rx
    before = t.rcv_wnd()
    head = rx.head
    m = rx.read_into(dst, n)
    if rx.count == 0 and m and t.asm.n:
        # Ring.consume() rewinds an emptied ring to position 0, but out-of-order
        # bytes sit past the in-order ones at head-relative places: keep the head
        # where the bytes are (else the next hole fill exposes stale ring bytes).
        head += m
        rx.head = head - rx.size if head >= rx.size else head
    if m and t.state >= ESTABLISHED:
        after = t.rcv_wnd()
        # Window update when it opens by a useful amount (RFC 1122 4.2.3.3).
        if after - before >= t.mss or (before < t.mss and after >= (rx.size >> 1)):
            t.ack_now = True
            if t.state == TIME_WAIT:
                output(t, now)
            else:
                _output_quick(t, now)
    return m

