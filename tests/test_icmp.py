# ICMP: echo (RFC 792, RFC 1122 3.2.2.6), the errors we send (port unreachable,
# RFC 1122 3.2.2 / 4.1.3.1, rate limit) and the errors we receive (RFC 1122 4.1.3.3),
# nic.ping() on virtual time, and a 1000-probe ping run across a lossy segment.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import struct
import sys

import support
from support import (BCAST, IP_A, IP_B, IP_PEER, MAC_A, MAC_PEER, eth, frame_ip,
                     frame_udp, fragments, learn_peer, mock_stack, moved, pad60, parse,
                     raises)

import spinet
from boards.sim.clock import VirtualClock
from boards.sim.mocklan import MockLan
from spinet import config

MICROPYTHON = sys.implementation.name == "micropython"


def pattern(n, k=0):
    return bytes((i * 13 + 5 + k) & 0xFF for i in range(n))


def ready():
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    return nic, lan, clock


# --- echo -------------------------------------------------------------------------------

def _echo(size):
    nic, lan, clock = ready()
    data = pattern(size)
    req = support.echo_request(0x1234, 0xBEEF, data)
    before = nic.stats()
    lan.inject(frame_ip(IP_PEER, IP_A, 1, req))
    nic.poll()
    out = lan.take()
    assert len(out) == 1, out
    f = parse(out[0])
    # Addresses swapped, DF, TTL 64, both checksums valid, id/seq/data intact.
    assert f["dst"] == MAC_PEER and f["src"] == MAC_A and f["type"] == 0x0800
    assert f["src_ip"] == IP_A and f["dst_ip"] == IP_PEER
    assert f["flags"] == 0x4000 and f["ttl"] == 64 and f["proto"] == 1
    assert f["ip_csum_ok"] and f["icmp_csum_ok"]
    assert f["icmp_type"] == 0 and f["icmp_code"] == 0
    assert f["rest"] == b"\x12\x34\xbe\xef"
    assert f["data"] == data
    # Byte-exact (the IP identification is the stack's choice).
    want = eth(MAC_PEER, MAC_A, 0x0800,
               support.ipv4(IP_A, IP_PEER, 1, support.icmp(0, 0, b"\x12\x34\xbe\xef", data),
                            ident=f["id"]))
    assert out[0] == pad60(want)
    assert len(out[0]) == max(60, 14 + 28 + size)
    assert moved(nic, before) == {"rx_frames": 1, "tx_frames": 1, "ip_rx": 1, "ip_tx": 1,
                                  "icmp_rx": 1, "icmp_echo_rx": 1, "icmp_tx": 1}


def test_echo_reply_empty():
    _echo(0)


def test_echo_reply_one_byte():
    _echo(1)


def test_echo_reply_56():
    _echo(56)


def test_echo_reply_full_mtu():
    _echo(1472)  # 1472 + 8 + 20 = 1500: a full-size frame of 1514 bytes


def test_echo_reply_after_reassembly():
    # A 1000-byte ping in three fragments is reassembled and answered in one frame.
    nic, lan, clock = ready()
    data = pattern(1000, 3)
    req = support.echo_request(7, 1, data)
    before = nic.stats()
    for fr in fragments(IP_PEER, IP_A, 1, req, ident=0x4242, chunk=400):
        lan.inject(fr)
    nic.poll()
    out = lan.take()
    assert len(out) == 1
    f = parse(out[0])
    assert f["icmp_type"] == 0 and f["icmp_csum_ok"] and f["data"] == data
    assert f["total"] == 1028 and f["flags"] == 0x4000
    d = moved(nic, before)
    assert d["ip_frag_rx"] == 3 and d["ip_reasm_ok"] == 1 and d["icmp_echo_rx"] == 1
    assert d["icmp_tx"] == 1 and d["tx_frames"] == 1


def test_echo_larger_than_mtu_not_answered():
    # 1600 bytes of data: 1628-byte datagram, reassembled from 1480 + 128, but the
    # reply would need fragmenting (we always send DF): dropped, counted ip_too_big.
    nic, lan, clock = ready()
    req = support.echo_request(9, 9, pattern(1600))
    frs = fragments(IP_PEER, IP_A, 1, req, ident=0x77)
    assert len(frs) == 2 and len(frs[0]) == 1514
    before = nic.stats()
    for fr in frs:
        lan.inject(fr)
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 2, "ip_rx": 2, "ip_frag_rx": 2,
                                  "ip_reasm_ok": 1, "icmp_rx": 1, "icmp_echo_rx": 1,
                                  "ip_too_big": 1}


