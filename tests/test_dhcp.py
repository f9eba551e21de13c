# DHCP client (RFC 2131/2132, RFC 5227 probing) on virtual time: the whole lease life
# cycle against boards/sim/dhcpd.py on a simulated segment, then byte-level cases on
# a MockLan (spoofed and mutated replies, option parsing edge cases).
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import struct

import support
from support import BCAST, IP_PEER, MAC_A, MAC_B, MAC_PEER, frame_arp, frame_udp, parse

from boards.sim.clock import VirtualClock
from boards.sim.dhcpd import DhcpServer, parse_options
from boards.sim.mocklan import MockLan
from boards.sim.rng import XorShift
from boards.sim.segment import Segment
import spinet
from spinet import config

MAC_SRV = b"\x02\x00\x00\x00\x00\x01"
SRV = "192.0.2.1"


def lab(lease=600, seed=1, pool=("192.0.2.100", 4), hostname="board", **kw):
    """A segment with a DHCP server and an active spinet client with DHCP on.
    Returns (seg, clock, srv, nic, port)."""
    clock = VirtualClock()
    seg = Segment(clock, seed=seed)
    srv = DhcpServer(seg.port(MAC_SRV, name="dhcpd"), clock, SRV, pool=pool, lease=lease,
                     **kw)
    seg.add_host(srv, srv.port)
    p = seg.port(MAC_A, name="client")
    nic = spinet.Interface(p, clock=clock.ticks_ms, hostname=hostname)
    seg.add_host(nic, p)
    nic.ipconfig(dhcp4=True)
    nic.active(True)
    return seg, clock, srv, nic, p


def bound(nic):
    return nic._dhcp.state == 5


def state(nic):
    return nic.dhcp_info()[0]


def requests(srv, since=0):
    return [m for m in srv.log if m["type"] == "REQUEST" and m["t"] >= since]


# --- the life cycle ------------------------------------------------------------------

def test_obtain_a_lease():
    seg, clock, srv, nic, p = lab(dns=("192.0.2.53", "192.0.2.54"))
    assert not nic.isconnected() and nic.status() == 1
    assert nic.ipconfig("dhcp4") and not nic.ipconfig("has_dhcp4")
    assert seg.run_until(lambda: bound(nic), 30000)
    assert nic.isconnected() and nic.status() == 2 and nic.ipconfig("has_dhcp4")
    assert nic.ipconfig("addr4") == ("192.0.2.100", "255.255.255.0")
    assert nic.ipconfig("gw4") == SRV
    assert nic.ifconfig() == ("192.0.2.100", "255.255.255.0", SRV, "192.0.2.53")
    assert nic._dns_list == [support.ip4("192.0.2.53"), support.ip4("192.0.2.54")]
    assert [m["type"] for m in srv.log] == ["DISCOVER", "REQUEST"]
    d, r = srv.log
    for m in (d, r):
        # RFC 2131 4.1: broadcast flag and source 0.0.0.0 before the address is ours.
        assert m["flags"] == 0x8000 and m["src_ip"] == "0.0.0.0" and m["dst_ip"] == \
            "255.255.255.255" and m["ciaddr"] == "0.0.0.0"
        assert m["hostname"] == "board" and m["chaddr"] == MAC_A
        assert m["options"][61] == b"\x01" + MAC_A  # client identifier
        assert set(m["options"][55]) >= {1, 3, 6, 51, 58, 59, 28, 26}
    assert d["xid"] == r["xid"]
    assert r["requested"] == "192.0.2.100" and r["server_id"] == SRV
    info = nic.dhcp_info()
    assert info[:6] == ("bound", "192.0.2.100", SRV, 600, 300, 525), info
    # ARP probes from 0.0.0.0 came first (RFC 5227), then an announcement.
    st = nic.stats()
    assert st["dhcp_offer"] == 1 and st["dhcp_ack"] == 1 and st["dhcp_tx"] == 2


