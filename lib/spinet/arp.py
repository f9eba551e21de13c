# spinet.arp — the ARP cache and resolver of one Interface.
#
# Heads up: read RFC 826 ("Packet Reception"), RFC 1122 2.3.2 (cache timeout, flooding
# limits, queueing) and RFC 5227 2.3 (announcements).
#
# The cache is a fixed table of `entries` slots. IP addresses are stored as two
# 16-bit halves (small ints on every port), MACs in one bytearray, so a lookup
# compares ints and allocates nothing. A slot is FREE, PENDING (requests going out),
# VALID (a MAC, trusted for ARP_REACHABLE_MS since the last reply) or FAILED
# (ARP_RETRIES went unanswered; callers get EHOSTUNREACH at once for
# ARP_FAILED_MS). A VALID entry still in use past ARP_REPROBE_MS is re-probed with a
# unicast request, so a live peer never expires under a running transfer.
#
# Policy on what may write the cache (RFC 826 "merge", narrowed):
#  - a reply to a request we sent fills the PENDING (or re-probed) entry;
#  - a request that targets our address creates or refreshes its sender's entry
#    (the sender will talk to us next, and we answer it);
#  - any other reply is unsolicited: counted and ignored, never creates an entry;
#  - the gateway's VALID entry never changes MAC (neither a request nor a reply to a
#    re-probe re-points it; counted as unsolicited): a spoofer cannot take the
#    off-link traffic, and a replaced router is found once the entry expires.
#
# While a next hop resolves, one packet per address is held (RFC 1122 2.3.2.2: keep
# at least the latest), in ARP_QUEUE_SLOTS preallocated frame buffers shared by all
# addresses. Requests go out at most ARP_RATE_PER_S per second in total.

from . import config
from .compat import const, ticks_add, ticks_diff
from .counters import (ARP_BAD, ARP_CONFLICT, ARP_EVICT, ARP_FAILED, ARP_HIT, ARP_MISS,
                       ARP_QUEUE_DROP, ARP_QUEUED, ARP_RATE_LIMITED, ARP_RX, ARP_TX,
                       ARP_UNSOLICITED)
from .wire import arp as warp
from .wire import ethernet

_FREE = const(0)
_PENDING = const(1)
_VALID = const(2)
_FAILED = const(3)

# lookup()/resolve() results besides an entry index
MISS = const(-1)  # resolving; the packet may be queued
FAILED = const(-2)  # unreachable (recent failure)

_ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"