def test_broadcast_ping_ignored():
    nic, lan, clock = ready()
    req = support.echo_request(1, 1, b"smurf")
    before = nic.stats()
    lan.inject(frame_ip(IP_PEER, "255.255.255.255", 1, req, dst_mac=BCAST))
    lan.inject(frame_ip(IP_PEER, "192.0.2.255", 1, req, dst_mac=BCAST))  # directed
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 2, "ip_rx": 2, "icmp_rx": 2,
                                  "icmp_echo_rx": 2, "icmp_ignored": 2}


def test_bad_icmp_checksum_and_short_counted():
    nic, lan, clock = ready()
    req = bytearray(support.echo_request(1, 1, b"abcdef"))
    req[9] ^= 0x40  # data byte changed, checksum not updated
    before = nic.stats()
    lan.inject(frame_ip(IP_PEER, IP_A, 1, bytes(req)))
    lan.inject(frame_ip(IP_PEER, IP_A, 1, b"\x08\x00\xf7\xff"))  # 4 bytes: short
    lan.inject(frame_ip(IP_PEER, IP_A, 1, b""))  # no ICMP header at all
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 3, "ip_rx": 3, "icmp_bad": 3}


def test_other_icmp_types_ignored():
    nic, lan, clock = ready()
    before = nic.stats()
    lan.inject(frame_ip(IP_PEER, IP_A, 1, support.icmp(13, 0, bytes(4), bytes(12))))  # timestamp
    lan.inject(frame_ip(IP_PEER, IP_A, 1, support.icmp(5, 1, support.ip4("192.0.2.1"),
                                                       bytes(28))))  # redirect
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 2, "ip_rx": 2, "icmp_rx": 2, "icmp_ignored": 2}


# --- port unreachable (sent) ------------------------------------------------------------

def test_port_unreachable_byte_exact():
    nic, lan, clock = ready()
    fr = frame_udp(40000, 9, b"hello, nobody here")
    orig_ip = fr[14:]
    before = nic.stats()
    lan.inject(fr)
    nic.poll()
    out = lan.take()
    assert len(out) == 1
    f = parse(out[0])
    assert f["icmp_type"] == 3 and f["icmp_code"] == 3
    assert f["src_ip"] == IP_A and f["dst_ip"] == IP_PEER and f["ttl"] == 64
    assert f["ip_csum_ok"] and f["icmp_csum_ok"]
    assert f["rest"] == bytes(4)
    assert f["data"] == orig_ip[:28]  # the IP header and the first 8 bytes (RFC 792)
    want = eth(MAC_PEER, MAC_A, 0x0800,
               support.ipv4(IP_A, IP_PEER, 1, support.icmp(3, 3, bytes(4), orig_ip[:28]),
                            ident=f["id"]))
    assert out[0] == pad60(want)
    assert moved(nic, before) == {"rx_frames": 1, "tx_frames": 1, "ip_rx": 1, "ip_tx": 1,
                                  "udp_rx": 1, "udp_no_port": 1, "icmp_tx": 1,
                                  "icmp_unreach_tx": 1}


def test_port_unreachable_quotes_options():
    # A datagram with IP options: the whole header (24 bytes) plus 8 are quoted.
    nic, lan, clock = ready()
    u = support.udp(IP_PEER, IP_A, 1000, 9, b"xyzxyzxyz")
    fr = frame_ip(IP_PEER, IP_A, 17, u, options=b"\x01\x01\x01\x00")
    lan.inject(fr)
    nic.poll()
    out = lan.take()
    assert len(out) == 1
    f = parse(out[0])
    assert f["icmp_type"] == 3 and f["icmp_code"] == 3 and f["icmp_csum_ok"]
    assert f["data"] == fr[14:14 + 24 + 8]


