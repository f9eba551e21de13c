# ARP (RFC 826, RFC 1122 2.3.2, RFC 5227 2.3) as packet traces on a MockLan: what the
# stack answers, what it learns (the narrowed "merge" policy at the top of
# lib/spinet/arp.py), resolution with a held packet, retries and failure on virtual
# time, cache bound / LRU / expiry / re-probe, the request rate limit, and two stacks
# resolving each other on a simulated segment.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import support
from support import (BCAST, IP_A, IP_B, IP_GW, IP_PEER, MAC_A, MAC_B, MAC_PEER,
                     frame_arp, learn_peer, mock_stack, moved, pad60, parse, raises)

from spinet import config

AF_INET = 2
SOCK_DGRAM = 2
EHOSTUNREACH = 113
ZERO_MAC = b"\x00" * 6
MAC_GW = b"\x02\x00\x00\x00\x00\x01"
MAC_MCAST = b"\x01\x00\x5e\x00\x00\x01"


def mac_str(m):
    return ":".join("%02x" % b for b in m)


def table(nic):
    """{ip: (mac_str, state)} of the ARP cache."""
    d = {}
    for ip, mac, state, age in nic.arp_table():
        d[ip] = (mac, state)
    return d


def send_udp(nic, ip, port=5000, data=b"hello"):
    """sendto() from a fresh socket; returns what sendto returned (or raises)."""
    s = nic.socket(AF_INET, SOCK_DGRAM)
    try:
        return s.sendto(data, (ip, port))
    finally:
        s.close()


def arp_frames(frames):
    return [parse(f) for f in frames if parse(f)["type"] == 0x0806]


def request_to(ip, dst_mac=BCAST):
    """The request the stack (A) sends to resolve ip, byte for byte."""
    return pad60(frame_arp(1, MAC_A, IP_A, ZERO_MAC, ip, dst_mac=dst_mac))


def run(nic, lan, clock, ms, step=50):
    """Advance virtual time by ms in steps, polling; [(t, frame)] of what was sent."""
    out = []
    end = clock.now + ms
    while clock.now < end:
        clock.advance(step)
        nic.poll()
        for f in lan.take():
            out.append((clock.now, f))
    return out


# --- answering and learning --------------------------------------------------------

def test_request_for_us_answered_byte_exact_and_sender_learned():
    nic, lan, clock = mock_stack()
    before = nic.stats()
    lan.inject(frame_arp(1, MAC_PEER, IP_PEER, ZERO_MAC, IP_A))
    nic.poll()
    out = lan.take()
    assert len(out) == 1
    assert out[0] == pad60(frame_arp(2, MAC_A, IP_A, MAC_PEER, IP_PEER, dst_mac=MAC_PEER))
    f = parse(out[0])
    assert f["dst"] == MAC_PEER and f["op"] == 2 and f["sha"] == MAC_A
    assert f["spa"] == IP_A and f["tha"] == MAC_PEER and f["tpa"] == IP_PEER
    assert len(out[0]) == 60
    assert moved(nic, before) == {"rx_frames": 1, "tx_frames": 1, "arp_rx": 1, "arp_tx": 1}
    assert table(nic) == {IP_PEER: (mac_str(MAC_PEER), "valid")}
    assert nic.stats()["arp_entries"] == 1
    # The learned MAC is used at once: no request, the datagram goes straight out.
    before = nic.stats()
    assert send_udp(nic, IP_PEER) == 5
    out = lan.take()
    assert len(out) == 1
    f = parse(out[0])
    assert f["dst"] == MAC_PEER and f["type"] == 0x0800 and f["dst_ip"] == IP_PEER
    d = moved(nic, before, ignore=("rx_bytes", "tx_bytes"))
    assert d == {"tx_frames": 1, "ip_tx": 1, "udp_tx": 1, "arp_hit": 1}


def test_request_from_off_link_sender_answered_not_learned():
    # Found by the fuzzer: requests from senders outside our subnet filled the cache
    # and pushed real neighbours out. They are still answered (the sender asked), but
    # only on-link senders get an entry: we never send to an off-link address directly.
    nic, lan, clock = mock_stack()
    lan.inject(frame_arp(1, MAC_PEER, IP_PEER, ZERO_MAC, IP_A))
    nic.poll()
    lan.take()
    for k in range(2 * nic._arp.size):
        lan.inject(frame_arp(1, b"\x02\x00\x00\x00\x09" + bytes((k,)),
                             "198.51.100.%d" % (1 + k), ZERO_MAC, IP_A))
        nic.poll()
        out = lan.take()
        assert len(out) == 1 and parse(out[0])["op"] == 2, k
    assert table(nic) == {IP_PEER: (mac_str(MAC_PEER), "valid")}


