# Shared helpers for the protocol tests (run on CPython under pytest and on the
# MicroPython unix port under tests/mprun.py: restricted Python only).
#
# Frames the tests inject are built here with struct, independently of the stack's
# own wire helpers, so a bug in a builder cannot hide the same bug in a parser.

import struct

from boards.sim.clock import VirtualClock
from boards.sim.mocklan import MockLan
from boards.sim.segment import Segment

import spinet
from spinet import compat

# A seeded run replays exactly (tests/tcp_apps.py): the ISN secret follows random.seed().
compat.secret_from_prng = True

MAC_A = b"\x02\x00\x00\x00\x00\x0a"
MAC_B = b"\x02\x00\x00\x00\x00\x0b"
MAC_PEER = b"\x02\x00\x00\x00\x00\x99"
BCAST = b"\xff\xff\xff\xff\xff\xff"
IP_A = "192.0.2.10"
IP_B = "192.0.2.11"
IP_PEER = "192.0.2.99"
IP_GW = "192.0.2.1"
MASK = "255.255.255.0"


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def raises(errno, fn, *args):
    """Call fn(*args); assert it raises OSError with this errno (or any
    exception type given as errno)."""
    try:
        fn(*args)
    except OSError as e:
        if isinstance(errno, int):
            assert e.args[0] == errno, "errno %r, wanted %r" % (e.args[0], errno)
            return e
        raise
    except Exception as e:  # noqa: BLE001
        if not isinstance(errno, int) and isinstance(e, errno):
            return e
        raise
    raise AssertionError("no exception, wanted %r" % (errno,))


# --- checksums and frame builders (independent of spinet.wire) -----------------------

def csum(data):
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    s = 0
    for i in range(0, len(data), 2):
        s += (data[i] << 8) | data[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def eth(dst, src, etype, payload):
    return bytes(dst) + bytes(src) + struct.pack(">H", etype) + bytes(payload)


def ipv4(src, dst, proto, payload, ttl=64, ident=1, flags=0x4000, tos=0, options=b"",
         total=None, fix_csum=True):
    ihl = 5 + len(options) // 4
    if total is None:
        total = ihl * 4 + len(payload)
    h = bytearray(struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, tos, total, ident, flags, ttl,
                              proto, 0, ip4(src), ip4(dst)) + options)
    if fix_csum:
        c = csum(h)
        h[10] = c >> 8
        h[11] = c & 0xFF
    return bytes(h) + bytes(payload)


def udp(src, dst, sport, dport, data, zero_csum=False, bad_csum=False):
    n = 8 + len(data)
    h = struct.pack(">HHHH", sport, dport, n, 0)
    if zero_csum:
        return h + bytes(data)
    pseudo = ip4(src) + ip4(dst) + struct.pack(">BBH", 0, 17, n)
    c = csum(pseudo + h + bytes(data))
    if c == 0:
        c = 0xFFFF
    if bad_csum:
        c ^= 0x5A5A
    return struct.pack(">HHHH", sport, dport, n, c) + bytes(data)


def icmp(typ, code, rest, data):
    h = struct.pack(">BBH", typ, code, 0) + bytes(rest)
    c = csum(h + bytes(data))
    return struct.pack(">BBH", typ, code, c) + bytes(rest) + bytes(data)


def echo_request(ident, seq, data):
    return icmp(8, 0, struct.pack(">HH", ident, seq), data)


def arp(op, sha, spa, tha, tpa):
    return struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip4(spa), tha, ip4(tpa))


def frame_ip(src_ip, dst_ip, proto, payload, dst_mac=MAC_A, src_mac=MAC_PEER, **kw):
    return eth(dst_mac, src_mac, 0x0800, ipv4(src_ip, dst_ip, proto, payload, **kw))


def frame_udp(sport, dport, data, src_ip=IP_PEER, dst_ip=IP_A, dst_mac=MAC_A, **kw):
    return frame_ip(src_ip, dst_ip, 17, udp(src_ip, dst_ip, sport, dport, data, **kw),
                    dst_mac=dst_mac)