def test_lease_life_cycle_renew_rebind_expire_rediscover():
    seg, clock, srv, nic, p = lab(lease=600)
    assert seg.run_until(lambda: bound(nic), 30000)
    t0 = clock.now
    # T1 = 300 s after the REQUEST (RFC 2131 4.4.1; probing took 1 s of it): a unicast
    # REQUEST from our address, ACKed: bound again.
    seg.run(298_000)
    assert requests(srv, t0) == [] and state(nic) == "bound"
    seg.run(2_000)
    r = requests(srv, t0)
    assert len(r) == 1 and r[0]["ciaddr"] == "192.0.2.100" and r[0]["src_ip"] == "192.0.2.100"
    assert r[0]["dst_ip"] == SRV and r[0]["dst_mac"] == MAC_SRV and r[0]["flags"] == 0
    assert r[0]["requested"] is None and r[0]["server_id"] is None  # RFC 2131 4.3.2
    assert state(nic) == "bound" and nic.dhcp_info()[6] <= 1
    # The server goes silent: renewing at T1, rebinding at T2, expiry at 600 s.
    srv.silent = True
    t1 = clock.now
    seg.run(300_000)
    assert state(nic) == "renewing" and nic.isconnected()
    seg.run(225_000)
    assert state(nic) == "rebinding" and nic.isconnected()
    seg.run(73_000)
    assert state(nic) == "rebinding" and nic.isconnected()
    r = requests(srv, t1)
    renew = [m for m in r if m["dst_ip"] == SRV]
    rebind = [m for m in r if m["dst_ip"] == "255.255.255.255"]
    assert len(renew) >= 2 and len(rebind) >= 1, r
    for m in rebind:
        assert m["ciaddr"] == "192.0.2.100" and m["flags"] == 0 and m["server_id"] is None
    # retransmissions: half the time left, never closer than 60 s (RFC 2131 4.4.5)
    ts = [m["t"] for m in r]
    for a, b in zip(ts, ts[1:]):
        assert b - a >= 52_000, ts  # 60 s, or cut short at T2
    seg.run(2_000)
    assert state(nic) in ("selecting", "init") and not nic.isconnected()
    assert nic.ipconfig("addr4") == ("0.0.0.0", "0.0.0.0") and nic.stats()["dhcp_expired"] == 1
    # The server returns: discovery finds it again.
    srv.silent = False
    assert seg.run_until(lambda: bound(nic), 120_000)
    assert nic.ipconfig("addr4")[0] == "192.0.2.100"
    assert srv.count("DISCOVER") >= 2


def test_nak_during_renew_restarts_discovery():
    seg, clock, srv, nic, p = lab(lease=600)
    assert seg.run_until(lambda: bound(nic), 30000)
    srv.nak_renew = True
    assert seg.run_until(lambda: nic.stats()["dhcp_nak"] == 1, 301_000)
    assert not nic.isconnected() and nic.ipconfig("addr4")[0] == "0.0.0.0"
    srv.nak_renew = False
    srv.leases.clear()
    srv.declined.append(support.ip4("192.0.2.100"))  # so the new lease differs
    assert seg.run_until(lambda: bound(nic), 30000)
    assert nic.ipconfig("addr4")[0] == "192.0.2.101"


def test_arp_probe_conflict_declines_and_takes_another_address():
    seg, clock, srv, nic, p = lab()
    squat = spinet.Interface(seg.port(MAC_B, name="squatter"), clock=clock.ticks_ms)
    squat.ifconfig(("192.0.2.100", "255.255.255.0", SRV, SRV))
    squat.active(True)
    seg.add_host(squat, seg.ports[-1])
    assert seg.run_until(lambda: bound(nic), 60000)
    st = nic.stats()
    assert st["dhcp_conflict"] == 1 and st["dhcp_decline"] == 1
    dec = srv.last("DECLINE")
    assert dec is not None and dec["requested"] == "192.0.2.100" and dec["server_id"] == SRV
    assert dec["src_ip"] == "0.0.0.0"
    # RFC 2131 3.1.5: at least 10 s before discovery starts again.
    again = [m for m in srv.log if m["type"] == "DISCOVER" and m["t"] > dec["t"]]
    assert again and again[0]["t"] - dec["t"] >= config.DHCP_DECLINE_WAIT_MS
    assert nic.ipconfig("addr4")[0] == "192.0.2.101"
    assert squat.ipconfig("addr4")[0] == "192.0.2.100"


