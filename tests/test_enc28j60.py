# The ENC28J60 driver against the register-level ENC28J60 model (Rev. B7, errata on)
# on the fake SPI bus: init sequence (half and full duplex), send, receive, FIFO
# wrap-around, buffer full, EPKTCNT/PKTDEC, link down/up, reset, the errata the
# driver must handle, faults, and the model's own strictness.
# Plain test functions: pytest on CPython, tests/mprun.py on the MicroPython unix port.

import chipnet
import support
from boards import sim_enc28j60
from boards.sim.enc28j60 import ENC28J60Chip
from boards.sim.spibus import SPI, ChipError, Pin
from spinet.drivers.enc28j60 import ENC28J60


def _bench(**kw):
    return chipnet.bench(sim_enc28j60, **kw)


def _r16(chip, bank, a):
    b = chip.banks[bank]
    return b[a] | (b[a + 1] << 8)


def test_init_sequence_half_duplex():
    b, lan, clock = _bench()
    c = b.chip
    assert _r16(c, 0, 0x08) == 0x0000 and _r16(c, 0, 0x0A) == 0x19FF  # ERXST, ERXND
    assert c.rdpt == 0x19FF  # odd (errata #14)
    assert _r16(c, 0, 0x04) == 0x1A00  # ETXST
    assert c.banks[1][0x18] == 0xA1  # ERXFCON: unicast, CRC, broadcast
    b2 = c.banks[2]
    assert b2[0x00] == 0x01 and b2[0x02] == 0x32 and b2[0x03] == 0x40  # MACON1/3/4
    assert b2[0x04] == 0x12 and b2[0x06] == 0x12 and b2[0x07] == 0x0C  # gaps
    assert _r16(c, 2, 0x0A) == 1518  # MAMXFL
    b3 = c.banks[3]
    assert bytes((b3[4], b3[5], b3[2], b3[3], b3[0], b3[1])) == chipnet.MAC  # MAADR1..6
    assert c.phy[0x00] == 0x0000 and c.phy[0x10] == 0x0100  # PDPXMD 0, HDLDIS (#9)
    assert c.phy[0x14] == 0x3476
    assert c.banks[0][0x1F] & 0x04 and c.banks[0][0x1E] == 0x80  # RXEN, AUTOINC
    assert c.banks[0][0x1B] == 0xC0  # EIE: INTIE | PKTIE (INT wired)
    assert b.driver.link_up()


def test_init_sequence_full_duplex():
    b, lan, clock = _bench(full_duplex=True)
    c = b.chip
    assert c.banks[2][0x02] == 0x33 and c.banks[2][0x00] == 0x0D  # FULDPX; pause
    assert c.banks[2][0x04] == 0x15 and c.phy[0x00] == 0x0100
    b.driver.send(chipnet.frame(100, 1))
    assert lan.take() == [chipnet.frame(100, 1)]


def test_no_chip_is_a_clear_error():
    spi = SPI()
    cs = Pin(value=1)
    support.raises(19, ENC28J60, spi, cs, None, chipnet.MAC, False, lambda ms: None)
    chip = ENC28J60Chip(None)
    chip.stall(0x00, transactions=10 ** 6, reset_after=False)
    spi = SPI()
    cs = Pin(value=1)
    spi.attach(chip, cs)
    e = support.raises(19, ENC28J60, spi, cs, None, chipnet.MAC, False, chip.sleep_ms)
    assert "ENC28J60 not found" in str(e)


def test_send_frames_intact_and_padded():
    b, lan, clock = _bench()
    d = b.driver
    sizes = (14, 42, 59, 60, 61, 1000, 1514)
    for n in sizes:
        d.send(chipnet.frame(n, n))
    got = lan.take()
    assert len(got) == len(sizes)
    for f, n in zip(got, sizes):
        assert f[:n] == chipnet.frame(n, n) and len(f) == max(n, 60), n
    d.send(bytes(1515))
    assert d.tx_oversize == 1 and d.tx_frames == len(sizes)


def test_receive_intact_pktdec_and_odd_erxrdpt():
    b, lan, clock = _bench()
    d = b.driver
    sizes = (60, 61, 62, 63, 100, 1001, 1514)
    buf = bytearray(1514)
    for i, n in enumerate(sizes):
        lan.inject(chipnet.frame(n, i))
        m = d.recv_into(buf)
        assert m == n and bytes(buf[:n]) == chipnet.frame(n, i), i
        assert b.chip.rdpt & 1, hex(b.chip.rdpt)  # errata #14: never even
        assert b.chip.pktcnt == 0  # PKTDEC per packet
    assert d.recv_into(buf) == 0 and d.rx_frames == len(sizes)


