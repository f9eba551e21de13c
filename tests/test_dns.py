# DNS resolver (RFC 1035, RFC 5452) and getaddrinfo() on virtual time, against
# boards/sim/dnsd.py servers on a simulated segment, then byte-level cases (spoofed,
# malformed and mutated answers) straight into the input path on a MockLan.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import struct

import support
from support import IP_A, MAC_A, frame_udp, parse, raises

from boards.sim.clock import VirtualClock
from boards.sim.dhcpd import DhcpServer
from boards.sim.dnsd import DnsServer, encode
from boards.sim.rng import XorShift
from boards.sim.segment import Segment
import spinet
from spinet import config, dns
from spinet import socket as ssock

NS1 = "192.0.2.53"
NS2 = "192.0.2.54"
MAC_NS1 = b"\x02\x00\x00\x00\x00\x53"
MAC_NS2 = b"\x02\x00\x00\x00\x00\x54"


def zone(srv):
    srv.a["www.example.test"] = ("192.0.2.80", 300)
    srv.a["short.example.test"] = ("192.0.2.81", 30)
    srv.cname["alias.example.test"] = ("mid.example.test", 600)
    srv.cname["mid.example.test"] = ("www.example.test", 120)
    srv.cname["ping.example.test"] = ("pong.example.test", 60)
    srv.cname["pong.example.test"] = ("ping.example.test", 60)


def lab(servers=2, seed=1):
    """A segment with DNS servers NS1 (and NS2) and a client that uses them.
    Returns (seg, clock, nic, [servers])."""
    clock = VirtualClock()
    seg = Segment(clock, seed=seed)
    srvs = []
    for ip, mac in ((NS1, MAC_NS1), (NS2, MAC_NS2))[:servers]:
        s = DnsServer(seg.port(mac, name=ip), clock, ip)
        zone(s)
        seg.add_host(s, s.port)
        srvs.append(s)
    p = seg.port(MAC_A, name="client")
    nic = spinet.Interface(p, clock=clock.ticks_ms)
    seg.add_host(nic, p)
    nic.ifconfig((IP_A, "255.255.255.0", "192.0.2.1", NS1))
    if servers > 1:
        nic.ipconfig(dns=(NS1, NS2))
    nic.active(True)
    return seg, clock, nic, srvs


def lookup(host, port=80):
    return ssock.getaddrinfo(host, port)[0][-1][0]


def test_answer_and_getaddrinfo_shape():
    seg, clock, nic, (s1, s2) = lab()
    assert ssock.getaddrinfo("www.example.test", 80) == [(2, 1, 0, "", ("192.0.2.80", 80))]
    assert ssock.getaddrinfo("WWW.Example.Test.", 53, 0, ssock.SOCK_DGRAM) == \
        [(2, 2, 0, "", ("192.0.2.80", 53))]  # the second one from the cache
    assert len(s1.queries) == 1 and s2.queries == []
    st = nic.stats()
    assert st["dns_tx"] == 1 and st["dns_rx"] == 1 and st["dns_cache_hit"] == 1
    # Random id and source port per query (RFC 5452 9.2).
    nic._dns_res.flush()
    lookup("www.example.test")
    (n1, id1, p1), (n2, id2, p2) = s1.queries
    assert n1 == n2 == "www.example.test"
    assert (id1, p1) != (id2, p2)
    assert config.EPHEMERAL_FIRST <= p1 <= config.EPHEMERAL_LAST
    assert nic.netstat() == []  # no socket left behind; the port is free again
    assert not nic._port_in_use(2, p2)


def test_dotted_quad_needs_no_query():
    seg, clock, nic, (s1, s2) = lab()
    assert ssock.getaddrinfo("192.0.2.7", 443) == [(2, 1, 0, "", ("192.0.2.7", 443))]
    assert s1.queries == [] and nic.stats().get("dns_tx", 0) == 0
    raises(-2, ssock.getaddrinfo, "bad..name", 80)
    raises(-2, ssock.getaddrinfo, "x" * 64 + ".test", 80)
    raises(-2, ssock.getaddrinfo, "", 80)
    assert s1.queries == []


