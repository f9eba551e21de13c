# The W5500 driver against the register-level W5500 model on the fake SPI bus:
# init sequence, send, receive, wrap-around at the buffer end and of the 16-bit
# pointers, buffer full, link down/up, reset, faults, and the model's own strictness.
# Plain test functions: pytest on CPython, tests/mprun.py on the MicroPython unix port.

import chipnet
import support
from boards import sim_w5500
from boards.sim.spibus import SPI, ChipError, Pin
from boards.sim.w5500 import W5500Chip
from spinet.drivers.w5500 import W5500


def _bench(**kw):
    return chipnet.bench(sim_w5500, **kw)


def test_init_sequence_sets_up_macraw_socket0():
    b, lan, clock = _bench(trace=True)
    c = b.chip
    s0 = c.sock[0]
    assert s0[0x03] == 0x42  # Sn_SR = SOCK_MACRAW
    assert s0[0x00] == 0x94  # MACRAW | MFEN | MIP6B
    assert s0[0x1E] == 16 and s0[0x1F] == 16  # all 16 KB each way
    for sn in range(1, 8):
        assert c.sock[sn][0x1E] == 0 and c.sock[sn][0x1F] == 0
    assert bytes(c.common[9:15]) == chipnet.MAC  # SHAR
    assert s0[0x2C] == 0x04  # Sn_IMR: RECV only
    assert c.common[0x18] == 0x01  # SIMR: socket 0 drives INTn
    assert c.stats["resets"] == 3  # power-on, RSTn pulse, MR.RST
    # The first frames on the bus: MR = RST (write, common block), then MR read back.
    log = b.spi.log
    assert log[0][1] == bytes((0x00, 0x00, 0x04, 0x80)), log[0]
    assert log[1][1][:3] == bytes((0x00, 0x00, 0x00))
    assert log[1][2] == b"\x00"  # MR.RST reads 0: reset done (only MISO data is kept)
    # VERSIONR is read and checked
    assert any(r[1][:3] == bytes((0x00, 0x39, 0x00)) and r[2] == b"\x04" for r in log)
    assert b.driver.link_up()


def test_no_chip_is_a_clear_error():
    # Nothing on the bus (MISO pulled high) and a chip that reads all zeros.
    spi = SPI()
    cs = Pin(value=1)
    e = support.raises(19, W5500, spi, cs, None, None, chipnet.MAC, lambda ms: None)
    assert "VERSIONR 0xff" in str(e), e
    chip = W5500Chip(None)
    chip.stall(0x00, transactions=10 ** 6, reset_after=False)
    spi = SPI()
    cs = Pin(value=1)
    spi.attach(chip, cs)
    e = support.raises(19, W5500, spi, cs, None, None, chipnet.MAC, chip.sleep_ms)
    assert "VERSIONR 0x00" in str(e), e


def test_versionr_reads_zero_just_after_reset():
    chip = W5500Chip(None)
    chip.version_zero_reads = 5
    b, lan, clock = _bench(chip=chip)
    assert b.chip.sock[0][0x03] == 0x42


def test_send_frames_intact_and_padded():
    b, lan, clock = _bench()
    d = b.driver
    for n in (14, 42, 59, 60, 61, 1000, 1514):
        d.send(chipnet.frame(n, n))
    got = lan.take()
    assert len(got) == 7
    for f, n in zip(got, (14, 42, 59, 60, 61, 1000, 1514)):
        want = chipnet.frame(n, n)
        assert f[:n] == want and len(f) == max(n, 60), n
        assert f[n:] == bytes(len(f) - n)
    d.send(bytes(1515))
    assert d.tx_oversize == 1 and not lan.take()
    assert d.tx_frames == 7


def test_send_waits_for_a_slow_send_ok_and_busy_command_register():
    b, lan, clock = _bench()
    chip = b.chip
    chip.send_ok_reads = 30
    chip.cr_busy_reads = 3
    d = b.driver
    for i in range(5):
        d.send(chipnet.frame(100, i))
    assert len(lan.take()) == 5 and d.tx_timeout == 0


def test_receive_frames_intact():
    b, lan, clock = _bench()
    d = b.driver
    sizes = (60, 61, 100, 1000, 1513, 1514)
    for i, n in enumerate(sizes):
        lan.inject(chipnet.frame(n, i))
    got = chipnet.read_all(d)
    assert [len(f) for f in got] == list(sizes)
    for i, f in enumerate(got):
        assert f == chipnet.frame(sizes[i], i)
    assert d.recv_into(bytearray(1514)) == 0
    assert d.rx_frames == 6


