# DHCP and DNS memory on the MicroPython unix port (only tests/mprun.py runs this
# folder): the heap the client and resolver state take, the bytes one whole DHCP
# exchange and one DNS exchange allocate, and heap_lock() around the receive paths
# of spoofed, malformed and good replies (any allocation raises MemoryError).
#
# The server side is a responder driver: it answers each DHCP/DNS message the stack
# sends by patching the transaction id / query id and port into a reply frame
# prepared beforehand (UDP checksum 0, "none"), so the measurement counts the stack.

import gc

import micropython

import support
import test_dhcp as td
import test_dns as tn

from boards.sim.clock import VirtualClock
from boards.sim.mocklan import MockLan
import spinet
from spinet import dns

SRV = "192.0.2.1"
NS = "192.0.2.53"


def _frame(payload, sport, dport, src_ip, dst_ip, dst_mac):
    f = bytearray(support.frame_udp(sport, dport, payload, src_ip=src_ip, dst_ip=dst_ip,
                                    dst_mac=dst_mac))
    f[40] = 0  # UDP checksum "none": the responder patches fields without recomputing
    f[41] = 0
    return f


class Responder(MockLan):
    """Answers DHCP DISCOVER/REQUEST with a prepared OFFER/ACK and DNS queries with a
    prepared answer, patching in the ids; everything else is only counted."""

    def __init__(self, mac, clock):
        MockLan.__init__(self, mac, clock, keep=False)
        self.offer = None
        self.ack = None
        self.answer = None

    def send(self, frame):
        self.n_sent += 1
        if len(frame) < 42 or frame[23] != 17:
            return
        dport = (frame[36] << 8) | frame[37]
        if dport == 67:
            t = frame[42 + 242]  # message type: the first option
            r = self.offer if t == 1 else self.ack if t == 3 else None
            if r is not None:
                for k in range(4):
                    r[42 + 4 + k] = frame[42 + 4 + k]
                self._pre = r
                self._pre_len = len(r)
                self.replay_left = 1
        elif dport == 53 and self.answer is not None:
            r = self.answer
            r[42] = frame[42]
            r[43] = frame[43]
            r[36] = frame[34]  # to the query's source port
            r[37] = frame[35]
            self._pre = r
            self._pre_len = len(r)
            self.replay_left = 1


def _stack():
    clock = VirtualClock()
    lan = Responder(support.MAC_A, clock)
    nic = spinet.Interface(lan, clock=clock.ticks_ms)
    nic.active(True)
    return nic, lan, clock


def _dhcp_replies(lan):
    req = bytearray(300)
    req[28:34] = support.MAC_A
    lan.offer = _frame(td.reply(req, 2), 67, 68, SRV, "255.255.255.255", support.BCAST)
    lan.ack = _frame(td.reply(req, 5), 67, 68, SRV, "255.255.255.255", support.BCAST)