class Arp:
    def __init__(self, nic, entries=config.ARP_ENTRIES, queue_slots=config.ARP_QUEUE_SLOTS):
        self._nic = nic
        self.size = entries
        self._state = bytearray(entries)
        self._hi = [0] * entries
        self._lo = [0] * entries
        self._mac = bytearray(6 * entries)
        self._stamp = [0] * entries  # VALID: last confirmed; PENDING: last request; FAILED: when
        self._used = [0] * entries  # last use, for LRU eviction
        self._tries = bytearray(entries)  # requests sent for this entry (PENDING / re-probe)
        self._probe = [0] * entries  # VALID: last re-probe (_stamp keeps the last reply)
        self._qbuf = [bytearray(config.FRAME_MAX + config.FRAME_PAD) for _ in range(queue_slots)]
        self._qlen = [0] * queue_slots
        self._qent = [-1] * queue_slots  # entry each held packet waits for
        self._tokens = config.ARP_RATE_PER_S
        self._token_t = 0
        # ARP goes out from its own small buffer, so a request sent while an IP packet
        # waits in the Interface's TX buffer does not overwrite it.
        self._out = bytearray(config.FRAME_PAD + ethernet.MIN_FRAME)
        self._outmv = memoryview(self._out)

    # --- queries --------------------------------------------------------------------

    def find(self, hi, lo):
        """Slot holding this address (any state but FREE), else -1."""
        st = self._state
        his = self._hi
        los = self._lo
        for i in range(self.size):
            if st[i] and his[i] == hi and los[i] == lo:
                return i
        return -1

    def lookup(self, hi, lo, now):
        """Index of a VALID entry for the address (its MAC is mac_of(i)), or -1.
        Counts a hit and refreshes the entry's use time; no allocation."""
        st = self._state
        his = self._hi
        los = self._lo
        for i in range(self.size):
            if st[i] == _VALID and his[i] == hi and los[i] == lo:
                self._used[i] = now
                self._nic._count[ARP_HIT] += 1
                return i
        return -1

    def mac_of(self, i):
        return memoryview(self._mac)[6 * i:6 * i + 6]

    def copy_mac(self, i, buf, off):
        """Write entry i's MAC into buf[off:off+6] without a slice allocation."""
        m = self._mac
        j = 6 * i
        buf[off] = m[j]
        buf[off + 1] = m[j + 1]
        buf[off + 2] = m[j + 2]
        buf[off + 3] = m[j + 3]
        buf[off + 4] = m[j + 4]
        buf[off + 5] = m[j + 5]

    def entries(self):
        """[(ip, mac, state, age_ms)] for display; allocates, not for hot paths."""
        from .wire.ipv4 import ntoa
        names = ("free", "pending", "valid", "failed")
        now = self._nic._now()
        out = []
        for i in range(self.size):
            if self._state[i]:
                ip = bytes((self._hi[i] >> 8, self._hi[i] & 0xFF, self._lo[i] >> 8,
                            self._lo[i] & 0xFF))
                out.append((ntoa(ip), ethernet.mac_str(self.mac_of(i)),
                            names[self._state[i]], ticks_diff(now, self._stamp[i])))
        return out

    def count(self):
        n = 0
        for s in self._state:
            if s:
                n += 1
        return n

    # --- resolution -----------------------------------------------------------------

    def resolve(self, hi, lo, now):
        """For an address not found by lookup(): start or continue resolving it.
        Returns the PENDING slot (>= 0) the caller may queue() a packet on, or FAILED."""
        i = self.find(hi, lo)
        if i >= 0:
            s = self._state[i]
            if s == _FAILED:
                if ticks_diff(now, self._stamp[i]) < config.ARP_FAILED_MS:
                    return FAILED
                s = _FREE  # failure has aged out: try again
            if s != _FREE:
                return i  # PENDING (VALID was handled by lookup)
        else:
            i = self._victim()
        self._nic._count[ARP_MISS] += 1
        self._state[i] = _PENDING
        self._hi[i] = hi
        self._lo[i] = lo
        self._tries[i] = 0
        self._used[i] = now
        self._stamp[i] = ticks_add(now, -config.ARP_RETRY_MS)  # first request is due now
        self._retry(i, now)
        return i

    def _victim(self):
        """A slot for a new address: a free one, else the least recently used of,
        in this order, failed lookups, valid entries, pending lookups (a caller
        waits on those). The gateway's valid entry is never taken, and once half the
        table is pending the oldest pending lookup goes before any valid entry: a
        flood of lookups (SYNs from spoofed on-link sources) cannot flush the live
        neighbours, nor make the gateway be learnt again while the flood answers."""
        st = self._state
        used = self._used
        nic = self._nic
        pending = 0
        for i in range(self.size):
            if not st[i]:
                return i
            if st[i] == _PENDING:
                pending += 1
        flood = pending * 2 >= self.size
        best = -1
        best_rank = 9
        for i in range(self.size):
            s = st[i]
            if s == _FAILED:
                rank = 0
            elif s == _VALID:
                if self._hi[i] == nic._gw_hi and self._lo[i] == nic._gw_lo and (
                        self.size > 1):
                    continue
                rank = 2 if flood else 1
            else:
                rank = 1 if flood else 2
            if rank < best_rank or (rank == best_rank and
                                    ticks_diff(used[i], used[best]) < 0):
                best = i
                best_rank = rank
        self._drop_queued(best)
        self._nic._count[ARP_EVICT] += 1
        self._state[best] = _FREE
        return best

    def queue(self, i, frame, n):
        """Hold the n-byte frame (Ethernet header included, destination MAC to be
        filled in) until entry i resolves. The latest packet per address wins."""
        cnt = self._nic._count
        slot = -1
        for s in range(len(self._qbuf)):
            if self._qent[s] == i:
                slot = s  # replace the older packet for this address
                cnt[ARP_QUEUE_DROP] += 1
                break
            if slot < 0 and self._qent[s] < 0:
                slot = s
        if slot < 0:
            cnt[ARP_QUEUE_DROP] += 1
            return False
        pad = config.FRAME_PAD
        self._qbuf[slot][pad:pad + n] = memoryview(frame)[pad:pad + n]
        self._qlen[slot] = n
        self._qent[slot] = i
        cnt[ARP_QUEUED] += 1
        return True

    def _drop_queued(self, i):
        for s in range(len(self._qent)):
            if self._qent[s] == i:
                self._qent[s] = -1
                self._nic._count[ARP_QUEUE_DROP] += 1

    def _flush(self, i):
        """Entry i resolved: send what was held for it."""
        pad = config.FRAME_PAD
        for s in range(len(self._qent)):
            if self._qent[s] == i:
                self._qent[s] = -1
                buf = self._qbuf[s]
                self.copy_mac(i, buf, pad)
                self._nic._xmit(memoryview(buf), self._qlen[s])

    def _take_token(self, now):
        # Token bucket: ARP_RATE_PER_S requests per second, bursts up to that many.
        el = ticks_diff(now, self._token_t)
        if el >= 1000 or el < 0:
            self._tokens = config.ARP_RATE_PER_S
            self._token_t = now
        if self._tokens <= 0:
            self._nic._count[ARP_RATE_LIMITED] += 1
            return False
        self._tokens -= 1
        return True

    def _retry(self, i, now):
        pending = self._state[i] == _PENDING
        # A re-probe must not move _stamp: a VALID entry expires ARP_REACHABLE_MS after
        # its last reply, answered probes or not.
        if ticks_diff(now, self._stamp[i] if pending else self._probe[i]) < config.ARP_RETRY_MS:
            return
        if not self._take_token(now):
            return  # try again on a later poll
        self._tries[i] += 1
        if pending:
            self._stamp[i] = now
            self._request(i, ethernet.BROADCAST)
        else:  # re-probe a VALID entry by unicast (RFC 1122 2.3.2.1)
            self._probe[i] = now
            self._request(i, self.mac_of(i))

    def _request(self, i, dst_mac):
        nic = self._nic
        b = self._out
        o = config.FRAME_PAD
        ethernet.build(b, o, dst_mac, nic.mac, ethernet.TYPE_ARP)
        a = o + ethernet.HDR_LEN
        warp.build(b, a, warp.OP_REQUEST, nic.mac, nic._ip, _ZERO_MAC, nic._ip)
        hi = self._hi[i]
        lo = self._lo[i]
        b[a + 24] = hi >> 8
        b[a + 25] = hi & 0xFF
        b[a + 26] = lo >> 8
        b[a + 27] = lo & 0xFF
        nic._count[ARP_TX] += 1
        nic._xmit(self._outmv, ethernet.MIN_FRAME)

    def announce(self):
        """Gratuitous ARP (RFC 5227 2.3 announcement): a broadcast request with
        sender and target both our address, so peers update stale entries."""
        nic = self._nic
        b = self._out
        o = config.FRAME_PAD
        ethernet.build(b, o, ethernet.BROADCAST, nic.mac, ethernet.TYPE_ARP)
        warp.build(b, o + ethernet.HDR_LEN, warp.OP_REQUEST, nic.mac, nic._ip, _ZERO_MAC,
                   nic._ip)
        nic._count[ARP_TX] += 1
        nic._xmit(self._outmv, ethernet.MIN_FRAME)

    # --- timers -----------------------------------------------------------------------

    def tick(self, now):
        """Retries, failures, re-probes and expiry. Returns the next due time or None."""
        due = None
        st = self._state
        for i in range(self.size):
            s = st[i]
            if s == _PENDING:
                if self._tries[i] >= config.ARP_RETRIES and ticks_diff(
                        now, self._stamp[i]) >= config.ARP_RETRY_MS:
                    st[i] = _FAILED  # RFC 1122 2.3.2.1: give up, report unreachable
                    self._stamp[i] = now
                    self._nic._count[ARP_FAILED] += 1
                    self._drop_queued(i)
                    continue
                self._retry(i, now)
                t = ticks_add(self._stamp[i], config.ARP_RETRY_MS)
            elif s == _VALID:
                age = ticks_diff(now, self._stamp[i])
                if age >= config.ARP_REACHABLE_MS:
                    st[i] = _FREE  # expired: the next use resolves afresh
                    continue
                if age >= config.ARP_REPROBE_MS and ticks_diff(
                        self._used[i], self._stamp[i]) > 0:
                    if self._tries[i] < config.ARP_RETRIES:
                        self._retry(i, now)
                    t = ticks_add(self._stamp[i], config.ARP_REACHABLE_MS)
                    if self._tries[i] < config.ARP_RETRIES:
                        t = ticks_add(now, config.ARP_RETRY_MS)
                else:
                    t = ticks_add(self._stamp[i], config.ARP_REPROBE_MS)
            elif s == _FAILED:
                if ticks_diff(now, self._stamp[i]) >= config.ARP_FAILED_MS:
                    st[i] = _FREE
                    continue
                t = ticks_add(self._stamp[i], config.ARP_FAILED_MS)
            else:
                continue
            if due is None or ticks_diff(t, due) < 0:
                due = t
        return due

    # --- input ------------------------------------------------------------------------

    def input(self, buf, off, n, now):
        nic = self._nic
        cnt = nic._count
        op = warp.check(buf, off, n)
        if not op:
            cnt[ARP_BAD] += 1
            return
        cnt[ARP_RX] += 1
        spa = off + warp.SPA
        tpa = off + warp.TPA
        hi = (buf[spa] << 8) | buf[spa + 1]
        lo = (buf[spa + 2] << 8) | buf[spa + 3]
        if buf[off + warp.SHA] & 1:
            cnt[ARP_BAD] += 1  # a group MAC as a sender is never legitimate
            return
        configured = nic._ip_hi or nic._ip_lo
        if configured and hi == nic._ip_hi and lo == nic._ip_lo:
            cnt[ARP_CONFLICT] += 1  # another station uses our address (RFC 5227 2.4)
            return
        for_us = configured and (((buf[tpa] << 8) | buf[tpa + 1]) == nic._ip_hi
                                 and ((buf[tpa + 2] << 8) | buf[tpa + 3]) == nic._ip_lo)
        i = self.find(hi, lo)
        if i >= 0 and self._state[i] != _FAILED:
            s = self._state[i]
            if op == warp.OP_REPLY and s == _VALID and self._tries[i] == 0:
                cnt[ARP_UNSOLICITED] += 1
            elif s == _VALID and hi == nic._gw_hi and lo == nic._gw_lo and (
                    not self._same_mac(i, buf, off + warp.SHA)):
                # Policy: a live gateway entry keeps its MAC until it expires (no
                # reply for ARP_REACHABLE_MS); no request or reply re-points it.
                cnt[ARP_UNSOLICITED] += 1
            elif op == warp.OP_REPLY or for_us or s == _PENDING:
                self._learn(i, buf, off, now)
        elif for_us and op == warp.OP_REQUEST and (hi & nic._mask_hi) == nic._net_hi and (
                lo & nic._mask_lo) == nic._net_lo:
            # A new entry only for an on-link sender: we never send to an off-link
            # address directly, and such requests would evict real neighbours.
            if i < 0:
                i = self._victim()
                self._hi[i] = hi
                self._lo[i] = lo
                self._used[i] = now
            self._learn(i, buf, off, now)
        elif op == warp.OP_REPLY:
            cnt[ARP_UNSOLICITED] += 1
        if for_us and op == warp.OP_REQUEST:
            self._reply(buf, off)

    def _same_mac(self, i, buf, o):
        m = self._mac
        j = 6 * i
        for k in range(6):
            if m[j + k] != buf[o + k]:
                return False
        return True

    def _learn(self, i, buf, off, now):
        m = self._mac
        j = 6 * i
        s = off + warp.SHA
        for k in range(6):
            m[j + k] = buf[s + k]
        was_pending = self._state[i] == _PENDING
        self._state[i] = _VALID
        self._stamp[i] = now
        self._probe[i] = now
        self._tries[i] = 0
        if was_pending:
            self._flush(i)

    def _reply(self, rx, off):
        nic = self._nic
        b = self._out
        o = config.FRAME_PAD
        a = o + ethernet.HDR_LEN
        sha = off + warp.SHA
        spa = off + warp.SPA
        for k in range(6):  # requester's MAC: Ethernet destination and target MAC
            b[o + k] = rx[sha + k]
            b[a + warp.THA + k] = rx[sha + k]
        b[o + 6:o + 12] = nic.mac
        b[o + 12] = 0x08
        b[o + 13] = 0x06
        warp.build_head(b, a, warp.OP_REPLY, nic.mac, nic._ip)
        for k in range(4):
            b[a + warp.TPA + k] = rx[spa + k]
        nic._count[ARP_TX] += 1
        nic._xmit(self._outmv, ethernet.MIN_FRAME)