def test_receive_filters_and_short_frames():
    b, lan, clock = _bench()
    lan.inject(chipnet.frame(60, 1, dst=b"\x02\x00\x00\x00\x00\x77"))  # someone else
    lan.inject(chipnet.frame(60, 2, dst=b"\xff" * 6))  # broadcast
    lan.inject(chipnet.frame(60, 3, dst=b"\x33\x33\x00\x00\x00\x01"))  # IPv6 multicast
    f = bytearray(chipnet.frame(80, 4))
    f[12] = 0x86
    f[13] = 0xDD  # IPv6: MIP6B
    lan.inject(bytes(f))
    lan.inject(chipnet.frame(42, 5))  # a runt from a TAP: the wire pads it
    got = chipnet.read_all(b.driver)
    assert got == [chipnet.frame(60, 2, dst=b"\xff" * 6), chipnet.frame(42, 5) + bytes(18)]
    assert b.chip.stats["rx_filtered"] == 3


def test_wrap_at_buffer_end_and_pointer_wrap():
    # 200 frames each way: the 16 KB buffers wrap 18 times and the 16-bit pointers
    # wrap 4 times; frames straddle the buffer end.
    b, lan, clock = _bench()
    d = b.driver
    buf = bytearray(1514)
    straddled = 0
    for i in range(200):
        n = 60 + (i * 397) % 1455
        p = b.chip.rx_wr % 16384
        if p + n + 2 > 16384:
            straddled += 1
        lan.inject(chipnet.frame(n, i))
        m = d.recv_into(buf)
        assert m == n and bytes(buf[:n]) == chipnet.frame(n, i), i
        d.send(chipnet.frame(n, i + 1000))
        assert lan.take() == [chipnet.frame(n, i + 1000)], i
    assert straddled > 5
    assert b.chip.rx_wr < d._rx_ptr or b.chip.rx_wr == d._rx_ptr  # consistent
    assert d.rx_frames == 200 and d.tx_frames == 200


def test_receive_buffer_full_drops_then_recovers():
    b, lan, clock = _bench()
    d = b.driver
    lan.preload(chipnet.frame(1514, 9), count=20)
    b.chip.pump_limit = 20
    b.chip.pump()
    assert b.chip.stats["rx"] == 10 and b.chip.stats["rx_overflow"] == 10  # 16384 // 1516
    got = chipnet.read_all(d)
    assert len(got) == 10 and got[-1] == chipnet.frame(1514, 9)
    lan.inject(chipnet.frame(500, 1))
    assert chipnet.read_all(d) == [chipnet.frame(500, 1)]


def test_rsr_read_until_stable():
    # A frame lands between the high and low byte reads of Sn_RX_RSR: the driver
    # must not act on the torn value.
    b, lan, clock = _bench()
    d = b.driver
    b.chip.pump_limit = 1
    for i in range(12):
        lan.inject(chipnet.frame(200 + i, i))
    b.chip.tear_rsr = 20
    got = chipnet.read_all(d)
    assert len(got) == 12 and got[11] == chipnet.frame(211, 11)
    assert d.rx_resync == 0


def test_link_down_send_hangs_then_socket_reopens():
    b, lan, clock = _bench()
    d = b.driver
    assert d.link_up()
    b.chip.set_link(False)
    assert not d.link_up()
    d.send(chipnet.frame(100, 1))  # SEND with no link never completes (ref §7 #8)
    d.send(chipnet.frame(100, 2))  # times out waiting, reopens, sends this one
    assert d.tx_timeout == 1 and d.reopens == 1
    b.chip.set_link(True)
    assert d.link_up()
    d.send(chipnet.frame(100, 3))
    assert lan.take() == [chipnet.frame(100, 3)]
    lan.inject(chipnet.frame(100, 4))
    assert chipnet.read_all(d) == [chipnet.frame(100, 4)]


def test_hardware_reset_and_power_loss_are_recovered():
    b, lan, clock = _bench()
    d = b.driver
    b.rst(0)  # someone pulls RSTn
    b.rst(1)
    assert b.chip.sock[0][0x03] == 0  # configuration gone
    assert d.link_up()  # the health check finds it and sets the chip up again
    assert d.chip_faults == 1 and d.reinits == 1
    lan.inject(chipnet.frame(100, 1))
    assert chipnet.read_all(d) == [chipnet.frame(100, 1)]