def test_cname_chain_in_one_answer():
    seg, clock, nic, (s1, s2) = lab()
    assert lookup("alias.example.test") == "192.0.2.80"
    assert [q[0] for q in s1.queries] == ["alias.example.test"]
    assert nic.stats()["dns_cname"] == 2
    # cached under the name asked, for the shortest TTL along the chain (120 s)
    (name, addr, left), = [e for e in nic._dns_res.entries(nic._now())
                           if e[0] == "alias.example.test"]
    assert addr == "192.0.2.80" and 119 <= left <= 120


def test_cname_not_chased_is_asked_again():
    seg, clock, nic, (s1, s2) = lab()
    s1.chase = False
    assert lookup("alias.example.test") == "192.0.2.80"
    assert [q[0] for q in s1.queries] == ["alias.example.test", "mid.example.test",
                                          "www.example.test"]


def test_cname_loop_is_bounded():
    seg, clock, nic, (s1, s2) = lab()
    raises(-4, lookup, "ping.example.test")
    assert nic.stats()["dns_cname"] == config.DNS_CNAME_MAX + 1
    s1.chase = False
    s1.queries = []
    raises(-4, lookup, "ping.example.test")
    assert len(s1.queries) == config.DNS_CNAME_MAX + 1


def test_nxdomain_is_oserror():
    seg, clock, nic, (s1, s2) = lab()
    e = raises(-2, lookup, "nope.example.test")
    assert isinstance(e, OSError)
    assert nic.stats()["dns_nxdomain"] == 1 and s2.queries == []  # no failover


def test_timeout_fails_over_to_the_second_server():
    seg, clock, nic, (s1, s2) = lab()
    s1.mode = "silent"
    t0 = clock.now
    assert lookup("www.example.test") == "192.0.2.80"
    assert config.DNS_TIMEOUT_MS <= clock.now - t0 < config.DNS_TIMEOUT_MS + 100
    assert len(s1.queries) == 1 and len(s2.queries) == 1
    assert s1.queries[0][1:] != s2.queries[0][1:]  # a new id and port for each server
    assert nic.stats()["dns_timeout"] == 1
    # Nobody answers: EAI_AGAIN after DNS_ROUNDS passes over both servers.
    s2.mode = "silent"
    t0 = clock.now
    raises(-3, lookup, "short.example.test")
    assert clock.now - t0 >= 2 * config.DNS_ROUNDS * config.DNS_TIMEOUT_MS
    assert len(s1.queries) == 1 + config.DNS_ROUNDS


def test_servfail_tries_the_next_server():
    seg, clock, nic, (s1, s2) = lab()
    s1.mode = "servfail"
    assert lookup("www.example.test") == "192.0.2.80"
    assert nic.stats()["dns_rcode"] == 1 and len(s2.queries) == 1
    s2.mode = "servfail"
    raises(-4, lookup, "short.example.test")


def test_cache_expires_by_ttl():
    seg, clock, nic, (s1, s2) = lab()
    assert lookup("short.example.test") == "192.0.2.81"  # TTL 30 s
    seg.run(29_000)
    assert lookup("short.example.test") == "192.0.2.81"
    assert len(s1.queries) == 1
    seg.run(1_500)
    s1.a["short.example.test"] = ("192.0.2.82", 30)
    assert lookup("short.example.test") == "192.0.2.82"
    assert len(s1.queries) == 2


def test_huge_ttl_is_capped_and_negative_ttl_not_cached():
    seg, clock, nic, (s1, s2) = lab()
    s1.a["huge.example.test"] = ("192.0.2.90", 0x7FFFFFFF)
    s1.a["neg.example.test"] = ("192.0.2.91", 0x80000000)  # RFC 2181 8: means 0
    assert lookup("huge.example.test") == "192.0.2.90"
    assert lookup("neg.example.test") == "192.0.2.91"
    ents = dict((e[0], e[2]) for e in nic._dns_res.entries(nic._now()))
    assert ents["huge.example.test"] == config.DNS_TTL_MAX_S
    assert "neg.example.test" not in ents


def test_cache_is_bounded():
    seg, clock, nic, (s1, s2) = lab()
    for i in range(10):
        s1.a["h%d.example.test" % i] = ("192.0.2.%d" % (100 + i), 300)
        assert lookup("h%d.example.test" % i) == "192.0.2.%d" % (100 + i)
    assert len(nic._dns_res.entries(nic._now())) == config.DNS_CACHE_ENTRIES
    lookup("h9.example.test")
    assert nic.stats()["dns_cache_hit"] == 1


