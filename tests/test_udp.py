# UDP (RFC 768, RFC 1122 4.1.3) through the socket API: what crosses the wire,
# receive-queue bounds, truncation, and an echo of every datagram size 0..1472
# between two stacks on a simulated segment.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import struct

import support
from support import (BCAST, IP_A, IP_B, IP_PEER, MAC_A, MAC_PEER, eth, frame_ip,
                     frame_udp, learn_peer, mock_stack, moved, pad60, parse, raises)

from boards.sim.rng import XorShift
from spinet import config

AF_INET = 2
SOCK_DGRAM = 2


def ready(**kw):
    nic, lan, clock = mock_stack(**kw)
    learn_peer(nic, lan)
    return nic, lan, clock


def udp_sock(nic, port=None, rx=None, timeout=0):
    s = nic.socket(AF_INET, SOCK_DGRAM, rx=rx)
    if port is not None:
        s.bind(("", port))
    s.settimeout(timeout)
    return s


def pattern(n, k=0):
    return bytes((i * 7 + 3 + k) & 0xFF for i in range(n))


# --- acceptance: echo of every size over a segment -----------------------------------------

class WireCheck:
    """A segment tap: every UDP frame either stack emits must carry valid IP and UDP
    checksums, DF, TTL 64 and lengths that agree with the frame."""

    def __init__(self):
        self.udp = 0
        self.bad = []

    def write(self, frame, t_ms):
        f = parse(frame)
        if f["type"] != 0x0800 or f["proto"] != 17:
            return
        self.udp += 1
        n = len(f["data"])
        ok = (f["ip_csum_ok"] and f["udp_csum_ok"] and f["ucsum"] != 0
              and f["flags"] == 0x4000 and f["ttl"] == 64 and f["ulen"] == 8 + n
              and f["total"] == 28 + n and len(frame) == max(60, 42 + n))
        if not ok:
            self.bad.append(f)


def _echo_all(seg, client, server, c_ip, s_ip, base, port):
    cs = client.socket(AF_INET, SOCK_DGRAM)
    ss = server.socket(AF_INET, SOCK_DGRAM)
    ss.bind(("", port))
    cport = None
    buf = bytearray(1472)
    for n in range(1473):
        data = base[n:n + n]  # distinct content per size
        assert cs.sendto(data, (s_ip, port)) == n
        got, addr = ss.recvfrom(2000)  # blocking: drives the segment
        assert got == data, n
        if cport is None:
            cport = addr[1]
        assert addr == (c_ip, cport)
        assert ss.sendto(got, addr) == n
        m, addr = cs.recvfrom_into(buf)
        assert m == n and buf[:n] == data, n
        assert addr == (s_ip, port)
    cs.close()
    ss.close()


def test_acceptance_udp_echo_every_size():
    seg, clock, a, b, pa, pb = support.pair(seed=3)
    chk = WireCheck()
    seg.tap(chk)
    base = XorShift(99).bytes(2 * 1472 + 1)
    sa = a.stats()
    sb = b.stats()
    _echo_all(seg, a, b, IP_A, IP_B, base, 7)  # A asks, B echoes
    _echo_all(seg, b, a, IP_B, IP_A, base, 7777)  # and the other way round
    assert chk.bad == [], chk.bad[:3]
    assert chk.udp == 4 * 1473
    for nic, before in ((a, sa), (b, sb)):
        d = moved(nic, before)
        assert d["udp_tx"] == 2 * 1473 and d["udp_rx"] == 2 * 1473, d
        for k in ("udp_queue_full", "udp_bad_checksum", "udp_bad_length", "udp_no_port",
                  "icmp_tx", "ip_bad_checksum", "drv_errors"):
            assert k not in d, (k, d)
    assert pa.stats["lost"] == 0 and pb.stats["overflow"] == 0 and pa.stats["overflow"] == 0


# --- sending ----------------------------------------------------------------------------------

def test_sendto_frame_byte_exact():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5000)
    before = nic.stats()
    assert s.sendto(b"hi there", (IP_PEER, 6000)) == 8
    out = lan.take()
    assert len(out) == 1
    f = parse(out[0])
    assert f["udp_csum_ok"] and f["ip_csum_ok"] and f["flags"] == 0x4000 and f["ttl"] == 64
    want = eth(MAC_PEER, MAC_A, 0x0800,
               support.ipv4(IP_A, IP_PEER, 17, support.udp(IP_A, IP_PEER, 5000, 6000,
                                                            b"hi there"), ident=f["id"]))
    assert out[0] == pad60(want)
    assert moved(nic, before) == {"tx_frames": 1, "ip_tx": 1, "udp_tx": 1}
    # A str goes out as its UTF-8 bytes, as MicroPython's sockets send it.
    assert s.sendto("hi there", (IP_PEER, 6000)) == 8
    out = lan.take()
    assert len(out) == 1
    g = parse(out[0])
    assert g["udp_csum_ok"] and g["data"] == b"hi there", g
    s.close()