def test_stuck_miso_all_ones_and_all_zeros():
    for value in (0xFF, 0x00):
        b, lan, clock = _bench()
        d = b.driver
        b.chip.stall(value, transactions=40)
        lan.inject(chipnet.frame(100, 1))
        for i in range(10):
            d.recv_into(bytearray(1514))
            d.send(chipnet.frame(100, 2))
            d.link_up()
        assert d.chip_faults >= 1, value
        assert d.link_up() and not d._dead, value
        lan.take()
        d.send(chipnet.frame(100, 3))
        assert lan.take() == [chipnet.frame(100, 3)], value


def test_corrupt_and_oversize_headers():
    b, lan, clock = _bench()
    d = b.driver
    lan.inject(chipnet.frame(100, 1))
    b.chip.pump()
    b.chip.corrupt_next_header(0xFFFF)  # impossible: framing lost
    lan.inject(chipnet.frame(100, 2))
    lan.inject(chipnet.frame(100, 3))
    b.chip.pump()
    got = chipnet.read_all(d)
    assert got == [chipnet.frame(100, 1)] and d.rx_resync == 1
    b.chip.inject_oversize(2000)  # consistent header, bigger than any frame
    lan.inject(chipnet.frame(100, 4))
    b.chip.pump()
    assert chipnet.read_all(d) == [chipnet.frame(100, 4)] and d.rx_oversize == 1
    lan.inject(chipnet.frame(1514, 5))  # larger than the caller's buffer: skipped
    assert d.recv_into(bytearray(1000)) == 0 and d.rx_oversize == 2
    lan.inject(chipnet.frame(100, 6))
    assert chipnet.read_all(d) == [chipnet.frame(100, 6)]


def test_wait_on_int_pin_and_without():
    for use_int in (True, False):
        b, lan, clock = _bench(use_int=use_int)
        d = b.driver
        t0 = clock.now
        d.wait(50)  # nothing arrives: the whole timeout passes (virtual time)
        assert clock.now - t0 >= 50, use_int
        lan.inject(chipnet.frame(100, 1))
        t0 = clock.now
        d.wait(50)
        assert clock.now == t0, use_int
        assert chipnet.read_all(d) == [chipnet.frame(100, 1)]


def test_model_rejects_driver_bugs():
    # Raw SPI against the model: what the real chip would mishandle raises.
    chip = W5500Chip(None)
    spi = SPI()
    cs = Pin(value=1)
    spi.attach(chip, cs)

    def frame(addr, ctl, data):
        cs(0)
        try:
            spi.write(bytes((addr >> 8, addr & 0xFF, ctl)) + bytes(data))
        finally:
            cs(1)

    hdr = bytearray(4)
    cs(0)
    spi.write_readinto(bytes((0x00, 0x39, 0x00, 0x00)), hdr)  # VERSIONR
    cs(1)
    assert hdr == bytes((0x01, 0x02, 0x03, 0x04))  # MISO during the header, then data
    frame(0x001E, 0x0C, (16, 16))  # socket 0: 16 KB + 16 KB
    frame(0x0000, 0x0C, (0x01,))  # Sn_MR = TCP: not emulated
    support.raises(ChipError, frame, 0x0001, 0x0C, (0x01,))
    frame(0x0000, 0x0C, (0x04,))  # Sn_MR = MACRAW
    support.raises(ChipError, frame, 0x0001, 0x0C, (0x01,))  # sum 16 + 2*7 > 16 KB
    for sn in range(1, 8):
        frame(0x001E, ((sn << 2) | 1) << 3 | 4, (0, 0))
    support.raises(ChipError, frame, 0x001E, 0x0C, (3, 16))  # not a valid size
    frame(0x0001, 0x0C, (0x01,))  # OPEN
    assert chip.sock[0][0x03] == 0x42
    support.raises(ChipError, frame, 0x0001, 0x0C, (0x20,))  # SEND of 0 bytes
    cs(0)
    spi.write(bytes((0x00, 0x00, 0x18)))
    try:
        support.raises(ChipError, spi.readinto, bytearray(2))  # RX read, nothing received
    finally:
        cs(1)
    support.raises(ChipError, frame, 0x0000, 0x20, (0,))  # reserved block 4
    chip.cr_busy_reads = 5
    frame(0x0024, 0x0C, (0x00, 0x10))  # TX_WR = 16
    frame(0x0001, 0x0C, (0x20,))  # SEND, still busy for 5 polls...
    support.raises(ChipError, frame, 0x0001, 0x0C, (0x40,))  # ...RECV written meanwhile
    support.raises(ChipError, frame, 0x0039, 0x01, (0, 0))  # FDM 1 byte, 2 sent