def test_truncated_answer_is_a_failure():
    seg, clock, nic, (s1, s2) = lab()
    s1.mode = "truncate"
    raises(-4, lookup, "www.example.test")
    assert nic.stats()["dns_truncated"] == 1 and s2.queries == []


def test_compression_loop_and_cut_answers_are_malformed():
    for mode in ("loop", "garbage"):
        seg, clock, nic, (s1, s2) = lab()
        s1.mode = mode
        assert lookup("www.example.test") == "192.0.2.80"  # from NS2 after the timeout
        st = nic.stats()
        assert st["dns_malformed"] == 1 and st["dns_timeout"] == 1, (mode, st)


def test_spoofed_answers_are_ignored_and_counted():
    for mode, counter in (("wrong_id", "dns_bad_id"), ("wrong_port", "dns_bad_source"),
                          ("wrong_src", "dns_bad_source"), ("unasked", "dns_unasked")):
        seg, clock, nic, (s1, s2) = lab()
        s1.mode = mode
        assert lookup("www.example.test") == "192.0.2.80", mode
        st = nic.stats()
        assert st[counter] == 1 and st["dns_timeout"] == 1, (mode, st)
        # The spoofed answer was not cached: the real one was.
        assert nic._dns_res.cached("evil.example.test", nic._now()) is None


def test_no_servers_configured():
    seg, clock, nic, (s1,) = lab(servers=1)
    nic.ifconfig((IP_A, "255.255.255.0", "192.0.2.1", "0.0.0.0"))
    raises(-3, lookup, "www.example.test")
    assert s1.queries == []


def test_servers_from_dhcp():
    clock = VirtualClock()
    seg = Segment(clock, seed=4)
    srv = DhcpServer(seg.port(b"\x02\x00\x00\x00\x00\x01"), clock, "192.0.2.1",
                     dns=(NS2, NS1))
    seg.add_host(srv, srv.port)
    ns = []
    for ip, mac in ((NS1, MAC_NS1), (NS2, MAC_NS2)):
        s = DnsServer(seg.port(mac), clock, ip)
        zone(s)
        seg.add_host(s, s.port)
        ns.append(s)
    p = seg.port(MAC_A)
    nic = spinet.Interface(p, clock=clock.ticks_ms)
    seg.add_host(nic, p)
    nic.active(True)
    nic.ifconfig("dhcp")
    assert nic.ifconfig()[3] == NS2
    ns[1].mode = "silent"
    assert lookup("www.example.test") == "192.0.2.80"
    assert len(ns[1].queries) == 1 and len(ns[0].queries) == 1


# --- byte-level cases: answers straight into the input path --------------------------

def pending(name="www.example.test"):
    """A MockLan stack with a query for name outstanding (sent, not yet answered).
    Returns (nic, lan, resolver, query payload, source port)."""
    nic, lan, clock = support.mock_stack(gw="192.0.2.1")
    nic.ipconfig(dns=NS1)
    support.learn_peer(nic, lan, peer_ip=NS1)
    r = dns.resolver(nic)
    r._qlen = dns.wdns.encode(name, r._q, 0)
    r._send(support.ip4(NS1))
    (f,) = [parse(x) for x in lan.take()]
    assert f["dport"] == 53 and f["dst_ip"] == NS1 and f["udp_csum_ok"]
    return nic, lan, r, f["data"], f["sport"]


def answer(query, rrs=b"", flags=0x8180, an=None, qd=1, ident=None):
    q = query[12:]
    h = struct.pack(">HHHHHH", (query[0] << 8 | query[1]) if ident is None else ident, flags,
                    qd, an if an is not None else (1 if rrs else 0), 0, 0)
    return h + q + rrs


def a_rr(owner=b"\xc0\x0c", addr="192.0.2.80", ttl=60):
    return owner + struct.pack(">HHIH", 1, 1, ttl, 4) + support.ip4(addr)


def give(nic, lan, data, sport=53, src=NS1, dport=None, r=None):
    lan.inject(frame_udp(sport, dport if dport is not None else r.port, data, src_ip=src))
    nic.poll()


def test_query_bytes():
    nic, lan, r, q, port = pending("Www.Example.TEST")
    assert q[2] == 0x01 and q[3] == 0 and q[4:12] == b"\x00\x01\x00\x00\x00\x00\x00\x00"
    assert q[12:] == encode("Www.Example.TEST") + b"\x00\x01\x00\x01"
    assert port == r.port and nic._port_in_use(2, port)