def frame_arp(op, sha, spa, tha, tpa, dst_mac=BCAST):
    return eth(dst_mac, sha, 0x0806, arp(op, sha, spa, tha, tpa))


# --- parsing what the stack sent -------------------------------------------------

def parse(frame):
    """A dict of the fields of an Ethernet frame sent by the stack (IPv4/ARP)."""
    f = {"dst": frame[0:6], "src": frame[6:12], "type": (frame[12] << 8) | frame[13],
         "len": len(frame)}
    p = frame[14:]
    if f["type"] == 0x0806:
        (f["htype"], f["ptype"], f["hlen"], f["plen"], f["op"], f["sha"], spa, f["tha"],
         tpa) = struct.unpack(">HHBBH6s4s6s4s", p[:28])
        f["spa"] = "%d.%d.%d.%d" % tuple(spa)
        f["tpa"] = "%d.%d.%d.%d" % tuple(tpa)
    elif f["type"] == 0x0800:
        ihl = (p[0] & 15) * 4
        f["ihl"] = ihl
        f["total"] = (p[2] << 8) | p[3]
        f["id"] = (p[4] << 8) | p[5]
        f["flags"] = (p[6] << 8) | p[7]
        f["ttl"] = p[8]
        f["proto"] = p[9]
        f["ip_csum_ok"] = csum(p[:ihl]) == 0
        f["src_ip"] = "%d.%d.%d.%d" % tuple(p[12:16])
        f["dst_ip"] = "%d.%d.%d.%d" % tuple(p[16:20])
        l4 = p[ihl:f["total"]]
        f["l4"] = l4
        if f["proto"] == 17:
            f["sport"], f["dport"], f["ulen"], f["ucsum"] = struct.unpack(">HHHH", l4[:8])
            pseudo = p[12:20] + struct.pack(">BBH", 0, 17, len(l4))
            f["udp_csum_ok"] = csum(pseudo + l4) == 0
            f["data"] = l4[8:]
        elif f["proto"] == 1:
            f["icmp_type"] = l4[0]
            f["icmp_code"] = l4[1]
            f["icmp_csum_ok"] = csum(l4) == 0
            f["rest"] = l4[4:8]
            f["data"] = l4[8:]
        elif f["proto"] == 6:
            parse_tcp(f, p[12:20], l4)
    return f


# --- set-ups -------------------------------------------------------------------------

def mock_stack(ip=IP_A, mask=MASK, gw=IP_GW, mac=MAC_A, active=True, **kw):
    """An Interface on a MockLan with a virtual clock: (nic, lan, clock)."""
    clock = VirtualClock()
    lan = MockLan(mac, clock)
    nic = spinet.Interface(lan, clock=clock.ticks_ms, **kw)
    if ip:
        nic.ifconfig((ip, mask, gw, gw))
    if active:
        nic.active(True)
    lan.take()  # the gratuitous ARP
    return nic, lan, clock


def learn_peer(nic, lan, peer_ip=IP_PEER, peer_mac=MAC_PEER):
    """Teach nic the peer's MAC the way the peer would: an ARP request for us."""
    lan.inject(frame_arp(1, peer_mac, peer_ip, b"\x00" * 6, nic.ifconfig()[0]))
    nic.poll()
    lan.take()


def pair(seed=1, **kw):
    """Two active Interfaces A and B on one simulated segment:
    (seg, clock, nic_a, nic_b, port_a, port_b)."""
    clock = VirtualClock()
    seg = Segment(clock, seed=seed)
    pa = seg.port(MAC_A, name="a")
    pb = seg.port(MAC_B, name="b")
    a = spinet.Interface(pa, clock=clock.ticks_ms, **kw)
    b = spinet.Interface(pb, clock=clock.ticks_ms, **kw)
    seg.add_host(a, pa)
    seg.add_host(b, pb)
    a.ifconfig((IP_A, MASK, IP_GW, IP_GW))
    b.ifconfig((IP_B, MASK, IP_GW, IP_GW))
    b.active(True)
    a.active(True)
    return seg, clock, a, b, pa, pb