def test_request_unicast_to_us_answered():
    # A request may arrive unicast (a peer re-probing us): answered the same way.
    nic, lan, clock = mock_stack()
    lan.inject(frame_arp(1, MAC_PEER, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    out = lan.take()
    assert out == [pad60(frame_arp(2, MAC_A, IP_A, MAC_PEER, IP_PEER, dst_mac=MAC_PEER))]


def test_request_for_other_ip_ignored():
    nic, lan, clock = mock_stack()
    before = nic.stats()
    lan.inject(frame_arp(1, MAC_PEER, IP_PEER, ZERO_MAC, "192.0.2.77"))
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 1, "arp_rx": 1}
    assert nic.stats()["arp_entries"] == 0
    assert table(nic) == {}


def test_request_refreshes_existing_entry_with_new_mac():
    # A request for us from a known sender updates its MAC (the peer moved NIC).
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    new_mac = b"\x02\x00\x00\x00\x00\x98"
    lan.inject(frame_arp(1, new_mac, IP_PEER, ZERO_MAC, IP_A))
    nic.poll()
    assert lan.take() == [pad60(frame_arp(2, MAC_A, IP_A, new_mac, IP_PEER, dst_mac=new_mac))]
    assert table(nic) == {IP_PEER: (mac_str(new_mac), "valid")}
    assert nic.stats()["arp_entries"] == 1


def test_unsolicited_reply_creates_no_entry():
    nic, lan, clock = mock_stack()
    before = nic.stats()
    lan.inject(frame_arp(2, MAC_PEER, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
    # A gratuitous reply (sender == target, broadcast) is unsolicited too.
    lan.inject(frame_arp(2, MAC_PEER, "192.0.2.98", BCAST, "192.0.2.98"))
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 2, "arp_rx": 2, "arp_unsolicited": 2}
    assert nic.stats()["arp_entries"] == 0
    # ...and the next send to that address still has to resolve it.
    send_udp(nic, IP_PEER)
    assert lan.take() == [request_to(IP_PEER)]


def test_unsolicited_reply_does_not_change_valid_entry():
    # Policy: only a reply to a request we sent fills an entry; any other reply is
    # counted and ignored, so an unsolicited reply cannot redirect a known peer.
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    evil = b"\x02\x00\x00\x00\x0e\x71"
    before = nic.stats()
    lan.inject(frame_arp(2, evil, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 1, "arp_rx": 1, "arp_unsolicited": 1}
    assert table(nic) == {IP_PEER: (mac_str(MAC_PEER), "valid")}


# --- resolving ---------------------------------------------------------------------

def test_unresolved_on_link_request_then_held_packet_sent():
    nic, lan, clock = mock_stack()
    before = nic.stats()
    assert send_udp(nic, IP_PEER, 5000, b"held") == 4
    out = lan.take()
    assert out == [request_to(IP_PEER)]
    f = parse(out[0])
    assert f["dst"] == BCAST and f["op"] == 1 and f["sha"] == MAC_A and f["spa"] == IP_A
    assert f["tha"] == ZERO_MAC and f["tpa"] == IP_PEER
    assert moved(nic, before) == {"tx_frames": 1, "ip_tx": 1, "udp_tx": 1, "arp_miss": 1,
                                  "arp_tx": 1, "arp_queued": 1}
    assert table(nic) == {IP_PEER: ("00:00:00:00:00:00", "pending")}
    # A second send while pending sends no second request (one per ARP_RETRY_MS).
    clock.advance(10)
    send_udp(nic, IP_PEER, 5000, b"held2")
    assert lan.take() == []
    before = nic.stats()
    clock.advance(10)
    lan.inject(frame_arp(2, MAC_PEER, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    out = lan.take()
    assert len(out) == 1  # the latest packet per address is held (RFC 1122 2.3.2.2)
    f = parse(out[0])
    assert f["dst"] == MAC_PEER and f["src"] == MAC_A and f["type"] == 0x0800
    assert f["dst_ip"] == IP_PEER and f["src_ip"] == IP_A and f["proto"] == 17
    assert f["dport"] == 5000 and f["data"] == b"held2"
    assert f["ip_csum_ok"] and f["udp_csum_ok"]
    assert moved(nic, before) == {"rx_frames": 1, "tx_frames": 1, "arp_rx": 1}
    assert table(nic) == {IP_PEER: (mac_str(MAC_PEER), "valid")}


def test_second_packet_replaces_held_one():
    nic, lan, clock = mock_stack()
    send_udp(nic, IP_PEER, 5000, b"one")
    before = nic.stats()
    send_udp(nic, IP_PEER, 5000, b"two")
    d = moved(nic, before)
    assert d["arp_queue_drop"] == 1 and d["arp_queued"] == 1 and "arp_tx" not in d


def test_unanswered_retries_then_fails_then_ehostunreach():
    nic, lan, clock = mock_stack()
    before = nic.stats()
    send_udp(nic, IP_PEER)
    sent = [(clock.now, f) for f in lan.take()]
    sent += run(nic, lan, clock, config.ARP_FAILED_MS + config.ARP_RETRY_MS * 2 - 100)
    # ARP_RETRIES broadcast requests, ARP_RETRY_MS apart, starting at once.
    assert [t for t, f in sent] == [k * config.ARP_RETRY_MS for k in range(config.ARP_RETRIES)]
    for t, f in sent:
        assert f == request_to(IP_PEER)
    d = moved(nic, before)
    assert d == {"tx_frames": config.ARP_RETRIES, "ip_tx": 1, "udp_tx": 1, "arp_miss": 1,
                 "arp_tx": config.ARP_RETRIES, "arp_queued": 1, "arp_failed": 1,
                 "arp_queue_drop": 1}
    assert table(nic)[IP_PEER][1] == "failed"


def test_failure_declared_on_time():
    nic, lan, clock = mock_stack()
    send_udp(nic, IP_PEER)
    lan.take()
    fail_at = config.ARP_RETRIES * config.ARP_RETRY_MS
    run(nic, lan, clock, fail_at - 10, step=10)
    assert nic.stats()["arp_failed"] == 0
    run(nic, lan, clock, 10, step=10)
    assert nic.stats()["arp_failed"] == 1
    # For ARP_FAILED_MS the address answers EHOSTUNREACH at once, sending nothing.
    before = nic.stats()
    raises(EHOSTUNREACH, send_udp, nic, IP_PEER)
    clock.advance(config.ARP_FAILED_MS - 1)
    nic.poll()
    raises(EHOSTUNREACH, send_udp, nic, IP_PEER)
    assert lan.take() == []
    d = moved(nic, before)
    assert "tx_frames" not in d and "arp_tx" not in d and "arp_miss" not in d
    # After that it is tried afresh.
    clock.advance(1)
    nic.poll()
    assert send_udp(nic, IP_PEER) == 5
    assert lan.take() == [request_to(IP_PEER)]
    assert table(nic)[IP_PEER][1] == "pending"


def test_reply_after_retry_still_resolves():
    nic, lan, clock = mock_stack()
    send_udp(nic, IP_PEER, 5000, b"late")
    assert lan.take() == [request_to(IP_PEER)]
    sent = run(nic, lan, clock, 1500)
    assert [t for t, f in sent] == [1000]
    lan.inject(frame_arp(2, MAC_PEER, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    out = lan.take()
    assert len(out) == 1 and parse(out[0])["data"] == b"late"
    assert parse(out[0])["dst"] == MAC_PEER
    assert run(nic, lan, clock, 5000) == []  # no more requests once resolved
    assert nic.stats()["arp_failed"] == 0


def test_off_link_goes_via_gateway_mac():
    nic, lan, clock = mock_stack()
    far = "198.51.100.7"
    send_udp(nic, far, 53, b"q")
    out = lan.take()
    assert out == [request_to(IP_GW)]  # the gateway is resolved, not the far host
    lan.inject(frame_arp(2, MAC_GW, IP_GW, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    out = lan.take()
    assert len(out) == 1
    f = parse(out[0])
    assert f["dst"] == MAC_GW and f["dst_ip"] == far and f["src_ip"] == IP_A
    assert f["ttl"] == 64 and f["ip_csum_ok"] and f["udp_csum_ok"]
    assert table(nic) == {IP_GW: (mac_str(MAC_GW), "valid")}
    # A second far address reuses the gateway's entry.
    before = nic.stats()
    send_udp(nic, "203.0.113.5", 53, b"r")
    out = lan.take()
    assert len(out) == 1 and parse(out[0])["dst"] == MAC_GW
    assert parse(out[0])["dst_ip"] == "203.0.113.5"
    assert moved(nic, before) == {"tx_frames": 1, "ip_tx": 1, "udp_tx": 1}


def test_no_gateway_ehostunreach():
    nic, lan, clock = mock_stack(gw="0.0.0.0")
    before = nic.stats()
    raises(EHOSTUNREACH, send_udp, nic, "198.51.100.7")
    assert lan.take() == []
    d = moved(nic, before)
    assert d["ip_no_route"] == 1
    assert "tx_frames" not in d and "arp_tx" not in d and "arp_miss" not in d
    assert nic.stats()["arp_entries"] == 0
    # On-link still works.
    send_udp(nic, IP_PEER)
    assert lan.take() == [request_to(IP_PEER)]


# --- cache bound, LRU, expiry, re-probe ------------------------------------------------

def peer(k):
    return "192.0.2.%d" % (100 + k), b"\x02\x00\x00\x00\x01" + bytes((k,))


def test_cache_bound_and_lru_eviction():
    nic, lan, clock = mock_stack()
    assert config.ARP_ENTRIES == 8
    for k in range(8):
        ip, mac = peer(k)
        lan.inject(frame_arp(1, mac, ip, ZERO_MAC, IP_A))
        nic.poll()
        clock.advance(10)
    lan.take()
    assert nic.stats()["arp_entries"] == 8 and nic.stats()["arp_evict"] == 0
    # Use peer 0 (oldest) so peer 1 becomes the least recently used.
    send_udp(nic, peer(0)[0])
    lan.take()
    clock.advance(10)
    before = nic.stats()
    ip, mac = peer(8)
    lan.inject(frame_arp(1, mac, ip, ZERO_MAC, IP_A))
    nic.poll()
    assert lan.take() == [pad60(frame_arp(2, MAC_A, IP_A, mac, ip, dst_mac=mac))]
    assert moved(nic, before) == {"rx_frames": 1, "tx_frames": 1, "arp_rx": 1,
                                  "arp_tx": 1, "arp_evict": 1}
    t = table(nic)
    assert len(t) == 8 and nic.stats()["arp_entries"] == 8
    assert peer(1)[0] not in t
    assert peer(0)[0] in t and peer(8)[0] in t
    # Twenty more senders: always at the bound, one eviction each.
    for k in range(9, 29):
        ip, mac = "192.0.2.%d" % (100 + k), b"\x02\x00\x00\x00\x01" + bytes((k,))
        lan.inject(frame_arp(1, mac, ip, ZERO_MAC, IP_A))
        nic.poll()
        clock.advance(1)
        assert nic.stats()["arp_entries"] <= 8
    assert nic.stats()["arp_entries"] == 8
    assert nic.stats()["arp_evict"] == 21


def test_gateway_entry_is_never_the_victim():
    # The gateway's valid entry is the least recently used when 30 on-link senders
    # come through a full cache: every one of them evicts another entry, never the
    # gateway's (losing it would mean learning it again while the flood answers).
    nic, lan, clock = mock_stack()
    lan.inject(frame_arp(1, MAC_GW, IP_GW, ZERO_MAC, IP_A))
    nic.poll()
    clock.advance(10)
    for k in range(30):
        ip, mac = "192.0.2.%d" % (100 + k), b"\x02\x00\x00\x00\x01" + bytes((k,))
        lan.inject(frame_arp(1, mac, ip, ZERO_MAC, IP_A))
        nic.poll()
        clock.advance(10)
        assert table(nic).get(IP_GW) == (mac_str(MAC_GW), "valid"), k
    lan.take()
    assert nic.stats()["arp_evict"] == 31 - config.ARP_ENTRIES
    assert len(table(nic)) == config.ARP_ENTRIES


def test_expiry_after_reachable_time_when_idle():
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    # Idle entry: never re-probed, gone ARP_REACHABLE_MS after it was learned.
    clock.advance(config.ARP_REPROBE_MS + 1000)
    nic.poll()
    assert lan.take() == []
    clock.set(config.ARP_REACHABLE_MS - 1)
    nic.poll()
    assert lan.take() == []
    assert table(nic) == {IP_PEER: (mac_str(MAC_PEER), "valid")}
    clock.set(config.ARP_REACHABLE_MS)
    nic.poll()
    assert lan.take() == []
    assert nic.stats()["arp_entries"] == 0
    before = nic.stats()
    send_udp(nic, IP_PEER)
    assert lan.take() == [request_to(IP_PEER)]
    assert moved(nic, before)["arp_miss"] == 1


def test_reprobe_entry_in_use_and_answered():
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    clock.set(config.ARP_REPROBE_MS - 1000)
    send_udp(nic, IP_PEER)  # in use, but not yet old enough
    lan.take()
    run(nic, lan, clock, 900)
    assert lan.take() == []
    clock.set(config.ARP_REPROBE_MS)
    send_udp(nic, IP_PEER)
    assert len(lan.take()) == 1  # the datagram itself, to the cached MAC
    before = nic.stats()
    nic.poll()
    out = lan.take()
    # A unicast request to the cached MAC (RFC 1122 2.3.2.1).
    assert out == [request_to(IP_PEER, dst_mac=MAC_PEER)]
    assert moved(nic, before) == {"tx_frames": 1, "arp_tx": 1}
    assert table(nic)[IP_PEER][1] == "valid"
    lan.inject(frame_arp(2, MAC_PEER, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    assert nic.stats()["arp_unsolicited"] == 0
    # Confirmed: valid well past the original expiry, and no further probes.
    sent = run(nic, lan, clock, config.ARP_REACHABLE_MS - config.ARP_REPROBE_MS + 5000,
               step=1000)
    assert sent == []
    assert table(nic) == {IP_PEER: (mac_str(MAC_PEER), "valid")}


def test_reprobe_unanswered_entry_expires():
    # A peer that stops answering is re-probed ARP_RETRIES times and the entry still
    # expires ARP_REACHABLE_MS after the last reply, even while packets keep going out.
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    clock.set(config.ARP_REPROBE_MS)
    probes = []
    while clock.now < config.ARP_REACHABLE_MS + 2000:
        s = nic.socket(AF_INET, SOCK_DGRAM)
        s.sendto(b"x", (IP_PEER, 9))
        s.close()
        nic.poll()
        for f in lan.take():
            p = parse(f)
            if p["type"] == 0x0806:
                probes.append((clock.now, p["dst"], f))
        clock.advance(500)
    unicast = [(t, f) for t, d, f in probes if d == MAC_PEER]
    assert [t for t, f in unicast] == [config.ARP_REPROBE_MS + k * config.ARP_RETRY_MS
                                       for k in range(config.ARP_RETRIES)]
    for t, f in unicast:
        assert f == request_to(IP_PEER, dst_mac=MAC_PEER)
    # After expiry, sending resolves afresh with a broadcast request.
    bcast = [t for t, d, f in probes if d == BCAST]
    assert bcast and bcast[0] <= config.ARP_REACHABLE_MS + 500
    assert table(nic)[IP_PEER][1] == "pending" or table(nic)[IP_PEER][1] == "failed"


# --- announcements, rate limit, conflicts, bad senders ------------------------------

def test_gratuitous_arp_on_active_and_ifconfig():
    nic, lan, clock = mock_stack(active=False)
    assert lan.take() == []  # configured but inactive: silent
    before = nic.stats()
    nic.active(True)
    out = lan.take()
    assert out == [pad60(frame_arp(1, MAC_A, IP_A, ZERO_MAC, IP_A, dst_mac=BCAST))]
    f = parse(out[0])
    assert f["spa"] == f["tpa"] == IP_A and f["dst"] == BCAST and f["op"] == 1
    assert moved(nic, before) == {"tx_frames": 1, "arp_tx": 1}
    nic.ifconfig(("192.0.2.20", support.MASK, IP_GW, IP_GW))
    out = lan.take()
    assert out == [pad60(frame_arp(1, MAC_A, "192.0.2.20", ZERO_MAC, "192.0.2.20",
                                   dst_mac=BCAST))]
    # Active without an address: nothing to announce.
    nic2, lan2, clock2 = mock_stack(ip=None)
    assert lan2.take() == []
    assert nic2.stats()["arp_tx"] == 0


def test_request_rate_limit():
    nic, lan, clock = mock_stack()
    assert config.ARP_RATE_PER_S == 8
    before = nic.stats()
    for k in range(20):
        send_udp(nic, "192.0.2.%d" % (100 + k))
    out = lan.take()
    reqs = arp_frames(out)
    assert len(out) == len(reqs) == 8
    for k in range(8):
        assert out[k] == request_to("192.0.2.%d" % (100 + k))
    d = moved(nic, before)
    assert d["arp_tx"] == 8 and d["arp_rate_limited"] == 12 and d["arp_miss"] == 20
    assert nic.stats()["arp_entries"] <= 8
    # Over the next seconds, never more than ARP_RATE_PER_S in any second.
    sent = run(nic, lan, clock, 6000, step=20)
    per_s = {}
    for t, f in sent:
        assert parse(f)["type"] == 0x0806 and parse(f)["op"] == 1
        per_s[(t - 1) // 1000] = per_s.get((t - 1) // 1000, 0) + 1
    for k in per_s:
        assert per_s[k] <= 8, per_s
    assert nic.stats()["arp_entries"] <= 8


def test_conflict_counted_not_learned():
    nic, lan, clock = mock_stack()
    before = nic.stats()
    other = b"\x02\x00\x00\x00\x0c\x0c"
    lan.inject(frame_arp(1, other, IP_A, ZERO_MAC, IP_PEER))  # a request from "us"
    lan.inject(frame_arp(2, other, IP_A, BCAST, IP_A))  # a gratuitous reply claiming us
    lan.inject(frame_arp(1, other, IP_A, ZERO_MAC, IP_A))  # an announcement of our IP
    nic.poll()
    assert lan.take() == []
    assert moved(nic, before) == {"rx_frames": 3, "arp_rx": 3, "arp_conflict": 3}
    assert nic.stats()["arp_entries"] == 0


def test_multicast_sender_mac_rejected():
    nic, lan, clock = mock_stack()
    before = nic.stats()
    lan.inject(frame_arp(1, MAC_MCAST, IP_PEER, ZERO_MAC, IP_A))
    lan.inject(frame_arp(1, BCAST, "192.0.2.98", ZERO_MAC, IP_A))
    nic.poll()
    assert lan.take() == []
    d = moved(nic, before)
    assert d["arp_bad"] == 2 and "arp_tx" not in d and "tx_frames" not in d
    assert nic.stats()["arp_entries"] == 0
    # Nor may a multicast MAC answer our request.
    send_udp(nic, IP_PEER)
    lan.take()
    lan.inject(frame_arp(2, MAC_MCAST, IP_PEER, MAC_A, IP_A, dst_mac=MAC_A))
    nic.poll()
    assert lan.take() == []
    assert table(nic)[IP_PEER][1] == "pending"


# --- two stacks on a segment --------------------------------------------------------

def test_pair_resolve_each_other():
    seg, clock, a, b, pa, pb = support.pair()
    seg.run(10)
    a0 = a.stats()
    b0 = b.stats()
    assert a.ping(IP_B, timeout_ms=1000)[0] is not None
    ta = table(a)
    tb = table(b)
    assert ta == {IP_B: (mac_str(MAC_B), "valid")}
    assert tb == {IP_A: (mac_str(MAC_A), "valid")}
    da = moved(a, a0)
    db = moved(b, b0)
    assert da["arp_tx"] == 1 and da["arp_miss"] == 1 and da["arp_rx"] == 1
    assert db["arp_tx"] == 1 and db["arp_rx"] == 1 and "arp_miss" not in db
    # B now reaches A without asking.
    s = b.socket(AF_INET, SOCK_DGRAM)
    r = a.socket(AF_INET, SOCK_DGRAM)
    r.bind(("", 7000))
    b1 = b.stats()
    s.sendto(b"hi", (IP_A, 7000))
    r.settimeout(1)
    assert r.recvfrom(100) == (b"hi", (IP_B, s.getsockname()[1]))
    assert moved(b, b1).get("arp_tx", 0) == 0
    s.close()
    r.close()