def test_duplicate_offers_are_ignored_and_counted():
    seg, clock, srv, nic, p = lab()
    srv.dup_offer = True
    assert seg.run_until(lambda: bound(nic), 30000)
    st = nic.stats()
    assert st["dhcp_offer"] == 1 and st["dhcp_unexpected"] == 1
    assert srv.count("REQUEST") == 1


def test_wrong_xid_never_accepted():
    seg, clock, srv, nic, p = lab()
    srv.wrong_xid = True
    seg.run(60_000)
    assert not bound(nic) and not nic.isconnected()
    st = nic.stats()
    assert st["dhcp_bad_xid"] == st["dhcp_rx"] >= 3 and st["dhcp_offer"] == 0


def test_discover_backoff_doubles_with_jitter():
    seg, clock, srv, nic, p = lab()
    srv.silent = True
    seg.run(200_000)
    ts = [m["t"] for m in srv.log if m["type"] == "DISCOVER"]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    want = [4000, 8000, 16000, 32000, 64000]
    assert len(gaps) >= 5, gaps
    for g, w in zip(gaps, want):
        assert w - 1000 <= g <= w + 1000, gaps
    secs = [m["secs"] for m in srv.log]
    assert secs[0] == 0 and secs == sorted(secs) and secs[-1] > 100


def test_init_reboot_of_a_remembered_address():
    clock = VirtualClock()
    seg = Segment(clock, seed=2)
    srv = DhcpServer(seg.port(MAC_SRV), clock, SRV)
    seg.add_host(srv, srv.port)
    p = seg.port(MAC_A)
    nic = spinet.Interface(p, clock=clock.ticks_ms)
    seg.add_host(nic, p)
    nic.ipconfig(dhcp4=True, last4="192.0.2.102")
    nic.active(True)
    assert seg.run_until(lambda: bound(nic), 30000)
    assert nic.ipconfig("addr4")[0] == "192.0.2.102"
    m = srv.log[0]
    assert [x["type"] for x in srv.log] == ["REQUEST"]
    assert m["requested"] == "192.0.2.102" and m["server_id"] is None
    assert m["ciaddr"] == "0.0.0.0" and m["src_ip"] == "0.0.0.0"
    # A remembered address the server will not give: NAK, then discovery.
    nic.active(False)
    srv.leases.clear()
    nic.ipconfig(dhcp4=True, last4="192.0.2.250")
    nic.active(True)
    assert seg.run_until(lambda: bound(nic), 30000)
    assert nic.ipconfig("addr4")[0] == "192.0.2.100"
    assert [x["type"] for x in srv.log[-3:]] == ["REQUEST", "DISCOVER", "REQUEST"]
    assert srv.log[-3]["requested"] == "192.0.2.250"
    assert nic.stats()["dhcp_nak"] == 1


def test_release_on_active_false():
    seg, clock, srv, nic, p = lab()
    assert seg.run_until(lambda: bound(nic), 30000)
    assert MAC_A in srv.leases
    nic.active(False)
    seg.run(100)
    rel = srv.last("RELEASE")
    assert rel is not None and rel["ciaddr"] == "192.0.2.100" and rel["server_id"] == SRV
    assert rel["dst_ip"] == SRV and rel["src_ip"] == "192.0.2.100"
    assert MAC_A not in srv.leases
    assert nic.ipconfig("addr4")[0] == "0.0.0.0"
    # Active again: DHCP is still on and starts over.
    nic.active(True)
    assert seg.run_until(lambda: bound(nic), 30000)


def test_static_address_ends_dhcp():
    seg, clock, srv, nic, p = lab()
    assert seg.run_until(lambda: bound(nic), 30000)
    nic.ipconfig(addr4="192.0.2.9/24", gw4=SRV)
    seg.run(100)
    assert srv.last("RELEASE") is not None
    assert not nic.ipconfig("dhcp4") and nic.ipconfig("addr4") == ("192.0.2.9", "255.255.255.0")
    n = len(srv.log)
    seg.run(1_000_000)
    assert len(srv.log) == n and nic.ipconfig("addr4")[0] == "192.0.2.9"


