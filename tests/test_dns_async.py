# `await spinet.dns.getaddrinfo(host, port)`: the resolver without blocking the event
# loop. Another task keeps running while the query is out; results and errors are the
# blocking getaddrinfo()'s. A simulated segment (virtual time) carries the queries to
# boards/sim/dnsd.py; a task of the test's own runs the segment.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import asyncio

from support import IP_A

from boards.sim.clock import VirtualClock
from boards.sim.dnsd import DnsServer
from boards.sim.segment import Segment
import spinet
from spinet import config, dns
from spinet import socket as ssock

NS1 = "192.0.2.53"
NS2 = "192.0.2.54"


def lab(servers=1):
    clock = VirtualClock()
    seg = Segment(clock, seed=3)
    srvs = []
    for i, ip in enumerate((NS1, NS2)[:servers]):
        s = DnsServer(seg.port(bytes((2, 0, 0, 0, 0, 0x53 + i)), name=ip), clock, ip)
        s.a["www.example.test"] = ("192.0.2.80", 300)
        s.a["mqtt.example.test"] = ("192.0.2.81", 300)
        s.cname["alias.example.test"] = ("www.example.test", 60)
        seg.add_host(s, s.port)
        srvs.append(s)
    p = seg.port(b"\x02\x00\x00\x00\x00\x0a", name="client")
    nic = spinet.Interface(p, clock=clock.ticks_ms)
    seg.add_host(nic, p)
    nic.ifconfig((IP_A, "255.255.255.0", "192.0.2.1", NS1))
    if servers > 1:
        nic.ipconfig(dns=(NS1, NS2))
    nic.active(True)
    return seg, clock, nic, srvs


def run_with_wire(seg, clock, coro_fn):
    """Run coro_fn() as the main task, with a task moving the segment (10 virtual ms
    a step) and one counting its own turns (the virtual time of each). Returns
    (result, turns)."""
    state = {"done": False}
    turns = []

    async def wire():
        while not state["done"]:
            seg.run(10)
            await asyncio.sleep(0)

    async def other():
        while not state["done"]:
            turns.append(clock.now)
            await asyncio.sleep(0)

    async def main():
        w = asyncio.create_task(wire())
        o = asyncio.create_task(other())
        try:
            return await coro_fn()
        finally:
            state["done"] = True
            await w
            await o

    return asyncio.run(main()), turns


def test_other_task_runs_while_the_query_is_out():
    seg, clock, nic, (s1,) = lab()
    s1.delay_ms = 300  # the answer comes 300 virtual ms after the query
    t = {}

    async def go():
        t[0] = clock.now
        ai = await dns.getaddrinfo("www.example.test", 8883)
        t[1] = clock.now
        return ai

    ai, turns = run_with_wire(seg, clock, go)
    assert ai == [(2, 1, 0, "", ("192.0.2.80", 8883))]
    assert ai == ssock.getaddrinfo("www.example.test", 8883)  # the blocking one agrees
    # (The resolver checks every _POLL_MS of real time while the wire task races
    # virtual time on, so only the lower bound means something here.)
    assert t[1] - t[0] >= 300
    assert len(s1.queries) == 1 and s1.queries[0][0] == "www.example.test"
    during = [x for x in turns if t[0] < x < t[0] + 300]
    assert len(during) >= 10, len(during)  # the other task ran while the query was out
    assert nic.stats()["dns_cache_hit"] == 1  # the blocking call above was a cache hit


def test_errors_are_the_blocking_ones():
    seg, clock, nic, (s1,) = lab()

    async def nxdomain():
        try:
            await dns.getaddrinfo("nope.example.test", 80)
        except OSError as e:
            return e.args[0]
        return None

    assert run_with_wire(seg, clock, nxdomain)[0] == -2
    s1.mode = "silent"
    t0 = clock.now

    async def silent():
        try:
            await dns.getaddrinfo("mqtt.example.test", 80)
        except OSError as e:
            return e.args[0]
        return None

    assert run_with_wire(seg, clock, silent)[0] == -3
    assert clock.now - t0 >= config.DNS_ROUNDS * config.DNS_TIMEOUT_MS
    assert [q[0] for q in s1.queries[1:]] == ["mqtt.example.test"] * config.DNS_ROUNDS


def test_numeric_cname_failover_and_turns():
    seg, clock, nic, (s1, s2) = lab(servers=2)
    s1.mode = "silent"  # the second server answers, after DNS_TIMEOUT_MS

    async def go():
        a = await dns.getaddrinfo("192.0.2.7", 1)  # dotted quad: no query
        assert s1.queries == []
        # Two resolutions at once take turns on the one query slot.
        t1 = asyncio.create_task(dns.getaddrinfo("alias.example.test", 80))
        t2 = asyncio.create_task(dns.getaddrinfo("mqtt.example.test", 81, 0, ssock.SOCK_DGRAM))
        b = await t1
        c = await t2
        return a, b, c

    (a, b, c), turns = run_with_wire(seg, clock, go)
    assert a == [(2, 1, 0, "", ("192.0.2.7", 1))]
    assert b[0][-1] == ("192.0.2.80", 80)
    assert c == [(2, 2, 0, "", ("192.0.2.81", 81))]
    assert sorted(q[0] for q in s2.queries) == ["alias.example.test", "mqtt.example.test"]


def test_cancelled_lookup_frees_the_resolver():
    seg, clock, nic, (s1,) = lab()
    s1.mode = "silent"

    async def go():
        t = asyncio.create_task(dns.getaddrinfo("www.example.test", 80))
        for _ in range(20):
            await asyncio.sleep(0)
        assert dns.resolver(nic).busy
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass
        assert not dns.resolver(nic).busy and dns.resolver(nic).port == 0
        s1.mode = None
        return await dns.getaddrinfo("www.example.test", 80)

    ai, turns = run_with_wire(seg, clock, go)
    assert ai[0][-1] == ("192.0.2.80", 80)
