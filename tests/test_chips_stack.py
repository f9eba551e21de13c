# The whole stack over each emulated chip on the simulated segment: the real
# W5500 / ENC28J60 drivers, the fake SPI bus and the register-level models, with a
# plain spinet Interface as the peer. Ping, UDP echo, 256 KB TCP both ways with
# SHA-256 intact, chip faults in the middle of a transfer, and the SPI cost per
# full-size frame (printed, never asserted as a timing).
# Plain test functions: pytest on CPython, tests/mprun.py on the MicroPython unix port.

import chipnet
import support
from spinet import socket

KB256 = 256 * 1024


def test_ping_both_ways():
    for name, mod in chipnet.BOARDS:
        net = chipnet.segment(mod)
        rtt = net.b.ping(support.IP_A, count=5, size=1472)
        assert None not in rtt, (name, rtt)
        rtt = net.a.ping(support.IP_B, count=5, size=56)
        assert None not in rtt, (name, rtt)
        st = net.a.stats()
        assert st["icmp_echo_rx"] == 5 and st["icmp_echo_reply_rx"] == 5, (name, st)
        assert st["drv_errors"] == 0 and st["ip_bad_checksum"] == 0, (name, st)


def test_udp_echo():
    for name, mod in chipnet.BOARDS:
        net = chipnet.segment(mod)
        srv = net.b.socket(socket.AF_INET, socket.SOCK_DGRAM, rx=4096)
        srv.bind(("", 7))
        srv.setblocking(False)

        class Echo:
            def poll(self):
                while True:
                    try:
                        d, addr = srv.recvfrom(2048)
                    except OSError:
                        return
                    srv.sendto(d, addr)

            def poll_at(self):
                return None

        net.seg.add_host(Echo())
        c = net.a.socket(socket.AF_INET, socket.SOCK_DGRAM, rx=4096)
        c.settimeout(1)
        for size in (0, 1, 18, 19, 100, 1000, 1471, 1472):
            data = bytes((i * 13 + size) & 0xFF for i in range(size))
            c.sendto(data, (support.IP_B, 7))
            d, addr = c.recvfrom(2048)
            assert d == data and addr[1] == 7, (name, size)
        c.close()
        srv.close()


def test_tcp_256k_upload_and_download():
    for name, mod in chipnet.BOARDS:
        for direction in ("upload", "download"):
            net = chipnet.segment(mod)
            ok, n, sha = chipnet.transfer(net, KB256, direction)
            assert ok and n == KB256 and sha, (name, direction, n, net.drv.counters())
            c = net.drv.counters()
            # 256 KB is 180 full segments one way; the ACKs the other way are fewer
            # (delayed ACKs, and a window capped at the chip's buffer: rx_window).
            data, acks = ("tx_frames", "rx_frames") if direction == "upload" else \
                ("rx_frames", "tx_frames")
            assert c["chip_faults"] == 0 and c[data] > 180 and c[acks] > 60, c


def test_tcp_256k_with_segment_faults():
    # Loss, duplication and reordering on the wire behind the chip.
    for name, mod in chipnet.BOARDS:
        net = chipnet.segment(mod, seed=3)
        for p in (net.pa, net.pb):
            p.faults(loss=0.03, dup=0.01, reorder=0.1, delay_ms=1)
        ok, n, sha = chipnet.transfer(net, KB256, "upload", seed=3)
        assert ok and n == KB256 and sha, (name, n)


def _stall(value):
    def f(net):
        net.chip.stall(value, transactions=25)
    return f