def test_link_down_pauses_and_link_up_reconfirms():
    seg, clock, srv, nic, p = lab(lease=600)
    assert seg.run_until(lambda: bound(nic), 30000)
    p.link(False)
    n = len(srv.log)
    seg.run(30_000)
    assert len(srv.log) == n  # nothing sent into a dead link
    assert nic.status() == 0 and not nic.isconnected()
    p.link(True)
    seg.run(1_000)
    m = srv.log[-1]
    assert m["type"] == "REQUEST" and m["requested"] == "192.0.2.100"
    assert m["server_id"] is None and m["ciaddr"] == "0.0.0.0"  # INIT-REBOOT form
    assert bound(nic) and nic.isconnected() and nic.dhcp_info()[6] <= 1
    # Down during discovery: it waits, and restarts at once when the link is back.
    nic.active(False)
    srv.silent = True
    nic.active(True)
    seg.run(10_000)
    p.link(False)
    seg.run(100_000)
    n = len(srv.log)
    seg.run(100_000)
    assert len(srv.log) == n
    srv.silent = False
    p.link(True)
    assert seg.run_until(lambda: bound(nic), 5_000)


def test_link_down_through_expiry():
    seg, clock, srv, nic, p = lab(lease=120)
    assert seg.run_until(lambda: bound(nic), 30000)
    p.link(False)
    seg.run(125_000)
    assert nic.stats()["dhcp_expired"] == 1 and nic.ipconfig("addr4")[0] == "0.0.0.0"
    p.link(True)
    assert seg.run_until(lambda: bound(nic), 30000)


def test_forced_renew():
    seg, clock, srv, nic, p = lab(lease=600)
    assert not nic.dhcp_renew()  # no lease yet
    assert seg.run_until(lambda: bound(nic), 30000)
    seg.run(50_000)
    assert nic.dhcp_renew()
    seg.run(100)
    r = srv.log[-1]
    assert r["type"] == "REQUEST" and r["ciaddr"] == "192.0.2.100" and r["dst_ip"] == SRV
    assert bound(nic) and nic.dhcp_info()[6] == 0
    assert nic.stats()["dhcp_renew"] == 1


def test_ifconfig_dhcp_blocks_until_bound_or_times_out():
    clock = VirtualClock()
    seg = Segment(clock)
    srv = DhcpServer(seg.port(MAC_SRV), clock, SRV)
    seg.add_host(srv, srv.port)
    p = seg.port(MAC_A)
    nic = spinet.Interface(p, clock=clock.ticks_ms)
    seg.add_host(nic, p)
    nic.active(True)
    nic.ifconfig("dhcp")
    assert nic.isconnected() and nic.ifconfig()[0] == "192.0.2.100"
    nic.active(False)
    srv.silent = True
    nic.active(True)
    t0 = clock.now
    try:
        nic.ifconfig("dhcp")
        raise AssertionError("no timeout")
    except OSError as e:
        assert "timeout" in str(e)
    assert 10_000 <= clock.now - t0 <= 11_000


def test_options_overloaded_padded_and_unknown():
    seg, clock, srv, nic, p = lab(mtu=1400, t1=100, t2=200,
                                  dns=("192.0.2.53", "192.0.2.54", "192.0.2.55", "192.0.2.56"))
    srv.overload = True
    srv.extra_opts = b"\x00\x00\xfa\x03abc\x00\x2b\x00"  # pads, unknown 250, empty 43
    assert seg.run_until(lambda: bound(nic), 30000)
    assert nic.ipconfig("addr4") == ("192.0.2.100", "255.255.255.0")
    assert nic.dhcp_info()[3:6] == (600, 100, 200)
    assert len(nic._dns_list) == config.DNS_SERVERS  # the first three
    assert nic.mtu == 1400
    nic.active(False)
    assert nic.mtu == 1500


def test_bad_t1_t2_fall_back_to_defaults():
    seg, clock, srv, nic, p = lab(lease=1000, t1=900, t2=800)  # T1 > T2: invalid
    assert seg.run_until(lambda: bound(nic), 30000)
    assert nic.dhcp_info()[3:6] == (1000, 500, 800)  # T1 = lease / 2


# --- byte-level cases on a MockLan ----------------------------------------------------

def mock():
    nic, lan, clock = support.mock_stack(ip=None)
    nic.ipconfig(dhcp4=True)
    nic.poll()
    return nic, lan, clock


