# Property tests of the whole receive path: hypothesis builds structured frames of
# every protocol spinet parses (Ethernet, ARP, IPv4 with options and fragments, ICMP,
# UDP, TCP with options, DNS, DHCP) from valid ones with mutated fields — lengths,
# offsets, flags, checksums recomputed or not, truncation — and sends them at a stack
# holding a listener and connections in SYN_RCVD, ESTABLISHED (data in flight),
# FIN_WAIT_1 and TIME-WAIT (tests/fuzz/world.py). After every frame the invariant
# checker runs; afterwards the established connection must still carry data both
# ways unless the input legitimately ended it. Derandomized with a fixed budget so CI
# runs the same examples every time.
import os
import struct
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fuzz"))

import world  # noqa: E402
from world import FIX_CSUM, RELATIVE, record  # noqa: E402

import support  # noqa: E402
from support import BCAST, IP_A, IP_PEER, MAC_A, MAC_PEER, eth, ipv4  # noqa: E402

# CI: a fixed, derandomized budget. `make fuzz` sets SPINET_PROP_EXAMPLES for a long,
# randomized run.
LONG = int(os.environ.get("SPINET_PROP_EXAMPLES", "0"))
SETTINGS = settings(max_examples=LONG or 250, deadline=None, derandomize=not LONG,
                    database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PORTS = (world.LIVE_PORT, world.HALF_PORT, world.FINW_PORT, world.TW_PORT, 41000)
byte = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)


@st.composite
def truncated(draw, frame):
    """The frame, sometimes cut short or with bytes appended."""
    k = draw(st.integers(0, 3))
    if k == 1:
        return frame[:draw(st.integers(0, len(frame)))]
    if k == 2:
        return frame + draw(st.binary(max_size=24))
    return frame


@st.composite
def tcp_options(draw):
    out = b""
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from((0, 1, 2, 3, 4, 5, 8, 30, 254)))
        if kind in (0, 1):
            out += bytes((kind,))
            continue
        ln = draw(st.sampled_from((0, 1, 2, 3, 4, 10, 18, 40)))
        out += bytes((kind, ln)) + draw(st.binary(min_size=0, max_size=max(0, ln - 2)))
    out = out[:40]
    return out + bytes(-len(out) % 4)


@st.composite
def tcp_frame(draw):
    """A segment for one of the world's connections, the listener or a closed port;
    seq/ack relative to the connection (RELATIVE) or raw."""
    sport = draw(st.sampled_from(PORTS))
    dport = draw(st.sampled_from((80, 80, 80, 81)))
    rel = draw(st.booleans())
    if rel:
        seq = draw(st.integers(-70000, 70000)) & 0xFFFFFFFF
        ack = draw(st.integers(-400, 400)) & 0xFFFFFFFF
    else:
        seq = draw(st.integers(0, 0xFFFFFFFF))
        ack = draw(st.integers(0, 0xFFFFFFFF))
    flags = draw(st.one_of(st.sampled_from((0x10, 0x18, 0x11, 0x02, 0x12, 0x04, 0x14, 0x01)),
                           byte))
    opts = draw(tcp_options())
    data = draw(st.binary(max_size=1200))
    doff = draw(st.one_of(st.none(), st.integers(0, 15)))
    seg = support.tcp(IP_PEER, IP_A, sport, dport, seq, ack, flags, draw(u16), data,
                      options=opts, doff=doff)
    fr = support.frame_ip(IP_PEER, IP_A, 6, seg)
    act = (RELATIVE if rel else 0) | (FIX_CSUM if draw(st.booleans()) else 0) | draw(
        st.integers(0, 7))
    return record(draw(truncated(fr)), act)