def _run(nic, clock, ms):
    for _ in range(ms // 100):
        clock.advance(100)
        nic.poll()


def test_dhcp_state_heap_and_exchange_allocation():
    import spinet.dhcp  # noqa: F401  (code loaded before measuring)
    from spinet.dhcp import Dhcp
    nic, lan, clock = _stack()
    gc.collect()
    a0 = gc.mem_alloc()
    d = Dhcp(nic)
    gc.collect()
    state = gc.mem_alloc() - a0
    del d
    _dhcp_replies(lan)
    nic.ipconfig(dhcp4=True)  # makes nic._dhcp; the warm-up exchange
    _run(nic, clock, 3000)
    assert nic.isconnected() and nic.ipconfig("addr4")[0] == "192.0.2.100"
    # A second whole exchange (DISCOVER, OFFER, REQUEST, ACK, 2 probes, bound)
    # after active(False)/active(True), with the collector off.
    nic.active(False)
    nic.active(True)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    _run(nic, clock, 3000)
    per = gc.mem_alloc() - a0
    gc.enable()
    assert nic.isconnected()
    print("dhcp state %d bytes, one exchange (30 polls) allocates %d bytes" % (state, per))
    assert state < 2048, state  # 64-bit port; a 32-bit board needs less
    assert per < 2000, per


def test_dhcp_receive_paths_do_not_allocate():
    nic, lan, clock = _stack()
    _dhcp_replies(lan)
    nic.ipconfig(dhcp4=True)
    nic.poll()  # DISCOVER out, the OFFER is waiting in the responder
    lan.replay_left = 0
    req = bytearray(300)
    req[28:34] = support.MAC_A
    xid = bytes(lan.offer[46:50])
    wrong = bytearray(lan.offer)
    wrong[49] ^= 1  # wrong xid
    bad = bytearray(lan.offer)
    bad[42 + 240 + 1] = 200  # message-type option length runs off the end
    for f in (wrong, bad):
        lan.preload(f, 50)
        micropython.heap_lock()
        try:
            for _ in range(6):
                nic.poll()
        finally:
            micropython.heap_unlock()
    st = nic.stats()
    assert st["dhcp_bad_xid"] >= 48 and st["dhcp_malformed"] >= 48, st
    assert xid  # the real OFFER is still acceptable
    lan.preload(lan.offer, 1)
    lan.ack = None  # (the probes after an ACK go out through a fresh view: not measured)
    micropython.heap_lock()
    try:
        nic.poll()  # OFFER accepted, REQUEST built and sent
    finally:
        micropython.heap_unlock()
    assert nic.stats()["dhcp_offer"] == 1


def test_dns_state_heap_exchange_and_receive_paths():
    nic, lan, clock = _stack()
    nic.ifconfig(("192.0.2.10", "255.255.255.0", SRV, NS))
    # the server's MAC, learnt the way it would be: an ARP request from it
    lan.inject(support.frame_arp(1, support.MAC_PEER, NS, b"\x00" * 6, "192.0.2.10"))
    nic.poll()
    gc.collect()
    a0 = gc.mem_alloc()
    r = dns.Resolver(nic)
    gc.collect()
    state = gc.mem_alloc() - a0
    nic._dns_res = r
    q = bytearray(12) + tn.encode("www.example.test") + b"\x00\x01\x00\x01"
    q[5] = 1
    lan.answer = _frame(tn.answer(q, tn.a_rr(ttl=0)), 53, 50000, NS, "192.0.2.10",
                        support.MAC_A)
    assert spinet.socket.getaddrinfo("www.example.test", 80)[0][-1][0] == "192.0.2.80"
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    spinet.socket.getaddrinfo("www.example.test", 80)  # TTL 0: asked again
    per = gc.mem_alloc() - a0
    gc.enable()
    print("dns resolver state %d bytes, one lookup (query+answer+tuple) allocates %d bytes"
          % (state, per))
    assert state < 2048, state
    assert per < 1500, per
    # Receive paths under heap_lock: wrong id, malformed, then the real answer.
    r._qlen = dns.wdns.encode("www.example.test", r._q, 0)
    lan.answer = None
    r._send(support.ip4(NS))
    good = _frame(tn.answer(q, tn.a_rr(ttl=0)), 53, r.port, NS, "192.0.2.10", support.MAC_A)
    good[42] = (r._id >> 8)
    good[43] = r._id & 0xFF
    wrong = bytearray(good)
    wrong[43] ^= 1
    loop = bytearray(good)
    loop[-16] = 0xC0  # the answer's owner pointer -> points forward past itself
    loop[-15] = len(good) - 42 - 2
    for f in (wrong, loop, good):
        lan.preload(f, 1)
        micropython.heap_lock()
        try:
            nic.poll()
        finally:
            micropython.heap_unlock()
    st = nic.stats()
    assert st["dns_bad_id"] == 1 and st["dns_malformed"] == 1 and r.result == dns.R_OK, st