def test_fifo_wrap_around():
    b, lan, clock = _bench()
    d = b.driver
    buf = bytearray(1514)
    wraps = 0
    last = 0
    for i in range(200):
        n = 60 + (i * 397) % 1455
        lan.inject(chipnet.frame(n, i))
        if i % 3 == 0:
            lan.inject(chipnet.frame(61, i + 5000))  # two waiting at once sometimes
        got = chipnet.read_all(d)
        assert got[0] == chipnet.frame(n, i), i
        assert len(got) == (2 if i % 3 == 0 else 1), i
        if b.chip.wrpt < last:
            wraps += 1
        last = b.chip.wrpt
        d.send(chipnet.frame(n, i))
        assert lan.take() == [chipnet.frame(n, i)]
    assert wraps >= 20 and d.rx_resets == 0


def test_buffer_full_drops_counts_and_recovers():
    b, lan, clock = _bench()
    d = b.driver
    lan.preload(chipnet.frame(1514, 9), count=10)
    b.chip.pump_limit = 10
    b.chip.pump()
    assert b.chip.stats["rx"] == 4 and b.chip.stats["rx_overflow"] == 6  # 6.5 KB FIFO
    assert d.link_up() and d.rx_overflow == 1  # EIR.RXERIF seen and cleared
    got = chipnet.read_all(d)
    assert len(got) == 4 and got[3] == chipnet.frame(1514, 9)
    lan.inject(chipnet.frame(500, 1))
    assert chipnet.read_all(d) == [chipnet.frame(500, 1)]


def test_link_down_and_up():
    b, lan, clock = _bench()
    d = b.driver
    assert d.link_up()
    b.chip.set_link(False)
    assert not d.link_up()
    d.send(chipnet.frame(100, 1))  # the MAC sends into a dead cable: nothing arrives
    b.chip.set_link(True)
    assert d.link_up()
    d.send(chipnet.frame(100, 2))
    assert lan.take() == [chipnet.frame(100, 2)]


def test_late_collision_is_retransmitted_errata_13():
    b, lan, clock = _bench()
    d = b.driver
    b.chip.tx_abort("late")
    d.send(chipnet.frame(300, 1))  # aborts; TXRTS stays set (errata #12)
    assert b.chip.banks[0][0x1F] & 0x08
    d.send(chipnet.frame(300, 2))  # TSV says late collision: reset TX, send again
    assert d.tx_late_retry == 1 and d.tx_errors == 0
    d.send(chipnet.frame(300, 3))
    assert lan.take() == [chipnet.frame(300, 1), chipnet.frame(300, 2), chipnet.frame(300, 3)]


def test_excess_collisions_abort_is_counted_errata_12():
    b, lan, clock = _bench()
    d = b.driver
    b.chip.tx_abort("excess")
    d.send(chipnet.frame(300, 1))
    d.send(chipnet.frame(300, 2))
    d.send(chipnet.frame(300, 3))
    assert d.tx_errors == 1 and d.tx_late_retry == 0
    assert lan.take() == [chipnet.frame(300, 2), chipnet.frame(300, 3)]


def test_errata_off_model_works_too():
    chip = ENC28J60Chip(None, errata=False)
    b, lan, clock = _bench(chip=chip)
    chip.wire = lan
    chip.tx_abort("excess")
    b.driver.send(chipnet.frame(100, 1))  # aborts, TXRTS clears by itself
    b.driver.send(chipnet.frame(100, 2))
    assert b.driver.tx_errors == 1 and lan.take() == [chipnet.frame(100, 2)]
    lan.inject(chipnet.frame(100, 3))
    assert chipnet.read_all(b.driver) == [chipnet.frame(100, 3)]


def test_reset_and_power_loss_are_recovered():
    b, lan, clock = _bench()
    d = b.driver
    b.rst(0)
    b.rst(1)
    assert not b.chip.banks[0][0x1F] & 0x04  # RXEN gone
    assert d.link_up() and d.chip_faults == 1 and d.reinits == 1
    lan.inject(chipnet.frame(100, 1))
    assert chipnet.read_all(d) == [chipnet.frame(100, 1)]


def test_stuck_miso_all_ones_and_all_zeros():
    for value in (0xFF, 0x00):
        b, lan, clock = _bench()
        d = b.driver
        b.chip.stall(value, transactions=60)
        lan.inject(chipnet.frame(100, 1))
        for i in range(10):
            d.recv_into(bytearray(1514))
            d.send(chipnet.frame(100, 2))
            d.link_up()
        assert d.chip_faults >= 1, (value, d.counters())
        assert d.link_up() and not d._dead, value
        lan.take()
        d.send(chipnet.frame(100, 3))
        assert lan.take() == [chipnet.frame(100, 3)], value
        lan.inject(chipnet.frame(100, 4))
        assert chipnet.read_all(d) == [chipnet.frame(100, 4)], value