@st.composite
def ip_frame(draw):
    """An IPv4 datagram with mutated header fields: version/IHL, total length, flags
    and fragment offset, TTL, options, protocol; checksum fixed or not."""
    proto = draw(st.sampled_from((1, 6, 17, 2, 47)))
    payload = draw(st.binary(max_size=600))
    opts = draw(st.sampled_from((b"", b"\x01\x01\x01\x00", b"\x07\x07\x04" + bytes(5),
                                 b"\x44\x0c\x05\x00" + bytes(8), b"\x83\x03\x00\x00",
                                 b"\x00\x00\x00\x00")))
    flags = draw(st.one_of(st.sampled_from((0x4000, 0x2000, 0x0000, 0x2001, 0x0003)), u16))
    dst = draw(st.sampled_from((IP_A, IP_A, "192.0.2.255", "255.255.255.255", "192.0.2.77",
                                "224.0.0.1")))
    src = draw(st.sampled_from((IP_PEER, IP_PEER, "0.0.0.0", IP_A, "192.0.2.255")))
    total = draw(st.one_of(st.none(), u16))
    ip = bytearray(ipv4(src, dst, proto, payload, ttl=draw(st.sampled_from((64, 1, 0))),
                        ident=draw(u16), flags=flags, options=opts, total=total))
    if draw(st.booleans()):
        ip[0] = draw(byte)  # version and IHL
    dmac = BCAST if dst.endswith("255") else MAC_A
    fr = eth(dmac, MAC_PEER, 0x0800, bytes(ip))
    return record(draw(truncated(fr)), draw(st.sampled_from((0, FIX_CSUM, FIX_CSUM | 3))))


@st.composite
def fragment_train(draw):
    """A UDP datagram in fragments, reordered, duplicated, overlapping or with one
    missing; offsets and MF bits sometimes mutated."""
    ident = draw(u16)
    data = draw(st.binary(min_size=8, max_size=2400))
    dgram = support.udp(IP_PEER, IP_A, 5000, world.UDP_PORT, data)
    chunk = draw(st.sampled_from((8, 64, 256, 512, 1480)))
    frs = support.fragments(IP_PEER, IP_A, 17, dgram, ident, chunk=chunk)[:12]
    frs = draw(st.permutations(frs)) if draw(st.booleans()) else frs
    out = b""
    for f in frs:
        f = bytearray(f)
        if draw(st.integers(0, 5)) == 0:
            f[20] = draw(byte)  # flags and offset, high byte
            f[21] = draw(byte)
        reps = draw(st.integers(0, 2)) if draw(st.integers(0, 4)) == 0 else 1
        for _ in range(reps):
            out += record(bytes(f), FIX_CSUM | draw(st.sampled_from((0, 0, 3, 7))))
    return out


@st.composite
def icmp_frame(draw):
    """ICMP of any type/code; errors quote a header of the live connection (or a
    mutated one) so they reach the error path."""
    typ = draw(st.sampled_from((0, 3, 4, 5, 8, 11, 12, 13, 255)))
    code = draw(st.integers(0, 16))
    quote = ipv4(IP_A, IP_PEER, draw(st.sampled_from((6, 17, 1))),
                 struct.pack(">HHI", draw(st.sampled_from((80, world.UDP_PORT, 5))),
                             draw(st.sampled_from(PORTS + (5000,))), draw(st.integers(0, 2 ** 32 - 1))))
    quote = quote[:draw(st.integers(0, len(quote)))]
    rest = struct.pack(">HH", draw(u16), draw(u16))
    fr = support.frame_ip(IP_PEER, IP_A, 1, support.icmp(typ, code, rest, quote +
                                                          draw(st.binary(max_size=64))))
    return record(draw(truncated(fr)), draw(st.sampled_from((0, FIX_CSUM))))


@st.composite
def arp_frame(draw):
    b = bytearray(support.frame_arp(draw(st.integers(0, 4)),
                                    draw(st.sampled_from((MAC_PEER, b"\x02\0\0\0\0\x55",
                                                          BCAST, bytes(6)))),
                                    draw(st.sampled_from((IP_PEER, "192.0.2.1", IP_A,
                                                          "0.0.0.0", "192.0.2.200"))),
                                    bytes(6),
                                    draw(st.sampled_from((IP_A, IP_PEER, "192.0.2.201")))))
    for _ in range(draw(st.integers(0, 3))):
        b[draw(st.integers(14, len(b) - 1))] = draw(byte)  # htype/ptype/hlen/plen...
    return record(draw(truncated(bytes(b))), draw(st.sampled_from((0, 4, 6))))