def test_sendto_unbound_autobinds_ephemeral():
    nic, lan, clock = ready()
    s = udp_sock(nic)
    s.sendto(b"", (IP_PEER, 53))
    f = parse(lan.take()[0])
    assert config.EPHEMERAL_FIRST <= f["sport"] <= config.EPHEMERAL_LAST
    assert f["ulen"] == 8 and f["data"] == b"" and f["udp_csum_ok"]
    assert s.getsockname() == (IP_A, f["sport"])
    s.sendto(b"again", (IP_PEER, 53))
    assert parse(lan.take()[0])["sport"] == f["sport"]  # the port stays
    s.close()


def test_send_on_connected_and_unconnected():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5001)
    raises(89, s.send, b"nowhere")  # EDESTADDRREQ
    assert lan.take() == []
    s.connect((IP_PEER, 7000))
    assert s.send(b"one") == 3
    s.sendall(b"two")
    assert s.write(b"three") == 5
    out = [parse(x) for x in lan.take()]
    assert [f["data"] for f in out] == [b"one", b"two", b"three"]
    for f in out:
        assert (f["sport"], f["dport"], f["dst_ip"]) == (5001, 7000, IP_PEER)
    s.sendto(b"elsewhere", ("192.0.2.98", 7001))  # sendto still works when connected
    f = parse(lan.take()[-1])  # an ARP request for .98 goes out first
    assert f["type"] == 0x0806 and f["tpa"] == "192.0.2.98"
    s.close()


def test_datagram_too_big_emsgsize():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5002)
    before = nic.stats()
    raises(90, s.sendto, bytes(1473), (IP_PEER, 9))
    assert lan.take() == []
    assert moved(nic, before) == {}
    assert s.sendto(bytes(1472), (IP_PEER, 9)) == 1472
    out = lan.take()
    assert len(out) == 1 and len(out[0]) == 1514 and parse(out[0])["udp_csum_ok"]
    s.connect((IP_PEER, 9))
    raises(90, s.send, bytes(2000))
    s.close()


def test_broadcast_send():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5003)
    before = nic.stats()
    s.sendto(b"anyone?", ("255.255.255.255", 9999))
    s.sendto(b"subnet?", ("192.0.2.255", 9999))
    out = lan.take()
    assert len(out) == 2  # no ARP for a broadcast
    for fr, ip, data in ((out[0], "255.255.255.255", b"anyone?"),
                         (out[1], "192.0.2.255", b"subnet?")):
        f = parse(fr)
        assert f["dst"] == BCAST and f["src"] == MAC_A and f["dst_ip"] == ip
        assert f["dport"] == 9999 and f["data"] == data and f["udp_csum_ok"]
    assert moved(nic, before) == {"tx_frames": 2, "ip_tx": 2, "udp_tx": 2}
    s.close()


def test_broadcast_received_over_segment():
    seg, clock, a, b, pa, pb = support.pair()
    rb = udp_sock(b, 9999)
    rb2 = b.socket(AF_INET, SOCK_DGRAM)
    rb2.bind((IP_B, 9998))  # bound to the unicast address: broadcasts still arrive
    rb2.settimeout(0)
    sa = udp_sock(a, 4444)
    sa.sendto(b"hello all", ("255.255.255.255", 9999))
    sa.sendto(b"hello net", ("192.0.2.255", 9998))
    seg.run(5)
    assert rb.recvfrom(100) == (b"hello all", (IP_A, 4444))
    assert rb2.recvfrom(100) == (b"hello net", (IP_A, 4444))
    assert a.stats()["arp_tx"] == 1  # just the announcement at activation
    # Nobody on the port: counted, no ICMP error about a broadcast.
    sa.sendto(b"void", ("255.255.255.255", 1))
    seg.run(5)
    assert b.stats()["udp_no_port"] == 1 and b.stats()["icmp_tx"] == 0


# --- receiving -----------------------------------------------------------------------------