def test_corrupt_header_resets_receive_logic():
    b, lan, clock = _bench()
    d = b.driver
    b.chip.corrupt_next_header(next_ptr=0x1235)  # odd
    lan.inject(chipnet.frame(100, 1))
    assert chipnet.read_all(d) == [] and d.rx_resets == 1
    b.chip.corrupt_next_header(count=900)  # disagrees with the next pointer
    lan.inject(chipnet.frame(100, 2))
    assert chipnet.read_all(d) == [] and d.rx_resets == 2
    lan.inject(chipnet.frame(100, 3))
    assert chipnet.read_all(d) == [chipnet.frame(100, 3)]


def test_bad_status_oversize_and_small_buffer_are_skipped():
    b, lan, clock = _bench()
    d = b.driver
    b.chip.next_status(0x0010)  # CRC error; bit 23 "received OK" clear
    lan.inject(chipnet.frame(100, 1))
    b.chip.pump()
    b.chip.inject_oversize(2000)
    lan.inject(chipnet.frame(100, 2))
    b.chip.pump()
    assert chipnet.read_all(d) == [chipnet.frame(100, 2)]
    assert d.rx_bad_status == 1 and d.rx_oversize == 1 and d.rx_resets == 0
    lan.inject(chipnet.frame(1514, 3))
    lan.inject(chipnet.frame(100, 4))
    buf = bytearray(1000)
    assert d.recv_into(buf) == 100 and bytes(buf[:100]) == chipnet.frame(100, 4)
    assert d.rx_oversize == 2


def test_even_erxrdpt_corrupts_the_fifo_errata_14():
    # A driver that wrote an even ERXRDPT (here: by hand, on a non-strict model)
    # gets a corrupt next-packet pointer; ours notices and resets the receive logic.
    chip = ENC28J60Chip(None, strict=False)
    b, lan, clock = _bench(chip=chip)
    chip.wire = lan
    b.driver._wcr16(0x0C, 0x1000)  # ERXRDPT = 0x1000: even
    lan.inject(chipnet.frame(100, 1))
    assert chipnet.read_all(b.driver) == [] and b.driver.rx_resets == 1
    lan.inject(chipnet.frame(100, 2))
    assert chipnet.read_all(b.driver) == [chipnet.frame(100, 2)]


def test_wait_on_int_pin_and_without():
    for use_int in (True, False):
        b, lan, clock = _bench(use_int=use_int)
        d = b.driver
        t0 = clock.now
        d.wait(50)
        assert clock.now - t0 >= 50, use_int
        lan.inject(chipnet.frame(100, 1))
        t0 = clock.now
        d.wait(50)
        assert clock.now == t0, use_int
        assert chipnet.read_all(d) == [chipnet.frame(100, 1)]


def test_model_rejects_driver_bugs():
    chip = ENC28J60Chip(None)
    spi = SPI()
    cs = Pin(value=1)
    spi.attach(chip, cs)

    def cmd(*b):
        cs(0)
        try:
            spi.write(bytes(b))
        finally:
            cs(1)

    cmd(0xFF)  # SRC
    support.raises(ChipError, cmd, 0x1F)  # errata #2: no wait after SRC
    chip.sleep_ms(1)
    cmd(0x9F, 0x02)  # BFS ECON1 BSEL1: bank 2
    support.raises(ChipError, cmd, 0x80 | 0x02, 0x01)  # BFS on MACON3 (a MAC register)
    cmd(0xBF, 0x03)  # bank 0
    support.raises(ChipError, cmd, 0x9E, 0x40)  # PKTDEC with EPKTCNT 0
    support.raises(ChipError, cmd, 0x9F, 0x04)  # RXEN: FIFO at 0x05FA (errata #5)
    cmd(0x48, 0x00)  # ERXST = 0x0000
    cmd(0x49, 0x00)
    cmd(0x4C, 0xFF)  # ERXRDPT = 0x1FFF
    cmd(0x4D, 0x1F)
    cmd(0x9F, 0x04)  # RXEN
    support.raises(ChipError, cmd, 0x48, 0x02)  # ERXST while RXEN
    cmd(0x4C, 0x00)
    support.raises(ChipError, cmd, 0x4D, 0x10)  # ERXRDPT = 0x1000: even (errata #14)
    cmd(0x9F, 0x02)  # bank 2
    cmd(0x54, 0x11)  # MIREGADR = PHSTAT2
    cmd(0x52, 0x01)  # MICMD = MIIRD: busy for a while
    support.raises(ChipError, cmd, 0x57, 0x00)  # MIWRH while MISTAT.BUSY
    support.raises(ChipError, cmd, 0x7A, 0x00)  # WBM into the FIFO (EWRPT 0) with RXEN
