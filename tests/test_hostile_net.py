# Scripted hostile peers below TCP, in the simulation (MockLan, virtual time): ARP
# replies and requests trying to hijack the gateway, IP fragments that overlap with
# different bytes, never complete or are too big, ICMP errors forged for a live TCP
# connection, DHCP replies from a second server mid-lease, DNS answers raced in by a
# spoofer. Each test asserts what crossed the wire, what the application got and the
# counters. docs/SECURITY.md cites these tests; docs/RELIABILITY.md lists them.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import struct

import support
from support import (BCAST, IP_A, IP_GW, IP_PEER, MAC_A, MAC_PEER, TCP_ACK, frame_arp,
                     frame_ip, fragments, ipv4, learn_peer, mock_stack, moved,
                     parse, udp)

import test_dhcp as tdh
import test_dns as tdn
import test_tcp_trace as tt
from spinet import config, dns

AF_INET = 2
SOCK_DGRAM = 2
MAC_GW = b"\x02\x00\x00\x00\x00\x01"
MAC_EVIL = b"\x02\x00\x00\x00\x0e\x71"
ZERO_MAC = b"\x00" * 6
FAR = "198.51.100.7"


def gw_mac(nic):
    for ip, mac, state, age in nic.arp_table():
        if ip == IP_GW:
            return mac, state
    return None


def send_far(nic, data=b"x"):
    s = nic.socket(AF_INET, SOCK_DGRAM)
    try:
        s.sendto(data, (FAR, 9))
    finally:
        s.close()


def dst_macs(frames):
    """Destination MACs of the IPv4 frames (ARP left out)."""
    return [bytes(parse(f)["dst"]) for f in frames if parse(f)["type"] == 0x0800]


