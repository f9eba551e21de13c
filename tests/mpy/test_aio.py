# spinet.aio on the MicroPython unix port (only tests/mprun.py runs this folder):
# asyncio's I/O queue replaced by spinet.start(), on a scripted LAN (MockLan) with the
# real clock, so asyncio's own timing applies. The real-peer versions (kernel, curl,
# latency) are in tests/cpython/test_aio_realpeer.py.

import asyncio
from asyncio import core

from boards.sim.mocklan import MockLan

import spinet
from spinet import aio
from spinet import socket

import support

PORT = 5005


def _stack():
    lan = MockLan(support.MAC_A)
    nic = spinet.Interface(lan)  # the real clock: asyncio sleeps in real time
    nic.ifconfig((support.IP_A, support.MASK, support.IP_GW, support.IP_GW))
    nic.active(True)
    support.learn_peer(nic, lan)
    return nic, lan


def _udp_payloads(frames):
    out = []
    for f in frames:
        p = support.parse(f)
        if p.get("proto") == 17:
            out.append(p["data"])
    return out


def _parse_ok():
    # support.parse's keys, checked once so a change there fails here loudly
    p = support.parse(support.frame_udp(1, 2, b"x"))
    assert p["proto"] == 17 and p["data"] == b"x", p


def test_a_datagram_wakes_the_waiting_task_and_the_reply_leaves():
    _parse_ok()
    nic, lan = _stack()
    s = nic.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", PORT))
    s.setblocking(False)
    got = []

    async def reader():
        data = await asyncio.StreamReader(s).read(100)  # waits in the I/O queue
        got.append(data)
        s.sendto(data.upper(), (support.IP_PEER, 7))

    async def main():
        pump = spinet.start(nic)
        assert core._io_queue is pump.queue
        t = asyncio.create_task(reader())
        await asyncio.sleep_ms(5)
        assert not got and len(core._io_queue.map) == 1
        lan.inject(support.frame_udp(7, PORT, b"hello"))
        await asyncio.sleep_ms(5)
        await t
        pump.stop()
        assert core._io_queue is not pump.queue

    asyncio.run(main())
    s.close()
    assert got == [b"hello"], got
    assert _udp_payloads(lan.take()) == [b"HELLO"]


def test_task_switches_are_not_slowed_by_a_waiting_spinet_socket():
    nic, lan = _stack()
    s = nic.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", PORT))
    s.setblocking(False)
    from time import ticks_diff, ticks_us
    res = {}

    async def waiter():
        await asyncio.StreamReader(s).read(100)

    async def spin(n):
        t0 = ticks_us()
        for _ in range(n):
            await asyncio.sleep_ms(0)
        return ticks_diff(ticks_us(), t0) // n

    async def main(pumped):
        pump = spinet.start(nic) if pumped else None
        t = asyncio.create_task(waiter())
        await asyncio.sleep_ms(0)
        res[pumped] = await spin(50)
        t.cancel()
        await asyncio.sleep_ms(0)
        assert not core._io_queue.map  # cancel() took it out of the queue
        if pump:
            pump.stop()

    asyncio.run(main(False))
    asyncio.run(main(True))
    s.close()
    print("    us per task switch with a spinet socket waiting: stock %d, spinet.start() %d"
          % (res[False], res[True]))
    # Stock asyncio sleeps 1 ms in select.poll per pass here; ours answers directly.
    assert res[True] < 500 <= res[False], res


def test_stack_timers_run_while_every_task_sleeps():
    nic, lan = _stack()
    c = nic.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect((support.IP_PEER, 80))
    except OSError as e:
        assert e.errno == 115  # EINPROGRESS
    syns = [f for f in lan.take() if support.parse(f).get("proto") == 6]
    assert len(syns) == 1

    async def main():
        pump = spinet.start(nic)
        await asyncio.sleep_ms(1300)  # nobody waits on the socket: only the pump polls
        pump.stop()

    asyncio.run(main())
    again = [f for f in lan.take() if support.parse(f).get("proto") == 6]
    assert len(again) >= 1, "the SYN was not retransmitted while tasks slept"
    c.close()


def test_stop_hands_waiting_tasks_back_to_asyncio():
    nic, lan = _stack()
    s = nic.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", PORT))
    s.setblocking(False)
    got = []

    async def reader():
        got.append(await asyncio.StreamReader(s).read(100))

    async def main():
        old = core._io_queue
        pump = spinet.start(nic)
        t = asyncio.create_task(reader())
        await asyncio.sleep_ms(2)
        pump.stop()  # the waiting reader moves to asyncio's own queue
        assert core._io_queue is old and len(old.map) == 1
        lan.inject(support.frame_udp(7, PORT, b"after"))
        await t  # woken by the socket's own ioctl under select.poll

    asyncio.run(main())
    s.close()
    assert got == [b"after"], got


def test_use_as_socket_puts_spinet_socket_under_the_standard_name():
    import sys
    old = aio.use_as_socket()
    try:
        import socket as s2
        assert s2 is socket
    finally:
        if old is None:
            del sys.modules["socket"]
        else:
            sys.modules["socket"] = old
