# spinet.trace — one tcpdump-like line per frame, for nic.config(trace=N).
#
# Loaded only when tracing is switched on, so it costs nothing otherwise. Flags as
# MicroPython's LAN has them: 2 frames sent, 4 frames received, 8 add a hex dump.

from .wire import ethernet
from .wire.ipv4 import ntoa

_ICMP_TYPES = {0: "echo reply", 3: "unreachable", 8: "echo request", 11: "time exceeded"}


def _tcp_flags(fl):
    out = ""
    for bit, ch in ((2, "S"), (1, "F"), (4, "R"), (8, "P"), (0x20, "U"), (0x10, ".")):
        if fl & bit:
            out += ch
    return out or "none"


def describe(b, off, n):
    """A one-line summary of the frame at b[off:off+n]."""
    if n < ethernet.HDR_LEN:
        return "runt %d" % n
    et = ethernet.ethertype(b, off)
    p = off + ethernet.HDR_LEN
    if et == ethernet.TYPE_ARP and n >= 42:
        op = b[p + 7]
        if op == 1:
            return "ARP who-has %s tell %s" % (ntoa(b, p + 24), ntoa(b, p + 14))
        return "ARP %s is-at %s" % (ntoa(b, p + 14), ethernet.mac_str(b[p + 8:p + 14]))
    if et != ethernet.TYPE_IPV4 or n < 34:
        return "%s > %s type 0x%04x len %d" % (
            ethernet.mac_str(b[off + 6:off + 12]), ethernet.mac_str(b[off:off + 6]), et, n)
    ihl = (b[p] & 15) * 4
    total = (b[p + 2] << 8) | b[p + 3]
    proto = b[p + 9]
    frag = ((b[p + 6] << 8) | b[p + 7]) & 0x3FFF
    src = ntoa(b, p + 12)
    dst = ntoa(b, p + 16)
    q = p + ihl
    if frag:
        return "IP %s > %s proto %d frag off %d%s len %d" % (
            src, dst, proto, (frag & 0x1FFF) * 8, "+" if frag & 0x2000 else "", total)
    if proto == 1 and n >= q - off + 8:
        t = b[q]
        name = _ICMP_TYPES.get(t, "type %d" % t)
        if t == 0 or t == 8:
            return "IP %s > %s ICMP %s id %d seq %d len %d" % (
                src, dst, name, (b[q + 4] << 8) | b[q + 5], (b[q + 6] << 8) | b[q + 7],
                total - ihl - 8)
        return "IP %s > %s ICMP %s code %d" % (src, dst, name, b[q + 1])
    if (proto == 17 or proto == 6) and n >= q - off + 8:
        sp = (b[q] << 8) | b[q + 1]
        dp = (b[q + 2] << 8) | b[q + 3]
        if proto == 17:
            return "IP %s.%d > %s.%d UDP len %d" % (src, sp, dst, dp, total - ihl - 8)
        if n < q - off + 20:
            return "IP %s.%d > %s.%d TCP len %d" % (src, sp, dst, dp, total - ihl)
        # tcpdump's shape: flags, seq (a range when there is data), ack, window.
        fl = b[q + 13]
        doff = (b[q + 12] >> 4) * 4
        dlen = total - ihl - doff
        seq = (b[q + 4] << 24) | (b[q + 5] << 16) | (b[q + 6] << 8) | b[q + 7]
        out = "IP %s.%d > %s.%d Flags [%s]" % (src, sp, dst, dp, _tcp_flags(fl))
        if dlen > 0 or fl & 3:
            out += ", seq %d" % seq
            if dlen > 0:
                out += ":%d" % ((seq + dlen) & 0xFFFFFFFF)
        if fl & 0x10:
            out += ", ack %d" % ((b[q + 8] << 24) | (b[q + 9] << 16) | (b[q + 10] << 8) | b[q + 11])
        return out + ", win %d, length %d" % ((b[q + 14] << 8) | b[q + 15], dlen)
    return "IP %s > %s proto %d len %d" % (src, dst, proto, total)


def frame(nic, direction, b, off, n):
    print("%s %s" % (direction, describe(b, off, n)))
    if nic._trace & 8:
        for i in range(0, n, 16):
            print("  %04x  %s" % (i, " ".join("%02x" % b[off + k] for k in range(i, min(n, i + 16)))))