def sent_dhcp(lan):
    out = []
    for f in lan.take():
        d = parse(f)
        if d["type"] == 0x0800 and d["proto"] == 17 and d["dport"] == 67:
            out.append(d)
    return out


def reply(req, mtype, yiaddr="192.0.2.100", server=SRV, lease=600, xid=None, opts=b"",
          chaddr=None, op=2):
    head = bytearray(240)
    head[0] = op
    head[1] = 1
    head[2] = 6
    head[4:8] = req[4:8] if xid is None else xid
    head[16:20] = support.ip4(yiaddr)
    head[28:34] = req[28:34] if chaddr is None else chaddr
    head[236:240] = b"\x63\x82\x53\x63"
    o = bytes((53, 1, mtype, 54, 4)) + support.ip4(server)
    if mtype != 6:
        o += bytes((51, 4)) + struct.pack(">I", lease) + bytes((1, 4, 255, 255, 255, 0))
    return bytes(head) + o + opts + b"\xff" + bytes(40)


def inject(nic, lan, payload, src=SRV, sport=67, dport=68):
    lan.inject(frame_udp(sport, dport, payload, src_ip=src, dst_ip="255.255.255.255",
                         dst_mac=BCAST))
    nic.poll()


def test_offer_from_wrong_port_or_for_another_mac_is_dropped():
    nic, lan, clock = mock()
    (d,) = sent_dhcp(lan)
    req = d["data"]
    inject(nic, lan, reply(req, 2), sport=1067)
    inject(nic, lan, reply(req, 2, chaddr=MAC_PEER))
    inject(nic, lan, reply(req, 2, op=1))
    inject(nic, lan, reply(req, 2, server="0.0.0.0")[:200])
    inject(nic, lan, reply(req, 2, yiaddr="224.0.0.5"))
    inject(nic, lan, reply(req, 2, yiaddr="0.0.0.0"))
    st = nic.stats()
    assert st["dhcp_bad_port"] == 1 and st["dhcp_bad_chaddr"] == 1
    assert st["dhcp_malformed"] == 2 and st["dhcp_bad_addr"] == 2
    assert state(nic) == "selecting" and sent_dhcp(lan) == []
    inject(nic, lan, reply(req, 2))
    (r,) = sent_dhcp(lan)
    assert parse_options(r["data"])[53] == b"\x03"


def test_spoofed_nak_during_renew_is_ignored():
    nic, lan, clock = mock()
    (d,) = sent_dhcp(lan)
    inject(nic, lan, reply(d["data"], 2))
    (r,) = sent_dhcp(lan)
    inject(nic, lan, reply(r["data"], 5))
    for _ in range(4):
        clock.advance(400)
        nic.poll()
    assert bound(nic)
    lan.take()
    support.learn_peer(nic, lan, peer_ip=SRV)
    assert nic.dhcp_renew()
    (rq,) = sent_dhcp(lan)
    assert rq["dst_ip"] == SRV
    nak_wrong_server = reply(rq["data"], 6, server="192.0.2.66")
    inject(nic, lan, nak_wrong_server)
    nak = reply(rq["data"], 6)
    inject(nic, lan, nak[:243] + bytes(6) + nak[249:])  # option 54 padded out
    nak_wrong_xid = reply(rq["data"], 6, xid=b"\x01\x02\x03\x04")
    inject(nic, lan, nak_wrong_xid)
    st = nic.stats()
    assert st["dhcp_bad_server"] == 2 and st["dhcp_bad_xid"] == 1 and st["dhcp_nak"] == 0
    assert state(nic) == "renewing" and nic.isconnected()
    inject(nic, lan, reply(rq["data"], 6))  # the real server's NAK
    assert nic.stats()["dhcp_nak"] == 1 and not nic.isconnected()