def test_recv_variants():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5004)
    for k in range(4):
        lan.inject(frame_udp(6000 + k, 5004, pattern(10 + k, k)))
    before = nic.stats()
    nic.poll()
    assert moved(nic, before) == {"rx_frames": 4, "ip_rx": 4, "udp_rx": 4}
    assert s.recvfrom(100) == (pattern(10), (IP_PEER, 6000))
    assert s.recv(100) == pattern(11, 1)
    buf = bytearray(64)
    assert s.recv_into(buf) == 12 and buf[:12] == pattern(12, 2)
    buf = bytearray(64)
    assert s.recvfrom_into(buf) == (13, (IP_PEER, 6003)) and buf[:13] == pattern(13, 3)
    raises(11, s.recv, 100)
    raises(11, s.recvfrom, 100)
    raises(11, s.recv_into, buf)
    assert s.read(100) is None and s.readinto(buf) is None
    lan.inject(frame_udp(6000, 5004, b"stream"))
    lan.inject(frame_udp(6000, 5004, b"methods"))
    nic.poll()
    assert s.read() == b"stream"
    assert s.readinto(buf) == 7 and buf[:7] == b"methods"
    s.close()


def test_connected_socket_filters_peers():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5005)
    s.connect((IP_PEER, 7000))
    assert s.getpeername() == (IP_PEER, 7000)
    lan.inject(frame_udp(7001, 5005, b"wrong port"))
    lan.inject(frame_udp(7000, 5005, b"wrong host", src_ip="192.0.2.98"))
    lan.inject(frame_udp(7000, 5005, b"right"))
    before = nic.stats()
    nic.poll()
    d = moved(nic, before)
    assert d["udp_rx"] == 3 and d["udp_no_port"] == 2
    assert s.recvfrom(100) == (b"right", (IP_PEER, 7000))
    raises(11, s.recv, 100)
    s.close()


def test_two_sockets_different_ports():
    nic, lan, clock = ready()
    s1 = udp_sock(nic, 6001)
    s2 = udp_sock(nic, 6002)
    lan.inject(frame_udp(1, 6002, b"for two"))
    lan.inject(frame_udp(1, 6001, b"for one"))
    nic.poll()
    assert s1.recv(100) == b"for one" and s2.recv(100) == b"for two"
    raises(11, s1.recv, 100)
    raises(11, s2.recv, 100)
    s1.close()
    s2.close()


def test_zero_checksum_accepted():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5006)
    lan.inject(frame_udp(6000, 5006, b"no checksum", zero_csum=True))
    nic.poll()
    assert s.recv(100) == b"no checksum"
    assert nic.stats()["udp_bad_checksum"] == 0
    s.close()


def test_bad_checksum_dropped():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5007)
    before = nic.stats()
    lan.inject(frame_udp(6000, 5007, b"mangled", bad_csum=True))
    fr = bytearray(frame_udp(6000, 5007, b"flipped data"))
    fr[-1] ^= 0x10
    lan.inject(bytes(fr))
    fr = bytearray(frame_udp(6000, 9, b"to a closed port"))
    fr[-1] ^= 0x10
    lan.inject(bytes(fr))  # bad checksum beats "no port": no ICMP error either
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 3, "ip_rx": 3, "udp_bad_checksum": 3}
    raises(11, s.recv, 100)
    s.close()


def test_bad_length_dropped():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5008)
    before = nic.stats()
    # UDP length beyond the IP payload.
    lan.inject(frame_ip(IP_PEER, IP_A, 17, struct.pack(">HHHH", 6000, 5008, 40, 0) + b"short"))
    # UDP length below the header size.
    lan.inject(frame_ip(IP_PEER, IP_A, 17, struct.pack(">HHHH", 6000, 5008, 7, 0) + b"x"))
    # IP payload shorter than a UDP header.
    lan.inject(frame_ip(IP_PEER, IP_A, 17, b"\x17\x70\x13\x90"))
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 3, "ip_rx": 3, "udp_bad_length": 3}
    raises(11, s.recv, 100)
    s.close()


def test_udp_length_shorter_than_ip_payload():
    # Bytes after the UDP length (inside the IP payload) are not data.
    nic, lan, clock = ready()
    s = udp_sock(nic, 5009)
    u = support.udp(IP_PEER, IP_A, 6000, 5009, b"abc") + b"trailing junk"
    lan.inject(frame_ip(IP_PEER, IP_A, 17, u))
    nic.poll()
    assert s.recv(100) == b"abc"
    s.close()


# --- receive queue bounds ------------------------------------------------------------------

def test_queue_slot_bound():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5010)
    n = config.UDP_RX_SLOTS + 2
    for k in range(n):
        lan.inject(frame_udp(6000, 5010, bytes((k,)) * 3))
    before = nic.stats()
    nic.poll()
    d = moved(nic, before)
    assert d["udp_rx"] == n and d["udp_queue_full"] == 2
    for k in range(config.UDP_RX_SLOTS):
        assert s.recv(100) == bytes((k,)) * 3
    raises(11, s.recv, 100)
    lan.inject(frame_udp(6000, 5010, b"room again"))
    nic.poll()
    assert s.recv(100) == b"room again"
    s.close()