def counters(nic, *names):
    s = nic.stats()
    return tuple(s[n] for n in names)


# --- counter deltas and fragments (added for the ICMP/UDP/socket tests) ---------------

NOISE = ("rx_bytes", "tx_bytes", "arp_hit", "arp_entries")


def moved(nic, before, ignore=NOISE):
    """The counters that changed since before = nic.stats(): {name: delta}, leaving
    out the byte counts and cache hits (give ignore=() to see everything)."""
    now = nic.stats()
    out = {}
    for k in now:
        d = now[k] - before.get(k, 0)
        if d and k not in ignore:
            out[k] = d
    return out


def fragments(src, dst, proto, payload, ident, chunk=1480, dst_mac=MAC_A, src_mac=MAC_PEER):
    """Ethernet frames carrying payload as IPv4 fragments of at most chunk bytes
    (a multiple of 8) each, in order."""
    out = []
    off = 0
    n = len(payload)
    while off < n or not out:
        part = payload[off:off + chunk]
        more = off + len(part) < n
        flags = (0x2000 if more else 0) | (off >> 3)
        out.append(eth(dst_mac, src_mac, 0x0800,
                       ipv4(src, dst, proto, part, ident=ident, flags=flags)))
        off += len(part)
    return out


def pad60(frame):
    """A frame as it leaves the stack: zero-padded to the 60-byte Ethernet minimum."""
    if len(frame) < 60:
        return bytes(frame) + bytes(60 - len(frame))
    return bytes(frame)


# --- TCP segments (added for the TCP trace tests) ---------------------------------------

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10


def mss_opt(mss):
    return struct.pack(">BBH", 2, 4, mss)


def tcp(src, dst, sport, dport, seq, ack, flags, window=65535, data=b"", options=b"",
        doff=None, bad_csum=False):
    """A TCP segment (header, options, data) with a correct checksum unless bad_csum.
    doff overrides the data offset (in 32-bit words) for malformed headers."""
    hl = 20 + len(options)
    if doff is None:
        doff = hl // 4
    n = hl + len(data)
    h = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                    (doff & 15) << 4, flags, window, 0, 0) + bytes(options)
    pseudo = ip4(src) + ip4(dst) + struct.pack(">BBH", 0, 6, n)
    c = csum(pseudo + h + bytes(data))
    if bad_csum:
        c ^= 0x5A5A
    return h[:16] + struct.pack(">H", c) + h[18:] + bytes(data)


def frame_tcp(sport, dport, seq, ack, flags, window=65535, data=b"", src_ip=IP_PEER,
              dst_ip=IP_A, dst_mac=MAC_A, src_mac=MAC_PEER, **kw):
    return frame_ip(src_ip, dst_ip, 6, tcp(src_ip, dst_ip, sport, dport, seq, ack, flags,
                                           window, data, **kw),
                    dst_mac=dst_mac, src_mac=src_mac)


def parse_tcp(f, pseudo_addrs, l4):
    """Fill f with the TCP fields of segment l4 (pseudo_addrs: source + destination)."""
    (f["sport"], f["dport"], f["seq"], f["ack"], off, f["tcp_flags"], f["window"],
     f["tcsum"], f["urg"]) = struct.unpack(">HHIIBBHHH", l4[:20])
    hl = (off >> 4) * 4
    f["doff"] = hl
    f["options"] = l4[20:hl]
    f["mss"] = None
    i = 20
    while i < hl:
        kind = l4[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        ln = l4[i + 1]
        if kind == 2 and ln == 4:
            f["mss"] = (l4[i + 2] << 8) | l4[i + 3]
        if ln < 2:
            break
        i += ln
    pseudo = bytes(pseudo_addrs) + struct.pack(">BBH", 0, 6, len(l4))
    f["tcp_csum_ok"] = csum(pseudo + l4) == 0
    f["data"] = l4[hl:]