def test_no_port_unreachable_for_broadcast():
    nic, lan, clock = ready()
    before = nic.stats()
    lan.inject(frame_udp(40000, 9, b"x", dst_ip="255.255.255.255", dst_mac=BCAST))
    lan.inject(frame_udp(40000, 9, b"x", dst_ip="192.0.2.255", dst_mac=BCAST))
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 2, "ip_rx": 2, "udp_rx": 2, "udp_no_port": 2}


def test_no_port_unreachable_for_link_broadcast():
    # RFC 1122 3.2.2: no ICMP error about a datagram sent as a link-layer broadcast,
    # even with our unicast IP address inside.
    nic, lan, clock = ready()
    before = nic.stats()
    lan.inject(frame_udp(40000, 9, b"x", dst_mac=BCAST))
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 1, "ip_rx": 1, "udp_rx": 1, "udp_no_port": 1}


def test_no_port_unreachable_to_non_host_source():
    # RFC 1122 3.2.2: nor about a datagram whose source is not a single host
    # (the zero address, loopback).
    nic, lan, clock = ready()
    before = nic.stats()
    lan.inject(frame_udp(68, 9, b"x", src_ip="0.0.0.0"))
    lan.inject(frame_udp(68, 9, b"x", src_ip="127.0.0.1"))
    nic.poll()
    assert lan.take() == []
    # (127/8 from the wire is already dropped at IP: RFC 1122 3.2.1.3 (g).)
    assert moved(nic, before) == {"rx_frames": 2, "ip_rx": 1, "udp_rx": 1, "udp_no_port": 1,
                                  "ip_bad_source": 1}


def test_port_unreachable_rate_limited():
    nic, lan, clock = ready()
    lim = config.ICMP_ERR_PER_S
    clock.advance(5000)
    before = nic.stats()
    for i in range(lim + 5):
        lan.inject(frame_udp(40000 + i, 9, b"scan"))
        nic.poll()
    out = lan.take()
    assert len(out) == lim
    for i in range(lim):
        f = parse(out[i])
        assert f["icmp_type"] == 3 and f["data"][20:22] == struct.pack(">H", 40000 + i)
    d = moved(nic, before)
    assert d["icmp_unreach_tx"] == lim and d["icmp_rate_limited"] == 5
    assert d["udp_no_port"] == lim + 5
    # Still within the same second: nothing more.
    clock.advance(500)
    lan.inject(frame_udp(41000, 9, b"scan"))
    nic.poll()
    assert lan.take() == []
    # One second of virtual time later the whole budget is back.
    clock.advance(500)
    before = nic.stats()
    for i in range(lim + 2):
        lan.inject(frame_udp(42000 + i, 9, b"scan"))
        nic.poll()
    assert len(lan.take()) == lim
    d = moved(nic, before)
    assert d["icmp_unreach_tx"] == lim and d["icmp_rate_limited"] == 2


# --- ICMP errors received by a UDP socket -------------------------------------------------

def _sent_datagram(nic, lan):
    s = nic.socket(2, 2)
    s.bind(("", 5555))
    s.connect((IP_PEER, 7))
    s.send(b"are you there?")
    out = lan.take()
    assert len(out) == 1 and parse(out[0])["dport"] == 7
    s.settimeout(0)
    return s, out[0][14:]


def _error(code, quoted):
    return frame_ip(IP_PEER, IP_A, 1, support.icmp(3, code, bytes(4), quoted[:28]))


def test_port_unreachable_gives_econnrefused():
    nic, lan, clock = ready()
    s, dgram = _sent_datagram(nic, lan)
    before = nic.stats()
    lan.inject(_error(3, dgram))
    nic.poll()
    assert moved(nic, before) == {"rx_frames": 1, "ip_rx": 1, "icmp_rx": 1, "icmp_error_rx": 1}
    raises(111, s.recv, 100)
    raises(11, s.recv, 100)  # reported once
    s.close()


def test_host_unreachable_gives_ehostunreach():
    nic, lan, clock = ready()
    s, dgram = _sent_datagram(nic, lan)
    lan.inject(_error(1, dgram))
    nic.poll()
    raises(113, s.recvfrom, 100)
    raises(11, s.recvfrom, 100)
    s.close()


