# spinet.ipv4 — fragment reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2).
#
# Heads up: a host MUST reassemble (RFC 1122 3.3.2), but memory is the limit here:
# one datagram of at most `size` payload bytes is reassembled at a time, in a buffer
# allocated once; every other fragment is dropped and counted. Received parts are
# tracked in a bitmap of 8-byte blocks (fragment offsets count 8-byte units). An exact
# retransmission of a fragment is ignored; a fragment that partly overlaps what is
# already held discards the whole datagram (overlaps are only ever an attack or a
# broken sender, cf. RFC 5722 for IPv6). A datagram not complete within
# REASM_TIMEOUT_MS of its first fragment is dropped.
#
# The completed datagram sits in buf with a fresh 20-byte IP header at offset 0
# (options of the first fragment are not kept), so the upper layers read it exactly
# as they read a datagram in the RX frame buffer.

from . import config
from .compat import ticks_add, ticks_diff
from .counters import IP_REASM_DROP, IP_REASM_OK, IP_REASM_TIMEOUT
from .wire.checksum import sum16
from .wire.ipv4 import FLAG_MF, HDR_LEN, OFFSET_MASK


class Reassembly:
    def __init__(self, count, size=config.REASM_BYTES):
        self._count = count  # the Interface's counter list
        self.size = size
        self.buf = bytearray(HDR_LEN + size)  # just a header's worth when disabled
        self._map = bytearray((size + 63) >> 6)  # one bit per 8-byte block
        self.active = False
        self._src_hi = 0
        self._src_lo = 0
        self._ident = 0
        self._proto = 0
        self._total = -1  # payload length, known once the last fragment came
        self._have_first = False
        self.deadline = 0

    def _blocks(self, first, last, set_them):
        """Count blocks first..last-1 already held; optionally mark them held."""
        m = self._map
        held = 0
        for k in range(first, last):
            bit = 1 << (k & 7)
            if m[k >> 3] & bit:
                held += 1
            elif set_them:
                m[k >> 3] |= bit
        return held

    def add(self, mv, ip, ihl, total_len, now):
        """Take one fragment (the datagram at mv[ip:], header length ihl). Returns the
        payload length of the completed datagram, 0 if more fragments are needed,
        -1 if the fragment (or the datagram) was dropped."""
        cnt = self._count
        if not self.size:
            cnt[IP_REASM_DROP] += 1
            return -1
        b = mv
        frag = (b[ip + 6] << 8) | b[ip + 7]
        start = (frag & OFFSET_MASK) << 3
        plen = total_len - ihl
        more = frag & FLAG_MF
        end = start + plen
        src_hi = (b[ip + 12] << 8) | b[ip + 13]
        src_lo = (b[ip + 14] << 8) | b[ip + 15]
        ident = (b[ip + 4] << 8) | b[ip + 5]
        proto = b[ip + 9]
        if self.active and ticks_diff(now, self.deadline) >= 0:
            self.expire()
        if self.active and (src_hi != self._src_hi or src_lo != self._src_lo
                            or ident != self._ident or proto != self._proto):
            cnt[IP_REASM_DROP] += 1  # busy with another datagram
            return -1
        # Every fragment but the last carries a multiple of 8 bytes (RFC 791 3.2).
        if (more and (plen & 7 or plen == 0)) or end > self.size:
            cnt[IP_REASM_DROP] += 1
            if self.active:
                self.active = False  # the datagram could never complete: free the slot
            return -1
        if not self.active:
            self.active = True
            self._src_hi = src_hi
            self._src_lo = src_lo
            self._ident = ident
            self._proto = proto
            self._total = -1
            self._have_first = False
            self.deadline = ticks_add(now, config.REASM_TIMEOUT_MS)
            m = self._map
            for k in range(len(m)):
                m[k] = 0
        first = start >> 3
        last = (end + 7) >> 3
        held = self._blocks(first, last, False)
        if held:
            if held == last - first and (more or self._total == end):
                return 0  # an exact duplicate
            cnt[IP_REASM_DROP] += 1  # partial overlap: drop the datagram
            self.active = False
            return -1
        if not more:
            if self._total >= 0 and self._total != end:
                cnt[IP_REASM_DROP] += 1  # two different "last" fragments
                self.active = False
                return -1
            self._total = end
        if self._total >= 0 and end > self._total:
            cnt[IP_REASM_DROP] += 1
            self.active = False
            return -1
        self._blocks(first, last, True)
        r = self.buf
        r[HDR_LEN + start:HDR_LEN + end] = mv[ip + ihl:ip + ihl + plen]
        if start == 0:
            r[0:HDR_LEN] = mv[ip:ip + HDR_LEN]
            self._have_first = True
        total = self._total
        if total < 0 or not self._have_first:
            return 0
        if self._blocks(0, (total + 7) >> 3, False) != (total + 7) >> 3:
            return 0
        # Complete: rewrite the header as an unfragmented 20-byte one.
        self.active = False
        r[0] = 0x45
        n = HDR_LEN + total
        r[2] = n >> 8
        r[3] = n & 0xFF
        r[6] = 0
        r[7] = 0
        r[10] = 0
        r[11] = 0
        c = ~sum16(r, 0, HDR_LEN) & 0xFFFF
        r[10] = c >> 8
        r[11] = c & 0xFF
        cnt[IP_REASM_OK] += 1
        return total

    def expire(self):
        if self.active:
            self.active = False
            self._count[IP_REASM_TIMEOUT] += 1