def test_answers_for_names_not_asked_are_ignored():
    nic, lan, r, q, port = pending()
    # another question echoed back
    other = struct.pack(">HHHHHH", (q[0] << 8) | q[1], 0x8180, 1, 1, 0, 0) + \
        encode("www.example.tesu") + b"\x00\x01\x00\x01" + a_rr()
    give(nic, lan, other, r=r)
    # our question, but the only A record is for another name
    rr = encode("evil.example.test") + struct.pack(">HHIH", 1, 1, 60, 4) + b"\x01\x02\x03\x04"
    give(nic, lan, answer(q, rr), r=r)
    st = nic.stats()
    assert st["dns_unasked"] == 1
    assert r.result == dns.R_NODATA  # nothing usable: no address taken
    # with the right record too: the right one wins, the other is counted
    nic, lan, r, q, port = pending()
    give(nic, lan, answer(q, rr + a_rr(), an=2), r=r)
    assert r.result == dns.R_OK and bytes(r.addr) == support.ip4("192.0.2.80")
    assert nic.stats()["dns_unasked_rr"] == 1


def test_spoofed_port_id_and_source():
    nic, lan, r, q, port = pending()
    good = answer(q, a_rr())
    give(nic, lan, good, sport=5353, r=r)
    give(nic, lan, good, src="192.0.2.66", r=r)
    give(nic, lan, answer(q, a_rr(), ident=((q[0] << 8) | q[1]) ^ 1), r=r)
    give(nic, lan, good, dport=port ^ 1, r=r)  # to another port: nobody's
    st = nic.stats()
    assert st["dns_bad_source"] == 2 and st["dns_bad_id"] == 1 and st["udp_no_port"] == 1
    assert r.result == dns.R_WAIT
    give(nic, lan, good, r=r)
    assert r.result == dns.R_OK
    give(nic, lan, good, r=r)  # a duplicate after the answer
    assert nic.stats()["dns_late"] == 1


def test_pointer_rules():
    nic, lan, r, q, port = pending()
    # forward pointer, self pointer, pointer out of the message, 0x40 label type
    end = 12 + len(q) - 12
    for owner in (struct.pack(">H", 0xC000 | (end + 2)), struct.pack(">H", 0xC000 | end),
                  b"\xff\xff", b"\x41abc\x00"):
        give(nic, lan, answer(q, a_rr(owner)), r=r)
    # a chain of pointers each pointing back to the previous one: bounded
    chain = b""
    cbase = end + 12  # where the chain sits: the rdata of a TXT record
    n = 2 * config.DNS_CNAME_MAX + 20
    for i in range(n):
        chain += struct.pack(">H", 0xC000 | (12 if i == 0 else cbase + 2 * (i - 1)))
    # then an A record whose owner enters the chain at its top
    txt = b"\xc0\x0c" + struct.pack(">HHIH", 16, 1, 60, len(chain)) + chain
    top = cbase + 2 * (n - 1)
    give(nic, lan, answer(q, txt + a_rr(struct.pack(">H", 0xC000 | top)), an=2), r=r)
    assert nic.stats()["dns_malformed"] == 5 and r.result == dns.R_WAIT


def test_mutated_answers_never_crash():
    rng = XorShift(7)
    nic, lan, r, q, port = pending("alias.example.test")
    good = answer(q, b"\xc0\x0c" + struct.pack(">HHIH", 5, 1, 60, 18) +
                  encode("www.example.test") + a_rr(b"\xc0\x24"), an=2)
    tried = 0
    for i in range(400):
        b = bytearray(good)
        if i % 2:
            for _ in range(1 + rng.below(4)):
                k = 2 + rng.below(len(b) - 2)  # keep the id
                b[k] = rng.below(256)
        else:
            b = b[:2 + rng.below(len(b) - 2)]
        r.result = dns.R_WAIT
        give(nic, lan, bytes(b), r=r)
        tried += 1
        assert r.result in (dns.R_WAIT, dns.R_OK, dns.R_CNAME, dns.R_NXDOMAIN, dns.R_NODATA,
                            dns.R_FAIL, dns.R_REFUSED)
        if r.result == dns.R_OK:
            assert bytes(r.addr) in (support.ip4("192.0.2.80"), bytes(b[-4:]))
    st = nic.stats()
    assert st["dns_rx"] == tried - st["udp_bad_length"]
    assert st["dns_malformed"] > 0