def test_chip_stops_answering_mid_transfer():
    # MISO stuck at 0x00 or 0xFF for a while, then the chip comes back from a
    # power-on reset with its set-up lost: the driver finds it (health check, an
    # impossible register value, a SEND that never completes), counts it, sets it up
    # again, and TCP repairs the frames lost meanwhile.
    for name, mod in chipnet.BOARDS:
        for value in (0x00, 0xFF):
            for direction in ("upload", "download"):
                net = chipnet.segment(mod)
                ok, n, sha = chipnet.transfer(net, KB256 // 2, direction, during=_stall(value))
                c = net.drv.counters()
                assert ok and n == KB256 // 2 and sha, (name, value, direction, c)
                assert c["chip_faults"] >= 1 and c["reinits"] >= 1, (name, value, c)
                assert net.a.isconnected()


def _corrupt(net):
    if net.drv.__class__.__name__ == "W5500":
        net.chip.corrupt_next_header(0x7FFF)  # longer than anything received
    else:
        net.chip.corrupt_next_header(next_ptr=0x0333)  # odd: the FIFO is corrupt


def _oversize(net):
    net.chip.inject_oversize(2000)


def _bad_status(net):
    if net.drv.__class__.__name__ == "W5500":
        net.chip.corrupt_next_header(0x0008)  # shorter than an Ethernet header
    else:
        net.chip.next_status(0x0010)  # CRC error, "received OK" clear


def test_bad_input_mid_transfer():
    for name, mod in chipnet.BOARDS:
        for fault, counter in ((_corrupt, ("rx_resync", "rx_resets")),
                               (_oversize, ("rx_oversize",)),
                               (_bad_status, ("rx_resync", "rx_bad_status"))):
            net = chipnet.segment(mod)
            ok, n, sha = chipnet.transfer(net, KB256 // 2, "download", during=fault)
            c = net.drv.counters()
            assert ok and n == KB256 // 2 and sha, (name, fault, c)
            assert sum(c.get(k, 0) for k in counter) >= 1, (name, counter, c)
            assert c["chip_faults"] == 0, (name, c)


def test_link_down_and_up_under_the_stack():
    for name, mod in chipnet.BOARDS:
        net = chipnet.segment(mod)
        net.seg.run(1000)
        assert net.a.isconnected()
        net.chip.set_link(False)
        net.seg.run(1200)
        assert not net.a.isconnected() and net.a.status() == 0, name
        assert None in net.a.ping(support.IP_B, count=1, timeout_ms=300)
        net.chip.set_link(True)
        net.seg.run(1200)
        assert net.a.isconnected(), name
        assert None not in net.a.ping(support.IP_B, count=3), name


def _full_frame_costs(name, mod):
    net = chipnet.segment(mod)
    net.seg.run(10)
    b = net.board
    drv = net.drv
    net.a.ping(support.IP_B, count=1)  # ARP both ways
    f = chipnet.frame(1514, 1, dst=net.a.mac, src=support.MAC_B)
    buf = bytearray(1514)
    # receive: one full-size frame waiting, nothing else
    net.pb.send(f)
    net.seg._deliver(net.clock.now)
    rx = chipnet.cost(b, lambda: drv.recv_into(buf))
    assert bytes(buf) == f
    # a burst of 4 full-size frames (what an ENC28J60's 6.5 KB FIFO holds): per frame
    for i in range(4):
        net.pb.send(f)
    net.seg._deliver(net.clock.now)
    got = []
    burst = chipnet.cost(b, lambda: got.extend(chipnet.read_all(drv)))
    assert len(got) == 4 and got[3] == f, len(got)
    burst = (burst[0] / 4.0, burst[1] / 4.0)
    drv.wait(1)  # the idle loop: the W5500 driver clears RECV here, after which
    drv.recv_into(buf)  # INTn high means nothing arrived
    empty = chipnet.cost(b, lambda: drv.recv_into(buf))  # steady state, nothing waiting
    # send: the second of two (the first pays for nothing before it)
    drv.send(f)
    tx = chipnet.cost(b, lambda: drv.send(f))
    return rx, burst, empty, tx


def test_spi_cost_per_full_size_frame():
    # Printed, not asserted: the figure that bounds throughput on a real board.
    # Bus time only (bytes x 8 / clock); a Pico adds ~10-30 us of Python per
    # transaction (rp2040-cost.md), which is why the transaction count matters.
    print()
    print("SPI cost per 1514-byte frame (transactions, bytes; bus-bound frame rate)")
    for (name, mod), clock_hz in zip(chipnet.BOARDS, (80_000_000, 20_000_000)):
        rx, burst, empty, tx = _full_frame_costs(name, mod)
        for what, (t, n) in (("receive", rx), ("receive in burst", burst), ("send", tx),
                             ("empty poll", empty)):
            rate = clock_hz / 8.0 / n if n else 0
            print("  %-8s %-16s %5.1f transactions %7.1f bytes  -> %7.0f frames/s at %d MHz"
                  % (name, what, t, n, rate, clock_hz // 1000000))
        assert rx[0] <= 7 and tx[0] <= 10  # regressions in the driver show here


def test_board_files_build_a_nic_from_their_pin_table():
    # The real board files on a fake `machine` module whose Pin/SPI are the emulated
    # ones, with an emulated chip attached to the chip-select pin the table names.
    import sys
    from boards.sim import spibus
    from boards.sim.enc28j60 import ENC28J60Chip
    from boards.sim.w5500 import W5500Chip

    class FakeMachine:
        made = []

        class Pin(spibus.Pin):
            def __init__(self, num=None, mode=None, pull=None, value=1):
                spibus.Pin.__init__(self, num, value=value)
                FakeMachine.made.append(self)

        @staticmethod
        def SPI(id, **kw):
            bus = spibus.SPI(id, **kw)
            FakeMachine.bus = bus
            return bus

    from boards import pico2_w5500, pico_enc28j60, pico_w5500, w5500_evb_pico
    old = sys.modules.get("machine")
    sys.modules["machine"] = FakeMachine
    try:
        for mod, chip_cls in ((w5500_evb_pico, W5500Chip), (pico_w5500, W5500Chip),
                              (pico2_w5500, W5500Chip), (pico_enc28j60, ENC28J60Chip)):
            chip = chip_cls(None)
            t = mod.PINS
            # build the pins the board will use, wired to the chip
            cs = spibus.Pin(t["cs"], value=1)
            irq = spibus.Pin(t["int"], source=chip.int_level)
            rst = spibus.Pin(t["rst"], value=1, on_change=chip.reset_line)
            bus = spibus.SPI(t["spi"], baudrate=t["baudrate"])
            bus.attach(chip, cs)
            n = mod.nic(spi=bus, cs=cs, rst=rst, int_pin=irq, mac=chipnet.MAC)
            assert n.active() and n.config("mac") == chipnet.MAC, mod
            n.active(False)
            # and with nothing given but a MAC, the table's own pins and bus
            FakeMachine.made = []
            support.raises(19, lambda: mod.nic(mac=chipnet.MAC))  # ENODEV: no chip there
            nums = sorted(p.id for p in FakeMachine.made if p.id is not None)
            want = sorted((t["sck"], t["mosi"], t["miso"], t["cs"], t["rst"], t["int"]))
            assert nums == want, (mod, nums, want)
            assert FakeMachine.bus.baudrate == t["baudrate"]
    finally:
        if old is None:
            del sys.modules["machine"]
        else:
            sys.modules["machine"] = old


class _Windows:
    """A segment tap: the largest TCP window advertised from one MAC."""

    def __init__(self, mac):
        self.mac = mac
        self.largest = 0
        self.segments = 0

    def write(self, f, t):
        if f[6:12] != self.mac or f[12:14] != b"\x08\x00" or f[23] != 6:
            return
        q = 14 + (f[14] & 15) * 4
        w = (f[q + 14] << 8) | f[q + 15]
        self.segments += 1
        if w > self.largest:
            self.largest = w


def test_window_never_outgrows_the_chips_receive_buffer():
    # A 16 KB ring would advertise 16 KB; the chip holds less between two polls
    # (drv.rx_window), and a burst past that is lost to an overrun. The window the
    # stack advertises stays within the chip's buffer, and nothing overflows.
    for name, mod in chipnet.BOARDS:
        net = chipnet.segment(mod)
        win = _Windows(chipnet.MAC)
        net.seg.tap(win)
        ok, n, sha = chipnet.transfer(net, KB256, "download", rx=16384, tx=16384)
        assert ok and n == KB256 and sha, (name, n)
        cap = net.drv.rx_window
        assert win.segments > 60 and 0 < win.largest <= cap, (name, win.largest, cap)
        assert net.chip.stats["rx_overflow"] == 0, (name, net.chip.stats)


def test_frames_taken_free_their_space_while_the_peer_refills_the_window():
    # The kernel answers each ACK at once with the next segments, while the driver is
    # still taking the frames one EPKTCNT / Sn_RX_RSR read covered. The space of the
    # frames already taken must be freed soon enough that a full window always fits:
    # here the window is filled, then every frame taken (the stack would ACK it) is
    # answered by one more full frame. Freeing only at the end of each burst lost
    # frames to overruns (ENC28J60 with a 16 KB ring: 0.05 MB/s against the kernel).
    for name, mod in chipnet.BOARDS:
        b, lan, clock = chipnet.bench(mod)
        d = b.driver
        full = d.rx_window // 1460
        assert full >= 3, (name, d.rx_window)
        sent = 0
        for _ in range(full):
            lan.inject(chipnet.frame(1514, sent))
            sent += 1
        buf = bytearray(1514)
        for i in range(200):
            n = d.recv_into(buf)
            assert n == 1514 and bytes(buf[:n]) == chipnet.frame(1514, i), (name, i, n)
            lan.inject(chipnet.frame(1514, sent))
            sent += 1
        assert b.chip.stats["rx_overflow"] == 0, (name, b.chip.stats)
        assert len(chipnet.read_all(d)) == full, name
