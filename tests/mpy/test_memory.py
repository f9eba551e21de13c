# Memory on the MicroPython unix port (only tests/mprun.py runs this folder).
#
# - The per-frame helpers (checksum, Ethernet/IPv4 parse and build, ARP cache lookup)
#   run under micropython.heap_lock(): any allocation raises MemoryError.
# - Answering pings in steady state does not grow the heap, and the bytes allocated
#   per ping (gc disabled) are printed.

import gc

import micropython

from spinet.wire import arp as warp
from spinet.wire import ethernet, ipv4
from spinet.wire.checksum import checksum, pseudo_sum, sum16

import support


def _locked(fn, a=None, b=None, c=None, d=None):
    # Positional arguments only: a *args call would allocate its tuple.
    micropython.heap_lock()
    try:
        if a is None:
            return fn()
        if c is None:
            return fn(a, b)
        if d is None:
            return fn(a, b, c)
        return fn(a, b, c, d)
    finally:
        micropython.heap_unlock()


def test_checksum_does_not_allocate():
    b = bytearray(1600)
    for i in range(1600):
        b[i] = (i * 7) & 0xFF
    for n in (0, 1, 20, 1460, 1500):
        for off in (0, 1, 2):
            assert _locked(sum16, b, off, n) == support.csum(b[off:off + n]) ^ 0xFFFF or n == 0
    _locked(checksum, b, 2, 1480, 0x1234)
    _locked(pseudo_sum, b, 16, 17, 1000)


def test_ethernet_and_ipv4_helpers_do_not_allocate():
    f = bytearray(2) + bytearray(support.frame_udp(1000, 2000, b"x" * 100))
    mac = support.MAC_A
    ip_off = 2 + ethernet.HDR_LEN

    def parse():
        et = ethernet.ethertype(f, 2)
        g = ethernet.is_group(f, 2)
        bc = ethernet.is_broadcast(f, 2)
        mine = ethernet.dst_is(f, 2, mac)
        hl = ipv4.check(f, ip_off, len(f) - ip_off)
        tl = ipv4.total_length(f, ip_off)
        fr = ipv4.frag_field(f, ip_off)
        same = ipv4.eq4(f, ip_off + 12, f, ip_off + 12)
        return et == 0x0800 and not g and not bc and mine and hl == 20 and tl == 128 and \
            fr == 0x4000 and same

    assert _locked(parse)
    out = bytearray(64)
    src = support.ip4(support.IP_A)
    dst = support.ip4(support.IP_B)

    def build():
        ethernet.build(out, 2, support.MAC_B, mac, ethernet.TYPE_IPV4)
        ipv4.copy4(out, 28, src, 0)
        ipv4.copy4(out, 32, dst, 0)
        ipv4.build(out, 16, 28, 7, 17, 64)
        warp.build_head(out, 16, warp.OP_REQUEST, mac, src)

    _locked(build)
    assert bytes(out[2:8]) == support.MAC_B and bytes(out[8:14]) == mac
    assert bytes(out[16:24]) == bytes((0, 1, 8, 0, 6, 4, 0, 1))  # ARP head over the IP one


def test_arp_lookup_does_not_allocate():
    nic, lan, clock = support.mock_stack()
    for k in range(5):
        ip = "192.0.2.%d" % (20 + k)
        support.learn_peer(nic, lan, ip, bytes((2, 0, 0, 0, 1, k)))
    assert nic.stats()["arp_entries"] == 5
    arp = nic._arp
    now = clock.ticks_ms()
    hi = (192 << 8) | 0
    i = _locked(arp.lookup, hi, (2 << 8) | 24, now)
    assert i >= 0
    assert bytes(arp.mac_of(i)) == bytes((2, 0, 0, 0, 1, 4))
    assert _locked(arp.lookup, hi, (2 << 8) | 99, now) == -1
    out = bytearray(8)
    _locked(arp.copy_mac, i, out, 1)
    assert bytes(out[1:7]) == bytes((2, 0, 0, 0, 1, 4))


def _ping_stack():
    from boards.sim.clock import VirtualClock
    from boards.sim.mocklan import MockLan

    import spinet
    clock = VirtualClock()
    lan = MockLan(support.MAC_A, clock, keep=False)
    nic = spinet.Interface(lan, clock=clock.ticks_ms)
    nic.ifconfig((support.IP_A, support.MASK, support.IP_GW, support.IP_GW))
    nic.active(True)
    lan.inject(support.frame_arp(1, support.MAC_PEER, support.IP_PEER, b"\x00" * 6,
                                 support.IP_A))
    nic.poll()
    req = support.frame_ip(support.IP_PEER, support.IP_A, 1,
                           support.echo_request(0x1234, 1, bytes(range(56))))
    return nic, lan, req


def test_ping_steady_state_does_not_grow_heap():
    nic, lan, req = _ping_stack()
    lan.preload(req, 100)  # warm-up: imports, first-call caches
    while lan.replay_left:
        nic.poll()
    sent0 = lan.n_sent
    gc.collect()
    before = gc.mem_alloc()
    lan.preload(req, 1000)
    while lan.replay_left:
        nic.poll()
    gc.collect()
    after = gc.mem_alloc()
    assert lan.n_sent - sent0 == 1000, lan.n_sent - sent0
    assert after <= before, (before, after)
    # Bytes allocated per ping, with the collector off.
    lan.preload(req, 1000)
    gc.collect()
    gc.disable()
    try:
        a0 = gc.mem_alloc()
        while lan.replay_left:
            nic.poll()
        a1 = gc.mem_alloc()
    finally:
        gc.enable()
    per = (a1 - a0) / 1000
    print("memory: %d bytes allocated per ping answered (steady state %d -> %d)" % (
        per, before, after))
    assert nic.stats()["icmp_echo_rx"] == 2100
    assert per == 0, "the ping path allocates again"
