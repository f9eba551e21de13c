"""Read packet captures and decode TCP/IPv4 segments (CPython, no dependencies).

Formats: classic pcap (either byte order, microsecond or nanosecond timestamps;
what boards/sim/pcap.py and tcpdump write) and pcapng (what tshark and dumpcap
write: section header, interface description with if_tsresol, enhanced and simple
packet blocks). Link types: Ethernet (with 802.1Q tags), Linux cooked v1/v2 (tcpdump
-i any), raw IP.

    for t, frame_linktype, data in packets(path): ...
    for seg in tcp_segments(path): seg.src, seg.sport, seg.seq, seg.flags, ...
"""

import struct

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class PcapError(Exception):
    pass


def packets(path):
    """[(t_seconds, linktype, bytes)] of every packet in a capture file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise PcapError("%s: too short to be a capture" % path)
    (m,) = struct.unpack_from("<I", data, 0)
    if m == 0x0A0D0D0A:
        return _pcapng(data, path)
    return _pcap(data, path)


def _pcap(data, path):
    (m,) = struct.unpack_from("<I", data, 0)
    for order in "<>":
        (m,) = struct.unpack_from(order + "I", data, 0)
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        raise PcapError("%s: not a pcap or pcapng file (magic %08x)" % (path, m))
    frac = 1e-6 if m == 0xA1B2C3D4 else 1e-9
    if len(data) < 24:
        raise PcapError("%s: truncated pcap header" % path)
    (linktype,) = struct.unpack_from(order + "I", data, 20)
    linktype &= 0x0FFFFFFF  # the top bits may carry FCS information
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, sub, incl, _orig = struct.unpack_from(order + "IIII", data, off)
        off += 16
        if off + incl > len(data):
            break  # a capture cut short while writing: keep what is whole
        out.append((sec + sub * frac, linktype, data[off:off + incl]))
        off += incl
    return out


def _pcapng(data, path):
    out = []
    order = "<"
    ifaces = []  # (linktype, seconds per tick)
    off = 0
    while off + 12 <= len(data):
        (btype,) = struct.unpack_from(order + "I", data, off)
        if btype == 0x0A0D0D0A:  # section header: sets the byte order
            (bom,) = struct.unpack_from("<I", data, off + 8)
            order = "<" if bom == 0x1A2B3C4D else ">"
            ifaces = []
        btype, blen = struct.unpack_from(order + "II", data, off)
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            linktype = struct.unpack_from(order + "H", body, 0)[0]
            ifaces.append((linktype, _tsresol(body[8:], order)))
        elif btype == 6:  # enhanced packet
            iface, hi, lo, cap, _orig = struct.unpack_from(order + "IIIII", body, 0)
            if iface < len(ifaces):
                lt, tick = ifaces[iface]
                out.append((((hi << 32) | lo) * tick, lt, body[20:20 + cap]))
        elif btype == 3 and ifaces:  # simple packet: no timestamp
            (orig,) = struct.unpack_from(order + "I", body, 0)
            out.append((0.0, ifaces[0][0], body[4:4 + min(orig, len(body) - 4)]))
        off += blen
    if not ifaces and not out:
        raise PcapError("%s: pcapng without interfaces" % path)
    return out


def _tsresol(opts, order):
    # if_tsresol (option 9): 10**-n, or 2**-n with the top bit set; default 10**-6
    off = 0
    while off + 4 <= len(opts):
        code, n = struct.unpack_from(order + "HH", opts, off)
        if code == 0:
            break
        if code == 9 and n >= 1:
            v = opts[off + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        off += 4 + ((n + 3) & ~3)
    return 1e-6


def ipv4_of(linktype, frame):
    """The IPv4 packet inside a link-layer frame, or None."""
    if linktype == LINKTYPE_ETHERNET:
        off = 12
        etype = (frame[12] << 8) | frame[13] if len(frame) >= 14 else 0
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 6:  # VLAN tags
            off += 4
            etype = (frame[off] << 8) | frame[off + 1]
        return frame[off + 2:] if etype == 0x0800 else None
    if linktype == LINKTYPE_LINUX_SLL:
        return frame[16:] if len(frame) >= 16 and frame[14:16] == b"\x08\x00" else None
    if linktype == LINKTYPE_LINUX_SLL2:
        return frame[20:] if len(frame) >= 20 and frame[0:2] == b"\x08\x00" else None
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        return frame if frame[:1] and frame[0] >> 4 == 4 else None
    return None


class Segment:
    """One TCP segment: t (s), src, sport, dst, dport, seq, ack, flags, window (raw
    header field), length (payload bytes), wscale (window-scale option or None),
    mss (or None)."""

    def __init__(self, t, src, sport, dst, dport, seq, ack, flags, window, length,
                 wscale, mss):
        self.t, self.src, self.sport, self.dst, self.dport = t, src, sport, dst, dport
        self.seq, self.ack, self.flags, self.window, self.length = seq, ack, flags, window, length
        self.wscale, self.mss = wscale, mss

    def sender(self):
        return "%s:%d" % (self.src, self.sport)

    def receiver(self):
        return "%s:%d" % (self.dst, self.dport)


def _ip(b):
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def tcp_of(t, ip):
    """A Segment from an IPv4 packet, or None (not TCP, a later fragment, truncated)."""
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return None
    ihl = (ip[0] & 15) * 4
    total = (ip[2] << 8) | ip[3]
    if ip[9] != 6 or ihl < 20 or total < ihl + 20 or len(ip) < ihl + 20:
        return None
    if ((ip[6] << 8) | ip[7]) & 0x1FFF:
        return None  # not the first fragment: no TCP header
    th = ip[ihl:]
    sport, dport, seq, ack, offflags, window = struct.unpack_from(">HHIIHH", th, 0)
    doff = (offflags >> 12) * 4
    flags = offflags & 0x3F
    if doff < 20:
        return None
    length = total - ihl - doff
    if length < 0:
        return None
    wscale = mss = None
    opts = th[20:min(doff, len(th))]
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        n = opts[i + 1]
        if kind == 2 and n == 4 and i + 4 <= len(opts):
            mss = (opts[i + 2] << 8) | opts[i + 3]
        elif kind == 3 and n == 3 and i + 3 <= len(opts):
            wscale = opts[i + 2]
        i += n
    return Segment(t, _ip(ip[12:16]), sport, _ip(ip[16:20]), dport, seq, ack, flags, window,
                   length, wscale, mss)


def tcp_segments(path):
    """Every TCP/IPv4 segment in the capture, in file order."""
    out = []
    for t, lt, frame in packets(path):
        ip = ipv4_of(lt, frame)
        if ip is not None:
            s = tcp_of(t, ip)
            if s is not None:
                out.append(s)
    return out