def test_probe_conflict_seen_from_a_simultaneous_prober():
    nic, lan, clock = mock()
    (d,) = sent_dhcp(lan)
    inject(nic, lan, reply(d["data"], 2))
    (r,) = sent_dhcp(lan)
    inject(nic, lan, reply(r["data"], 5))
    probes = [parse(f) for f in lan.take()]
    assert probes and probes[0]["type"] == 0x0806 and probes[0]["spa"] == "0.0.0.0"
    assert probes[0]["tpa"] == "192.0.2.100" and probes[0]["dst"] == BCAST
    # Another host probing for the same address (RFC 5227 2.1.1).
    lan.inject(frame_arp(1, MAC_PEER, "0.0.0.0", b"\x00" * 6, "192.0.2.100"))
    nic.poll()
    (dec,) = sent_dhcp(lan)
    o = parse_options(dec["data"])
    assert o[53] == b"\x04" and o[50] == support.ip4("192.0.2.100")
    assert state(nic) == "declined" and not nic.isconnected()


def option_flood(seed, n):
    """Seeded random option bytes: codes and lengths anywhere, some overruns."""
    rng = XorShift(seed)
    out = bytearray()
    for _ in range(n):
        c = rng.below(256)
        out.append(c)
        if c in (0, 255):
            continue
        ln = rng.below(12)
        out.append(ln)
        for _ in range(ln if rng.below(10) else ln // 2):
            out.append(rng.below(256))
    return bytes(out)


def test_mutated_replies_never_crash_and_are_counted():
    nic, lan, clock = mock()
    (d,) = sent_dhcp(lan)
    req = d["data"]
    good = reply(req, 2)
    rng = XorShift(99)
    n = 0
    for i in range(300):
        b = bytearray(good)
        kind = i % 3
        if kind == 0:  # flip bytes outside the xid/chaddr (those are spoof checks)
            for _ in range(1 + rng.below(6)):
                k = rng.below(len(b))
                if not (4 <= k < 8 or 28 <= k < 34):
                    b[k] ^= 1 + rng.below(255)
        elif kind == 1:  # truncate
            b = b[:rng.below(len(b))]
        else:  # random options after the cookie
            b = b[:240] + option_flood(i, 1 + rng.below(20))
        # never a valid OFFER from this server with type 2 intact: change the type
        # so nothing is accepted, unless the mutation hit it anyway
        if len(b) > 242 and b[240] == 53 and b[242] == 2 and kind != 2:
            b[242] = 9
        inject(nic, lan, bytes(b))
        n += 1
    st = nic.stats()
    handled = (st["dhcp_bad_port"] + st["dhcp_malformed"] + st["dhcp_bad_option"]
               + st["dhcp_bad_xid"] + st["dhcp_bad_chaddr"] + st["dhcp_unexpected"]
               + st["dhcp_bad_server"] + st["dhcp_bad_addr"] + st["dhcp_offer"])
    assert handled == st["dhcp_rx"], st
    assert st["dhcp_rx"] + st["udp_no_port"] + st["udp_bad_length"] <= n
    assert st["dhcp_malformed"] > 50 and st["dhcp_bad_option"] + st["dhcp_unexpected"] > 0


def test_first_message_and_overrun_option():
    nic, lan, clock = mock()
    (d,) = sent_dhcp(lan)
    assert d["dst"] == BCAST and d["src_ip"] == "0.0.0.0" and d["dst_ip"] == "255.255.255.255"
    assert d["sport"] == 68 and d["udp_csum_ok"] and len(d["data"]) >= 300
    o = parse_options(d["data"])
    assert o[53] == b"\x01" and o[57] == struct.pack(">H", 1500) and o[12] == b"spinet"
    req = d["data"]
    # An option whose length runs past the end of the message: malformed.
    bad = reply(req, 2)[:-41] + b"\x0c\x50abc"
    inject(nic, lan, bad)
    # The subnet-mask option with the wrong length: refused.
    inject(nic, lan, reply(req, 2, opts=b"\x03\x03\x01\x02\x03"))  # router, length 3
    st = nic.stats()
    assert st["dhcp_malformed"] == 1 and st["dhcp_bad_option"] == 1 and st["dhcp_offer"] == 0
    assert IP_PEER  # (support import kept for the helpers above)


def test_dhcp4_true_again_keeps_the_lease():
    seg, clock, srv, nic, p = lab()
    assert seg.run_until(lambda: bound(nic), 30000)
    n = len(srv.log)
    nic.ipconfig(dhcp4=True)
    seg.run(1000)
    assert bound(nic) and len(srv.log) == n