def with_gateway():
    """A stack that resolved its gateway the normal way (request, solicited reply)."""
    nic, lan, clock = mock_stack()
    send_far(nic)
    lan.take()  # the request for the gateway
    lan.inject(frame_arp(2, MAC_GW, IP_GW, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    assert dst_macs(lan.take()) == [MAC_GW]
    return nic, lan, clock


# --- ARP: the gateway entry cannot be re-pointed -----------------------------------------

def test_arp_gateway_hijack_by_reply_request_and_gratuitous_is_refused():
    nic, lan, clock = with_gateway()
    before = nic.stats()
    # 1. an unsolicited reply; 2. a gratuitous ARP (broadcast request, spa == tpa);
    # 3. a request for our address claiming the gateway's IP (the classic poisoning:
    # RFC 826's merge would overwrite the entry); 4. a gratuitous reply.
    lan.inject(frame_arp(2, MAC_EVIL, IP_GW, MAC_A, IP_A, dst_mac=MAC_A))
    lan.inject(frame_arp(1, MAC_EVIL, IP_GW, ZERO_MAC, IP_GW))
    lan.inject(frame_arp(1, MAC_EVIL, IP_GW, ZERO_MAC, IP_A))
    lan.inject(frame_arp(2, MAC_EVIL, IP_GW, BCAST, IP_GW))
    nic.poll()
    out = lan.take()
    # Only the request for our address is answered (to the asker, as ARP requires).
    assert [parse(f)["op"] for f in out] == [2]
    assert gw_mac(nic) == ("02:00:00:00:00:01", "valid")
    d = moved(nic, before)
    assert d == {"rx_frames": 4, "tx_frames": 1, "arp_rx": 4, "arp_tx": 1,
                 "arp_unsolicited": 4}, d
    # Off-link traffic keeps going to the real gateway.
    for _ in range(5):
        send_far(nic)
    assert dst_macs(lan.take()) == [MAC_GW] * 5


def test_arp_gateway_reprobe_answered_by_spoofer_first():
    # The entry is re-probed by unicast while in use; a spoofer answers before the
    # gateway does. The entry keeps the gateway's MAC and the gateway's answer
    # confirms it.
    nic, lan, clock = with_gateway()
    clock.set(config.ARP_REPROBE_MS)
    send_far(nic)
    nic.poll()
    out = lan.take()
    probes = [parse(f) for f in out if parse(f)["type"] == 0x0806]
    assert len(probes) == 1 and probes[0]["dst"] == MAC_GW and probes[0]["tpa"] == IP_GW
    lan.inject(frame_arp(2, MAC_EVIL, IP_GW, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    assert gw_mac(nic) == ("02:00:00:00:00:01", "valid")
    lan.inject(frame_arp(2, MAC_GW, IP_GW, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    lan.take()
    clock.set(config.ARP_REACHABLE_MS + 1000)  # past the first confirmation's expiry
    send_far(nic)
    assert dst_macs(lan.take()) == [MAC_GW]
    assert nic.stats()["arp_unsolicited"] == 1


def test_arp_replaced_gateway_is_found_after_expiry():
    # The cost of the policy: a router replaced by one with another MAC is only
    # used once the old entry expires (no reply for ARP_REACHABLE_MS).
    nic, lan, clock = with_gateway()
    new_gw = b"\x02\x00\x00\x00\x00\x02"
    lan.inject(frame_arp(1, new_gw, IP_GW, ZERO_MAC, IP_A))  # the new router asks us
    nic.poll()
    lan.take()
    assert gw_mac(nic)[0] == "02:00:00:00:00:01"
    clock.set(config.ARP_REACHABLE_MS)
    nic.poll()
    send_far(nic)
    req = [parse(f) for f in lan.take()]
    assert len(req) == 1 and req[0]["type"] == 0x0806 and req[0]["dst"] == BCAST
    lan.inject(frame_arp(2, new_gw, IP_GW, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    assert dst_macs(lan.take()) == [new_gw]


def test_arp_non_gateway_peer_may_move():
    # Outside the gateway, RFC 826's merge on a request for us still applies (a peer
    # that changed NIC); the gateway rule is the one the threat model needs.
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    lan.inject(frame_arp(1, MAC_EVIL, IP_PEER, ZERO_MAC, IP_A))
    nic.poll()
    lan.take()
    assert [m for ip, m, s, a in nic.arp_table() if ip == IP_PEER] == ["02:00:00:00:0e:71"]


# --- IP fragments ------------------------------------------------------------------------

def udp_sock(nic, port=7000):
    s = nic.socket(AF_INET, SOCK_DGRAM)
    s.bind(("", port))
    s.setblocking(False)
    return s


def frag(ident, off, data, more, src=IP_PEER, proto=17):
    flags = (0x2000 if more else 0) | (off >> 3)
    return support.eth(MAC_A, MAC_PEER, 0x0800,
                       ipv4(src, IP_A, proto, data, ident=ident, flags=flags))


def recv_all(s):
    out = []
    for _ in range(10):
        try:
            out.append(s.recv(4000))
        except OSError:
            break
    return out


def test_frag_overlap_with_different_bytes_drops_datagram():
    nic, lan, clock = mock_stack()
    s = udp_sock(nic)
    payload = udp(IP_PEER, IP_A, 5000, 7000, b"A" * 40)
    before = nic.stats()
    lan.inject(frag(7, 0, payload[:24], True))
    lan.inject(frag(7, 16, b"B" * 24, True))  # overlaps bytes 16..24 with other bytes
    lan.inject(frag(7, 24, payload[24:], False))
    nic.poll()
    assert recv_all(s) == [] and lan.take() == []  # nothing delivered, no ICMP
    d = moved(nic, before)
    # the overlap discards the datagram; the last fragment then starts a new one
    assert d["ip_frag_rx"] == 3 and d["ip_reasm_drop"] == 1 and "ip_reasm_ok" not in d, d
    assert d.get("udp_rx", 0) == 0
    # The last fragment, left over, now holds the one reassembly slot: a second
    # datagram is refused until it times out, then gets through.
    for f in fragments(IP_PEER, IP_A, 17, payload, ident=8, chunk=24):
        lan.inject(f)
    nic.poll()
    assert recv_all(s) == [] and moved(nic, before)["ip_reasm_drop"] == 3
    clock.advance(config.REASM_TIMEOUT_MS)
    nic.poll()
    assert nic.stats()["ip_reasm_timeout"] == 1
    for f in fragments(IP_PEER, IP_A, 17, payload, ident=8, chunk=24):
        lan.inject(f)
    nic.poll()
    assert recv_all(s) == [b"A" * 40]


def test_frag_exact_duplicate_with_different_bytes_first_wins():
    # A repeat of a fragment already held (same offset and length) is ignored even if
    # its bytes differ: the first copy is kept, never a mix.
    nic, lan, clock = mock_stack()
    s = udp_sock(nic)
    payload = udp(IP_PEER, IP_A, 5000, 7000, b"0123456789abcdef" * 2)
    lan.inject(frag(9, 0, payload[:16], True))
    lan.inject(frag(9, 0, b"Z" * 16, True))
    lan.inject(frag(9, 16, payload[16:], False))
    nic.poll()
    assert recv_all(s) == [b"0123456789abcdef" * 2]
    assert nic.stats()["ip_reasm_ok"] == 1 and nic.stats()["udp_bad_checksum"] == 0


def test_frag_never_completing_times_out_and_frees_buffer():
    nic, lan, clock = mock_stack()
    s = udp_sock(nic)
    payload = udp(IP_PEER, IP_A, 5000, 7000, b"C" * 100)
    lan.inject(frag(11, 0, payload[:64], True))
    nic.poll()
    assert nic._reasm.active
    # while it is held, other datagrams' fragments are refused (one slot)
    lan.inject(frag(12, 0, payload[:64], True))
    nic.poll()
    assert nic.stats()["ip_reasm_drop"] == 1
    clock.advance(config.REASM_TIMEOUT_MS - 1)
    nic.poll()
    assert nic._reasm.active
    clock.advance(1)
    nic.poll()
    st = nic.stats()
    assert not nic._reasm.active and st["ip_reasm_timeout"] == 1
    assert lan.take() == []  # RFC 1122 3.3.2: MAY send time exceeded; we do not
    # the slot is free again
    for f in fragments(IP_PEER, IP_A, 17, payload, ident=13, chunk=64):
        lan.inject(f)
    nic.poll()
    assert recv_all(s) == [b"C" * 100]


def test_frag_too_large_and_flood_bounded():
    nic, lan, clock = mock_stack()
    s = udp_sock(nic)
    buf_len = len(nic._reasm.buf)
    before = nic.stats()
    lan.inject(frag(20, config.REASM_BYTES - 8, b"x" * 16, False))  # ends past the buffer
    lan.inject(frag(21, 8191 * 8, b"x" * 8, False))  # the largest offset there is
    lan.inject(frag(22, 0, b"x" * 12, True))  # MF with a length not a multiple of 8
    nic.poll()
    assert moved(nic, before)["ip_reasm_drop"] == 3 and not nic._reasm.active
    # 300 first fragments of 300 different datagrams: one is held, the rest refused
    before = nic.stats()
    for i in range(300):
        lan.inject(frag(1000 + i, 0, b"y" * 8, True))
        nic.poll()
    d = moved(nic, before)
    assert d["ip_frag_rx"] == 300 and d["ip_reasm_drop"] == 299, d
    assert len(nic._reasm.buf) == buf_len and recv_all(s) == [] and lan.take() == []


# --- ICMP errors forged for a live TCP connection ----------------------------------------

def icmp_for(cb, typ, code, seq_rel, src=IP_GW, rest=b"\x00\x00\x00\x00"):
    """An ICMP error quoting a segment of our connection cb with sequence number
    iss + seq_rel (what an off-path attacker must guess)."""
    iss = (cb.iss_hi << 16) | cb.iss_lo
    th = struct.pack(">HHI", cb.lport, cb.rport, (iss + seq_rel) & 0xFFFFFFFF)
    qip = ipv4(IP_A, IP_PEER, 6, th + bytes(12))
    quote = qip[:20] + th
    return frame_ip(src, IP_A, 1, support.icmp(typ, code, rest, quote))


def test_icmp_forged_errors_for_tcp_do_not_abort():
    nic, lan, clock, s, p = tt.active()
    cb = s._cb
    before = nic.stats()
    forged = (
        icmp_for(cb, 3, 3, 12345),  # port unreachable, seq not ours
        icmp_for(cb, 3, 3, 1),  # port unreachable quoting SND.UNA exactly
        icmp_for(cb, 3, 1, 1),  # host unreachable, matching
        icmp_for(cb, 3, 4, 1, rest=b"\x00\x00\x00\x44"),  # frag needed, next-hop MTU 68
        icmp_for(cb, 11, 0, 1),  # time exceeded
    )
    for f in forged:
        lan.inject(f)
        nic.poll()
    assert lan.take() == []  # nothing answered
    d = moved(nic, before)
    assert d == {"rx_frames": 5, "ip_rx": 5, "icmp_rx": 5, "icmp_error_rx": 5}, d
    # Established: soft errors (RFC 5927 4.1 / RFC 1122 4.2.3.9), the connection lives
    # and no MSS was lowered by the forged frag-needed (no PMTUD, RFC 5927 7).
    assert cb.state == tt.tcp.ESTABLISHED and cb.mss == tt.MSS
    assert s.send(b"still here") == 10
    tt.expect(p.one(), TCP_ACK | tt.P, 1, 1, b"still here")
    p.send(TCP_ACK | tt.P, 1, 11, b"reply")
    assert s.recv(10) == b"reply"


# --- DHCP: a second server mid-lease -----------------------------------------------------

def bound_client():
    nic, lan, clock = tdh.mock()
    (d,) = tdh.sent_dhcp(lan)
    tdh.inject(nic, lan, tdh.reply(d["data"], 2))
    (r,) = tdh.sent_dhcp(lan)
    tdh.inject(nic, lan, tdh.reply(r["data"], 5))
    for _ in range(4):  # ARP probes of the address
        clock.advance(400)
        nic.poll()
    assert tdh.bound(nic)
    lan.take()
    return nic, lan, clock, r["data"]


def test_dhcp_rogue_server_while_bound_is_ignored():
    nic, lan, clock, last_req = bound_client()
    before = nic.stats()
    # An on-link rogue saw our broadcast REQUEST, so it even knows the xid.
    for mtype in (2, 5, 6):  # OFFER, ACK, NAK
        tdh.inject(nic, lan, tdh.reply(last_req, mtype, yiaddr="192.0.2.200",
                                       server="192.0.2.66"), src="192.0.2.66")
    tdh.inject(nic, lan, tdh.reply(last_req, 5, xid=b"\x11\x22\x33\x44"), src="192.0.2.66")
    d = moved(nic, before)
    assert d["dhcp_rx"] == 4 and d["dhcp_unexpected"] == 3 and d["dhcp_bad_xid"] == 1, d
    assert "dhcp_ack" not in d and "dhcp_nak" not in d
    assert nic.ipconfig("addr4")[0] == "192.0.2.100" and tdh.state(nic) == "bound"
    assert tdh.sent_dhcp(lan) == []


def test_dhcp_rogue_ack_during_renew_is_ignored():
    nic, lan, clock, last_req = bound_client()
    learn_peer(nic, lan, peer_ip=tdh.SRV)
    assert nic.dhcp_renew()
    (rq,) = tdh.sent_dhcp(lan)
    assert rq["dst_ip"] == tdh.SRV  # unicast: an off-link spoofer never sees the xid
    gw = nic.ifconfig()[2]
    before = nic.stats()
    rogue = tdh.reply(rq["data"], 5, yiaddr="192.0.2.200", server="192.0.2.66",
                      opts=bytes((3, 4)) + support.ip4("192.0.2.66"))
    tdh.inject(nic, lan, rogue, src="192.0.2.66")
    d = moved(nic, before)
    assert d.get("dhcp_bad_server") == 1 and "dhcp_ack" not in d, d
    assert tdh.state(nic) == "renewing"
    assert nic.ipconfig("addr4")[0] == "192.0.2.100"
    assert nic.ifconfig()[2] == gw  # the rogue's router option was not taken
    # our own server's ACK still renews the lease
    tdh.inject(nic, lan, tdh.reply(rq["data"], 5))
    assert tdh.state(nic) == "bound" and nic.stats()["dhcp_ack"] == 2


# --- DNS: a spoofer racing the real answer -----------------------------------------------

def test_dns_spoof_race_loses_to_the_real_answer():
    nic, lan, r, q, port = tdn.pending()
    qid = (q[0] << 8) | q[1]
    evil = tdn.a_rr(addr="203.0.113.66")
    before = nic.stats()
    n_id = n_src = n_q = 0
    for i in range(120):  # wrong ids (a blind spoofer guesses), from the server and port
        ident = (qid + 1 + i) & 0xFFFF
        tdn.give(nic, lan, tdn.answer(q, evil, ident=ident), r=r)
        n_id += 1
    for sport, src in ((53, "192.0.2.66"), (5353, tdn.NS1), (53, IP_GW)):
        tdn.give(nic, lan, tdn.answer(q, evil), sport=sport, src=src, r=r)
        n_src += 1
    other_q = q[:12] + tdn.encode("www.example.tesx") + b"\x00\x01\x00\x01"
    tdn.give(nic, lan, tdn.answer(other_q, evil), r=r)  # right id, another question
    n_q += 1
    assert r.result == dns.R_WAIT and lan.take() == []
    d = moved(nic, before)
    assert d["dns_bad_id"] == n_id and d["dns_bad_source"] == n_src, d
    assert d["dns_unasked"] == n_q, d
    tdn.give(nic, lan, tdn.answer(q, tdn.a_rr()), r=r)
    assert r.result == dns.R_OK and bytes(r.addr) == support.ip4("192.0.2.80")
    tdn.give(nic, lan, tdn.answer(q, evil), r=r)  # too late to matter
    assert nic.stats()["dns_late"] == 1 and bytes(r.addr) == support.ip4("192.0.2.80")


def test_dns_query_id_and_port_vary():
    # RFC 5452 9.2: the id and the source port are both random per query.
    ids = []
    ports = []
    for _ in range(12):
        nic, lan, r, q, port = tdn.pending()
        ids.append((q[0] << 8) | q[1])
        ports.append(port)
    assert len(set(ids)) >= 10 and len(set(ports)) >= 10, (ids, ports)
    for p in ports:
        assert config.EPHEMERAL_FIRST <= p <= config.EPHEMERAL_LAST


# --- ISN secret ------------------------------------------------------------------------

def test_isn_secret_does_not_come_from_the_prng():
    # RFC 6528: the ISN is a hash of the connection and a secret. The secret comes
    # from os.urandom, so a PRNG whose seed is known (a port without a hardware seed,
    # or outputs an attacker watched: ports, DNS ids) does not reveal it.
    import random

    from spinet import compat
    keys = []
    compat.secret_from_prng = False  # as on a board (tests/support.py sets it True)
    try:
        for _ in range(2):
            random.seed(1)
            nic, lan, clock = mock_stack()
            keys.append(nic._isn_key)
    finally:
        compat.secret_from_prng = True
    assert keys[0] != keys[1] and len(keys[0]) == 16
    # with the simulation's replay switch the same seed gives the same secret
    random.seed(1)
    a = mock_stack()[0]._isn_key
    random.seed(1)
    assert mock_stack()[0]._isn_key == a
