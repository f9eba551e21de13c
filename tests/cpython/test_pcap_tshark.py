# Wireshark's dissectors as an independent judge of what spinet puts on the wire
# (CPython only). A scenario on the simulated segment - ARP, pings of several sizes,
# UDP echo of sizes 0..1472 step 97, an ICMP port unreachable, a fragmented ping
# reassembled and answered - is captured with the segment's pcap tap, then tshark
# must find no malformed packet, no bad IP/UDP/ICMP checksum and no expert warning
# or error, and exactly the frames the scenario produced. A second capture with
# deliberately broken frames proves the same checks do fail.
#
# Without tshark the tests skip, except under CI=true, where they fail (tests/tshark.py).
import support
from boards.sim.pcap import PcapWriter, read_pcap

from tshark import BAD, GOOD, PROBLEMS, SEV_WARN, UNVERIFIED
from tshark import count as _count
import tshark
from tshark import expert as _expert
from tshark import fields as _fields

UDP_SIZES = list(range(0, 1473, 97))
PING_SIZES = (0, 1, 56, 1000, 1472)


def _scenario(path):
    """Run the scenario with the tap on; returns (frames written, port stats)."""
    seg, clock, a, b, pa, pb = support.pair(seed=5)
    w = PcapWriter(str(path))
    seg.tap(w)  # after both activation announcements
    tx0 = pa.stats["tx"] + pb.stats["tx"]
    # Pings of several sizes (the first resolves B's address).
    for size in PING_SIZES:
        r = a.ping(support.IP_B, size=size, timeout_ms=100)
        assert r[0] is not None, size
    # UDP echo A -> B -> A.
    sa = a.socket(2, 2)
    sb = b.socket(2, 2)
    sb.bind(("", 7))
    for n in UDP_SIZES:
        data = bytes((i * 5 + n) & 0xFF for i in range(n))
        sa.sendto(data, (support.IP_B, 7))
        got, addr = sb.recvfrom(2000)
        sb.sendto(got, addr)
        assert sa.recv(2000) == data
    # UDP to a closed port: B answers with ICMP port unreachable.
    sa.settimeout(0.05)
    sa.sendto(b"anyone on 9?", (support.IP_B, 9))
    try:
        sa.recv(100)
    except OSError as e:
        assert e.args[0] == 111  # ECONNREFUSED: the error reached the socket
    else:
        raise AssertionError("no ICMP error")
    # A third station sends B a 1000-byte ping in three fragments.
    peer = seg.port(support.MAC_PEER, name="peer")
    peer.send(support.frame_arp(1, support.MAC_PEER, support.IP_PEER, b"\x00" * 6,
                                support.IP_B))
    seg.run(5)
    req = support.echo_request(0x55, 1, bytes(range(250)) * 4)
    for f in support.fragments(support.IP_PEER, support.IP_B, 1, req, ident=0x1234,
                               chunk=400, dst_mac=support.MAC_B):
        peer.send(f)
    seg.run(5)
    got = []
    buf = bytearray(1514)
    n = peer.recv_into(buf)
    while n:
        got.append(support.parse(bytes(buf[:n])))
        n = peer.recv_into(buf)
    replies = [f for f in got if f.get("icmp_type") == 0]
    assert len(replies) == 1 and replies[0]["data"] == bytes(range(250)) * 4
    w.close()
    return w.count, sum(p.stats["tx"] for p in seg.ports) - tx0


# ARP request + reply for B, 2 per ping, 2 per UDP size, UDP + ICMP error, and for
# the peer: ARP request + reply, 3 fragments, 1 echo reply.
EXPECTED_FRAMES = 2 + 2 * len(PING_SIZES) + 2 * len(UDP_SIZES) + 2 + 6