@st.composite
def udp_frame(draw):
    """UDP with mutated length and checksum, to the bound port, a closed one, the DNS
    resolver (a DNS answer with the query's id) or as broadcast."""
    kind = draw(st.integers(0, 3))
    data = draw(st.binary(max_size=900))
    if kind == 0:
        fr = support.frame_udp(5000, world.UDP_PORT, data)
        act = 0
    elif kind == 1:
        fr = support.frame_udp(5000, draw(u16), data, dst_ip="192.0.2.255", dst_mac=BCAST)
        act = 0
    else:
        hdr = struct.pack(">HHHHHH", 0, draw(u16), draw(st.integers(0, 3)),
                          draw(st.integers(0, 4)), draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        q = b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"
        rr = (draw(st.sampled_from((b"\xc0\x0c", b"\xc0\x30", b"\xc0\x0d", b"\x03www\x00")))
              + struct.pack(">HHIH", draw(st.sampled_from((1, 5, 28))), 1,
                            draw(st.integers(0, 2 ** 32 - 1)), draw(st.integers(0, 8)))
              + data[:8])
        fr = support.frame_udp(53, 1, (hdr + q + rr * draw(st.integers(0, 3)))[:512],
                               src_ip=world.DNS_SERVER)
        act = RELATIVE | FIX_CSUM
    b = bytearray(fr)
    if draw(st.booleans()):
        struct.pack_into(">H", b, 38, draw(u16))  # the UDP length field
    if draw(st.booleans()):
        act |= FIX_CSUM
    return record(draw(truncated(bytes(b))), act)


def run(inputs):
    w = world.make_world()
    world.feed(w, b"".join(inputs))
    world.live(w, b"prop")
    return w


@SETTINGS
@given(st.lists(tcp_frame(), min_size=1, max_size=6))
def test_tcp_segments_in_every_state(frames):
    run(frames)


@SETTINGS
@given(st.lists(ip_frame(), min_size=1, max_size=4))
def test_ipv4_headers_options_and_lengths(frames):
    run(frames)


@SETTINGS
@given(fragment_train(), st.lists(tcp_frame(), max_size=2))
def test_fragments_reordered_overlapping_incomplete(train, tail):
    run([train] + tail)


@SETTINGS
@given(st.lists(st.one_of(icmp_frame(), arp_frame()), min_size=1, max_size=6))
def test_icmp_and_arp(frames):
    run(frames)


@SETTINGS
@given(st.lists(udp_frame(), min_size=1, max_size=6))
def test_udp_and_dns(frames):
    run(frames)


@SETTINGS
@given(st.lists(st.one_of(tcp_frame(), ip_frame(), icmp_frame(), arp_frame(), udp_frame()),
                min_size=2, max_size=10))
def test_mixed_sequences(frames):
    run(frames)


DHCP = [f for f in os.listdir(os.path.join(os.path.dirname(HERE), "corpus", "dhcp"))]


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(sorted(DHCP)), st.lists(
    st.tuples(st.integers(240, 547), byte), max_size=6), st.integers(0, 7)),
    min_size=1, max_size=3))
def test_dhcp_client_replies(items):
    import binascii
    out = b""
    for name, edits, adv in items:
        with open(os.path.join(os.path.dirname(HERE), "corpus", "dhcp", name)) as f:
            msg = bytearray(binascii.unhexlify(f.read().strip()))
        for k, v in edits:  # the options area
            if k < len(msg):
                msg[k] = v
        fr = support.frame_udp(67, 68, bytes(msg), src_ip="192.0.2.1",
                               dst_ip="255.255.255.255", dst_mac=BCAST)
        out += record(fr, RELATIVE | world.DHCP_WORLD | adv)
    world.run(out)
