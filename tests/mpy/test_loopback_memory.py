# Loopback on the MicroPython unix port (only tests/mprun.py runs this folder): once
# its queue exists, routing a datagram to 127/8 into the queue (Interface._ip_send ->
# Loopback.put, source rewritten, checksums adjusted) and draining it in poll()
# allocate nothing (micropython.heap_lock()). The protocol layer past _deliver is
# replaced by a counter here: what UDP/TCP allocate is theirs, measured elsewhere.

import micropython

import support
from spinet.wire import ipv4
from spinet.wire import udp as wudp

LO = b"\x7f\x00\x00\x02"
_seen = [0, 0]


def _deliver(buf, ip, hl, plen, bcast):
    # Module-level: calling a closure with this many arguments would allocate.
    _seen[0] += 1
    _seen[1] += plen


def test_loopback_queue_and_drain_do_not_allocate():
    nic, lan, clock = support.mock_stack()
    seen = _seen
    nic._deliver = _deliver
    l4 = nic._l4_off
    ulen = wudp.HDR_LEN + 200
    for i in range(200):
        nic._tx[l4 + wudp.HDR_LEN + i] = i

    def one():
        nic._ip_prepare(LO, 0, ipv4.PROTO_UDP, ulen)
        wudp.build(nic._tx, nic._ip_off, l4, 5001, 5000, ulen)
        nic._ip_send(ulen)
        nic._ip_send(ulen)  # two queued, one drain
        nic.poll()

    for _ in range(3):
        one()  # warm up: the queue and the TX views
    seen[0] = seen[1] = 0
    micropython.heap_lock()
    try:
        for _ in range(100):
            one()
    finally:
        micropython.heap_unlock()
    assert seen == [200, 200 * ulen]
    assert nic._rx[nic._ip_off + 12:nic._ip_off + 16] == LO  # source = the loopback address
    assert lan.take() == []  # nothing reached the driver
    assert nic.stats()["loopback_drops"] == 0