def test_icmp_error_for_other_port_not_delivered():
    nic, lan, clock = ready()
    s, dgram = _sent_datagram(nic, lan)
    other = bytearray(dgram)
    other[22:24] = b"\x00\x08"  # quoted destination port 8, not 7
    lan.inject(_error(3, other))
    other = bytearray(dgram)
    other[20:22] = b"\x15\xb4"  # quoted source port 5556, not ours
    lan.inject(_error(3, other))
    nic.poll()
    assert nic.stats()["icmp_error_rx"] == 2
    raises(11, s.recv, 100)
    # The socket still works: a datagram from the peer arrives normally.
    lan.inject(frame_udp(7, 5555, b"yes"))
    nic.poll()
    assert s.recv(100) == b"yes"
    s.close()


def test_icmp_error_too_short_quote_is_bad():
    nic, lan, clock = ready()
    s, dgram = _sent_datagram(nic, lan)
    before = nic.stats()
    lan.inject(frame_ip(IP_PEER, IP_A, 1, support.icmp(3, 3, bytes(4), dgram[:24])))
    nic.poll()
    assert moved(nic, before) == {"rx_frames": 1, "ip_rx": 1, "icmp_rx": 1, "icmp_error_rx": 1,
                                  "icmp_bad": 1}
    raises(11, s.recv, 100)
    s.close()


# --- nic.ping() against a scripted peer -------------------------------------------------

class PingPeer(MockLan):
    """A MockLan whose peer answers echo requests after a scripted delay (ms), or
    not at all (None), one entry per probe; replies appear on virtual time."""

    def __init__(self, mac, clock, delays, corrupt=()):
        MockLan.__init__(self, mac, clock)
        self.delays = list(delays)
        self.corrupt = corrupt
        self.later = []  # [(due, frame)]
        self.probes = 0

    def send(self, frame):
        MockLan.send(self, frame)
        f = parse(bytes(frame))
        if f["type"] != 0x0800 or f.get("icmp_type") != 8:
            return
        k = self.probes
        self.probes += 1
        d = self.delays[k] if k < len(self.delays) else None
        if d is None:
            return
        data = f["data"]
        if k in self.corrupt:
            data = data[:-1] + bytes((data[-1] ^ 1,))
        rep = frame_ip(f["dst_ip"], f["src_ip"], 1, support.icmp(0, 0, f["rest"], data),
                       dst_mac=f["src"], src_mac=MAC_PEER)
        self.later.append((self.clock.now + d, rep))

    def _due(self):
        now = self.clock.now
        keep = []
        for t, fr in self.later:
            if t <= now:
                self.rx.append(fr)
            else:
                keep.append((t, fr))
        self.later = keep

    def recv_into(self, buf):
        self._due()
        return MockLan.recv_into(self, buf)

    def wait(self, timeout_ms):
        self._due()
        if self.rx or timeout_ms <= 0:
            return
        end = self.clock.now + timeout_ms
        for t, fr in self.later:
            if t < end:
                end = t
        self.clock.set(end)


def _ping_stack(delays, corrupt=()):
    clock = VirtualClock()
    peer = PingPeer(MAC_A, clock, delays, corrupt)
    nic = spinet.Interface(peer, clock=clock.ticks_ms)
    nic.ifconfig((IP_A, support.MASK, support.IP_GW, support.IP_GW))
    nic.active(True)
    learn_peer(nic, peer)
    peer.take()
    return nic, peer, clock


def test_ping_rtts_on_virtual_time():
    nic, peer, clock = _ping_stack([7, 0, 123, None, 40])
    t0 = clock.now
    before = nic.stats()
    r = nic.ping(IP_PEER, count=5, timeout_ms=500)
    assert r == [7, 0, 123, None, 40], r
    assert clock.now - t0 == 7 + 0 + 123 + 500 + 40
    sent = peer.take()
    assert len(sent) == 5
    ident = None
    for i in range(5):
        f = parse(sent[i])
        assert f["icmp_type"] == 8 and f["icmp_csum_ok"] and f["ip_csum_ok"]
        assert f["dst_ip"] == IP_PEER and f["dst"] == MAC_PEER and f["flags"] == 0x4000
        fid = (f["rest"][0] << 8) | f["rest"][1]
        ident = fid if ident is None else ident
        assert fid == ident  # one identifier per run, sequence counts up
        assert (f["rest"][2] << 8) | f["rest"][3] == i
        assert f["data"] == bytes(k & 0xFF for k in range(56))
    d = moved(nic, before)
    assert d["icmp_tx"] == 5 and d["icmp_echo_reply_rx"] == 4 and d["icmp_rx"] == 4


