# firmware/examples/udp_echo.py on the simulated segment, on virtual time: a test host
# sends datagrams of several sizes, each comes back unchanged to its sender's port.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import os
import sys

from boards.sim.clock import VirtualClock
from boards.sim.segment import Segment
from boards.sim.udphost import UdpHost
import spinet

for _p in list(sys.path):
    try:
        os.stat(_p + "/firmware/examples/udp_echo.py")
    except OSError:
        continue
    if _p + "/firmware/examples" not in sys.path:
        sys.path.insert(0, _p + "/firmware/examples")
    break

import udp_echo  # noqa: E402

MAC_BOARD = b"\x02\x00\x00\x00\x00\x02"
MAC_HOST = b"\x02\x00\x00\x00\x00\x01"


class Client(UdpHost):
    def __init__(self, port, ip, clock):
        UdpHost.__init__(self, port, ip, clock)
        self.got = []

    def udp(self, src_mac, src_ip, sport, dport, data):
        self.got.append((bytes(src_ip), sport, dport, bytes(data)))


def test_udp_echo_returns_every_datagram_to_its_sender():
    clock = VirtualClock()
    seg = Segment(clock, seed=5)
    host = Client(seg.port(MAC_HOST, name="host"), "192.0.2.1", clock)
    seg.add_host(host, host.port)
    p = seg.port(MAC_BOARD, name="board")
    nic = spinet.Interface(p, clock=clock.ticks_ms)
    seg.add_host(nic, p)
    nic.ifconfig(("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1"))
    nic.active(True)
    sizes = (0, 1, 100, 1472)
    for i, n in enumerate(sizes):
        data = bytes((i * 7 + k) & 0xFF for k in range(n))
        host.send_udp(MAC_BOARD, "192.0.2.2", 40000 + i, 7, data, delay_ms=100 * (i + 1))
    lines = []
    assert udp_echo.main(nic, port=7, max_packets=len(sizes), log=lines.append) == len(sizes)
    seg.run(500)
    want = [(b"\xc0\x00\x02\x02", 7, 40000 + i,
             bytes((i * 7 + k) & 0xFF for k in range(n))) for i, n in enumerate(sizes)]
    assert host.got == want, [(g[1], g[2], len(g[3])) for g in host.got]
    assert lines == ["udp 192.0.2.1:%d %d" % (40000 + i, n) for i, n in enumerate(sizes)]
    assert nic.netstat() == []  # the socket was closed