def test_scenario_clean_in_tshark(tmp_path):
    pcap = tmp_path / "scenario.pcap"
    written, tx = _scenario(pcap)
    assert written == EXPECTED_FRAMES == tx
    assert len(read_pcap(str(pcap))) == EXPECTED_FRAMES

    # 1. The expert summary lists no errors or warnings (it prints nothing at all
    #    for a capture without expert items).
    expert = _expert(pcap)
    assert "Errors" not in expert and "Warns" not in expert, expert

    # 2. No frame matches the problem filter.
    assert _count(pcap, PROBLEMS) == 0

    # 3. Per frame: checksums verified good where present, nothing malformed.
    rows = _fields(pcap, "frame.number", "eth.type", "ip.checksum.status",
                   "udp.checksum.status", "icmp.checksum.status", "icmp.type",
                   "_ws.expert.severity", "_ws.malformed")
    assert len(rows) == EXPECTED_FRAMES
    for num, etype, ip_st, udp_st, icmp_st, icmp_t, sev, malformed in rows:
        assert not malformed, num
        assert BAD not in ip_st + udp_st + icmp_st, num
        for s in sev:
            assert int(s) < SEV_WARN, (num, sev)
        if etype == ["0x0800"]:
            assert ip_st[0] == GOOD, (num, ip_st)  # the outer header
            if icmp_st:
                assert icmp_st == [GOOD], (num, icmp_st)
            elif udp_st:
                assert udp_st == [GOOD], (num, udp_st)  # we always send a checksum
            if icmp_t == ["3"]:
                # The quoted datagram: its IP header is whole (good), its UDP part
                # cut to 8 bytes (unverifiable).
                assert ip_st == [GOOD, GOOD] and udp_st == [UNVERIFIED], (num, ip_st, udp_st)

    # 4. The frames are what the scenario sent.
    assert _count(pcap, "arp.opcode == 1") == 2
    assert _count(pcap, "arp.opcode == 2") == 2
    assert _count(pcap, "icmp.type == 8") == len(PING_SIZES) + 1
    assert _count(pcap, "icmp.type == 0") == len(PING_SIZES) + 1
    assert _count(pcap, "icmp.type == 3 && icmp.code == 3") == 1
    assert _count(pcap, "udp.port == 7 && !icmp") == 2 * len(UDP_SIZES)
    assert _count(pcap, "ip.flags.mf == 1 || ip.frag_offset > 0") == 3
    assert _count(pcap, "ip.flags.df == 1") == EXPECTED_FRAMES - 4 - 3
    assert _count(pcap, "ip.ttl != 64") == 0
    # Wireshark reassembled the fragmented ping and matched B's reply to it.
    assert _count(pcap, "icmp.type == 0 && icmp.resp_to && ip.dst == %s" % support.IP_PEER) == 1


def test_tshark_check_catches_corruption(tmp_path):
    # The same checks on deliberately broken frames: they must fire, so the clean
    # result above means something.
    pcap = tmp_path / "corrupt.pcap"
    w = PcapWriter(str(pcap))
    f = bytearray(support.frame_udp(1000, 2000, b"hello"))
    f[-1] ^= 1  # UDP data changed after the checksum
    w.write(f, 0)
    f = bytearray(support.frame_udp(1000, 2000, b"hello"))
    f[14 + 10] ^= 1  # IP header checksum
    w.write(f, 1)
    f = bytearray(support.frame_ip(support.IP_PEER, support.IP_A, 1,
                                   support.echo_request(1, 1, b"abc")))
    f[-1] ^= 1  # ICMP data
    w.write(f, 2)
    # UDP length 64 in a 11-byte IP payload: malformed.
    w.write(support.frame_ip(support.IP_PEER, support.IP_A, 17,
                             b"\x03\xe8\x07\xd0\x00\x40\x00\x00abc"), 3)
    w.write(support.frame_udp(1000, 2000, b"fine"), 4)  # one good frame
    w.close()
    assert _count(pcap, PROBLEMS) == 4
    rows = _fields(pcap, "frame.number", "ip.checksum.status", "udp.checksum.status",
                   "icmp.checksum.status", "_ws.malformed")
    assert rows[0][2] == [BAD] and rows[1][1] == [BAD] and rows[2][3] == [BAD]
    assert rows[3][4] and not rows[4][4]
    assert rows[4][1:4] == [[GOOD], [GOOD], []]
    expert = _expert(pcap)
    assert "Errors" in expert and "Bad checksum" in expert and "Bad length" in expert
    # The filtered list the real-peer tests check keeps every one of them.
    found = tshark.warnings(pcap)
    assert sorted((proto, s.split(" [")[0]) for _, proto, s in found) == [
        ("ICMP", "Bad checksum"), ("IPv4", "Bad checksum"), ("UDP", "Bad checksum"),
        ("UDP", "Bad length value 64 > IP payload length")], found