def test_queue_byte_bound_never_partial():
    rec = config.UDP_REC_HDR
    nic, lan, clock = ready()
    s = udp_sock(nic, 5011, rx=2 * (rec + 40))  # exactly two 40-byte datagrams
    before = nic.stats()
    lan.inject(frame_udp(6000, 5011, pattern(40, 1)))
    lan.inject(frame_udp(6000, 5011, pattern(40, 2)))
    lan.inject(frame_udp(6000, 5011, b""))  # even an empty one needs 8 bytes: dropped
    lan.inject(frame_udp(6000, 5011, pattern(40, 3)))
    nic.poll()
    assert moved(nic, before)["udp_queue_full"] == 2
    assert s.recv(100) == pattern(40, 1)
    lan.inject(frame_udp(6000, 5011, pattern(41, 4)))  # 49 > 48 free: dropped
    lan.inject(frame_udp(6000, 5011, pattern(40, 5)))  # exactly fits
    nic.poll()
    assert s.recv(100) == pattern(40, 2)
    assert s.recv(100) == pattern(40, 5)
    raises(11, s.recv, 100)
    assert nic.stats()["udp_queue_full"] - before["udp_queue_full"] == 3
    s.close()


def test_queue_smaller_than_datagram():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5012, rx=50)
    lan.inject(frame_udp(6000, 5012, pattern(43)))  # 51 bytes with its record
    lan.inject(frame_udp(6000, 5012, pattern(42, 1)))  # 50: fits exactly
    nic.poll()
    assert nic.stats()["udp_queue_full"] == 1
    assert s.recv(100) == pattern(42, 1)
    raises(11, s.recv, 100)
    s.close()


def test_queue_wraparound_mixed_sizes():
    # A 100-byte queue, datagrams of 0..60 bytes written and read in random bursts:
    # records and data wrap around the end of the ring at every possible offset.
    # A model of the queue predicts exactly which datagrams are dropped.
    cap = 100
    nic, lan, clock = ready()
    s = udp_sock(nic, 5013, rx=cap)
    rng = XorShift(2024)
    model = []  # datagrams queued, oldest first
    used = 0
    drops = 0
    seq = 0
    buf = bytearray(64)
    for _ in range(600):
        for _ in range(1 + rng.below(3)):
            size = rng.below(61)
            data = pattern(size, seq)
            seq += 1
            lan.inject(frame_udp(6000 + (seq & 0xFF), 5013, data))
            if len(model) < config.UDP_RX_SLOTS and used + 8 + size <= cap:
                model.append((data, 6000 + (seq & 0xFF)))
                used += 8 + size
            else:
                drops += 1
        nic.poll()
        for _ in range(rng.below(4)):
            if not model:
                raises(11, s.recv, 100)
                break
            data, port = model.pop(0)
            used -= 8 + len(data)
            if rng.below(2):
                assert s.recvfrom(100) == (data, (IP_PEER, port))
            else:
                n, addr = s.recvfrom_into(buf)
                assert n == len(data) and buf[:n] == data and addr == (IP_PEER, port)
    assert nic.stats()["udp_queue_full"] == drops
    assert drops > 50  # the bounds were exercised
    while model:
        assert s.recv(100) == model.pop(0)[0]
    raises(11, s.recv, 100)
    s.close()


def test_truncation_discards_rest():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5014)
    lan.inject(frame_udp(6000, 5014, pattern(20)))
    lan.inject(frame_udp(6000, 5014, pattern(30, 1)))
    lan.inject(frame_udp(6000, 5014, pattern(30, 2)))
    lan.inject(frame_udp(6000, 5014, pattern(30, 3)))
    nic.poll()
    assert s.recv(5) == pattern(20)[:5]  # the other 15 bytes are gone
    buf = bytearray(7)
    assert s.recv_into(buf) == 7 and buf == pattern(30, 1)[:7]
    buf = bytearray(30)
    assert s.recvfrom_into(buf, 3) == (3, (IP_PEER, 6000)) and buf[:3] == pattern(30, 2)[:3]
    assert buf[3:] == bytes(27)  # nothing written past nbytes
    assert s.recv(100) == pattern(30, 3)  # the next datagram is intact
    raises(11, s.recv, 100)
    s.close()


def test_closed_socket_gets_nothing():
    nic, lan, clock = ready()
    s = udp_sock(nic, 5015)
    s.close()
    lan.inject(frame_udp(6000, 5015, b"late"))
    before = nic.stats()
    nic.poll()
    d = moved(nic, before)
    assert d["udp_no_port"] == 1 and d["icmp_unreach_tx"] == 1
    f = parse(lan.take()[0])
    assert f["icmp_type"] == 3 and f["icmp_code"] == 3
    s2 = udp_sock(nic, 5015)  # the port is free again
    s2.close()