def test_ping_sizes_and_corrupt_reply():
    nic, peer, clock = _ping_stack([3, 3], corrupt=(1,))
    assert nic.ping(IP_PEER, count=1, size=0, timeout_ms=100) == [3]
    before = nic.stats()
    assert nic.ping(IP_PEER, count=1, size=1472, timeout_ms=100) == [None]  # data altered
    assert moved(nic, before)["icmp_bad"] == 1
    f = parse(peer.take()[-1])
    assert f["total"] == 1500 and len(f["data"]) == 1472
    raises(ValueError, nic.ping, IP_PEER, 1, 100, 1473)
    raises(ValueError, nic.ping, IP_PEER, 1, 100, -1)


def test_ping_late_reply_ignored():
    # Probe 0's reply comes after its timeout, during probe 1: not counted for 1.
    nic, peer, clock = _ping_stack([150, None])
    r = nic.ping(IP_PEER, count=2, timeout_ms=100)
    assert r == [None, None], r


# --- acceptance: 1000 pings over a lossy segment ------------------------------------------

def _seq_recorder(port, icmp_type, got):
    # Record the sequence number of every echo frame of icmp_type the port hands
    # its stack: exactly what was delivered through the faulty link.
    from boards.sim.segment import SimPort

    def recv_into(buf):
        n = SimPort.recv_into(port, buf)
        if n >= 42 and buf[12] == 8 and buf[13] == 0 and buf[23] == 1 and buf[34] == icmp_type:
            got.append((buf[40] << 8) | buf[41])
        return n
    port.recv_into = recv_into


def test_acceptance_1000_pings_with_loss():
    # 10 % loss each way and 3 ms one-way delay: a probe is answered iff its request
    # and its reply both got through, and then its RTT is exactly 6 ms of virtual time.
    # MicroPython runs all 1000 too (well under a second on the unix port).
    count = 1000
    delay = 3
    seg, clock, a, b, pa, pb = support.pair(seed=7)
    assert a.ping(IP_B, count=1, timeout_ms=100) == [0]  # ARP both ways, no faults yet
    pa.faults(loss=0.1, delay_ms=delay)
    pb.faults(loss=0.1, delay_ms=delay)
    reqs = []
    reps = []
    _seq_recorder(pb, 8, reqs)
    _seq_recorder(pa, 0, reps)
    lost_a = pa.stats["lost"]
    lost_b = pb.stats["lost"]
    echo_b = b.stats()["icmp_echo_rx"]
    before_a = a.stats()
    t0 = clock.now
    r = a.ping(IP_B, count=count, timeout_ms=50)
    assert len(r) == count
    lost_req = pa.stats["lost"] - lost_a
    lost_rep = pb.stats["lost"] - lost_b
    got_req = bytearray(count)
    got_rep = bytearray(count)
    for seq in reqs:
        got_req[seq] += 1
    for seq in reps:
        got_rep[seq] += 1
    answered = 0
    for seq in range(count):
        assert got_req[seq] <= 1 and got_rep[seq] <= 1
        if got_rep[seq]:
            assert got_req[seq]
            assert r[seq] == 2 * delay, (seq, r[seq])
            answered += 1
        else:
            assert r[seq] is None, (seq, r[seq])
    assert len(reqs) == count - lost_req
    assert len(reps) == answered
    assert answered == count - lost_req - lost_rep
    assert b.stats()["icmp_echo_rx"] - echo_b == count - lost_req
    d = moved(a, before_a)
    assert d["icmp_tx"] == count and d["icmp_echo_reply_rx"] == answered
    assert "arp_miss" not in d and "icmp_bad" not in d
    # Sanity on the fault rate: ~10 % each way (the segment is seeded: deterministic).
    assert 50 < lost_req < 150 and 50 < lost_rep < 150
    assert clock.now - t0 == answered * 2 * delay + (count - answered) * 50
