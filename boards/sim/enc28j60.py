# A register-level model of the Microchip ENC28J60 (silicon Rev. B7) for the fake
# SPI bus (boards/sim/spibus.py).
#
# Facts from ../shared/reference/enc28j60.md (data sheet DS39662E, Rev. B7 errata
# DS80349C, the Linux driver); "ref §" below cites that sheet. Modelled:
#  - the SPI instruction set (ref §1.1): RCR (with the dummy byte before MAC/MII
#    registers), RBM, WCR, WBM, BFS/BFC (ETH registers only), SRC;
#  - four register banks selected by ECON1.BSEL with EIE/EIR/ESTAT/ECON2/ECON1 in all
#    of them, reset values (ref §2.1), EREVID = 0x06 (B7);
#  - the 8 KB buffer: ERDPT/EWRPT auto-increment with the ERXND -> ERXST wrap on
#    reads (ref §1.2), the receive FIFO with the ERXRDPT write-protect boundary,
#    ERXWRPT, the 6-byte next-pointer + status-vector header, even packet starts,
#    EPKTCNT and ECON2.PKTDEC, EIR.PKTIF/RXERIF (ref §4, §5, §8);
#  - transmit from ETXST (control byte) to ETXND, PADCFG/TXCRCEN or the per-packet
#    override, the 7-byte TSV at ETXND + 1, TXRTS/TXIF/TXERIF/ESTAT.TXABRT, TXRST
#    (ref §6, §9); ERXFCON unicast/broadcast/multicast/CRC filtering (ref §3.2);
#  - MII access to the PHY registers with MISTAT.BUSY (ref §3.4, §3.5): PHCON1,
#    PHSTAT1 (LLSTAT latching low), PHID1/2, PHCON2, PHSTAT2.LSTAT, PHIE, PHIR,
#    PHLCON; link changes raise PHIR.PLNKIF and EIR.LINKIF;
#  - the INT pin (ESTAT.INT: EIE.INTIE and an enabled EIR flag).
# The wire side is any LAN-driver-shaped object (SimPort, TAP, AF_PACKET, MockLan);
# frames are taken from it whenever the host starts an SPI transaction or samples INT.
#
# errata=True (the default) reproduces the Rev. B7 behaviour a driver must work
# around (numbers as in ref §10): #2 SRC does not clear CLKRDY, so an access right
# after SRC is refused until the driver has waited; #5 writing ERXST/ERXND with
# ERXST != 0 puts the internal write pointer at 0; #6 EIR.PKTIF reads 0 every other
# time while packets wait; #9 half duplex without PHCON2.HDLDIS loops our own frames
# back; #12 an aborted transmission leaves TXRTS stuck until TXRST; #13/#15 a late
# collision shows in the TSV (bit 29) but not in ESTAT.LATECOL; #14 an even ERXRDPT
# corrupts the next packet's header; #19 SRC is ignored in power-save. strict=True
# (the default) turns the ones a driver can avoid (#2, #5, #9, #14, #19) into a
# ChipError at once, as it does for other misuse: BFS/BFC on a MAC/MII register,
# ERXST/ERXND changed while RXEN, a read of receive memory holding no received data,
# a write into the receive FIFO while RXEN, PKTDEC with EPKTCNT 0, an MII access while
# MISTAT.BUSY, TXRTS while a transmission is running, MACON3.FULDPX != PHCON1.PDPXMD,
# DMA (not emulated).
#
# Fault injection: corrupt_next_header(next_ptr=None, count=None), next_status(bits),
# inject_oversize(n), tx_abort("late" | "excess"), stall(value, transactions),
# set_link(up), mii_busy_reads / tx_polls (the chip takes a few polls).

from boards.sim.spibus import ChipError
from spinet.compat import const, ticks_diff, ticks_ms
from spinet.ring import copy as _copy

MEM = 0x2000
FRAME_MAX = 1514

# common registers (every bank)
_EIE = const(0x1B)
_EIR = const(0x1C)
_ESTAT = const(0x1D)
_ECON2 = const(0x1E)
_ECON1 = const(0x1F)
# bank 0
_ERDPTL = const(0x00)
_EWRPTL = const(0x02)
_ETXSTL = const(0x04)
_ETXNDL = const(0x06)
_ERXSTL = const(0x08)
_ERXNDL = const(0x0A)
_ERXRDPTL = const(0x0C)
_ERXWRPTL = const(0x0E)
# bank 1
_ERXFCON = const(0x18)
_EPKTCNT = const(0x19)
# bank 2
_MACON1 = const(0x00)
_MACON3 = const(0x02)
_MAMXFLL = const(0x0A)
_MICMD = const(0x12)
_MIREGADR = const(0x14)
_MIWRL = const(0x16)
_MIWRH = const(0x17)
_MIRDL = const(0x18)
_MIRDH = const(0x19)
# bank 3
_MISTAT = const(0x0A)
_EREVID = const(0x12)
_ECOCON = const(0x15)

_EIR_PKTIF = const(0x40)
_EIR_LINKIF = const(0x10)
_EIR_TXIF = const(0x08)
_EIR_TXERIF = const(0x02)
_EIR_RXERIF = const(0x01)
_ECON1_TXRST = const(0x80)
_ECON1_RXRST = const(0x40)
_ECON1_DMAST = const(0x20)
_ECON1_TXRTS = const(0x08)
_ECON1_RXEN = const(0x04)
_ECON2_AUTOINC = const(0x80)
_ECON2_PKTDEC = const(0x40)
_ECON2_PWRSV = const(0x20)

_PHCON1 = const(0x00)
_PHSTAT1 = const(0x01)
_PHCON2 = const(0x10)
_PHSTAT2 = const(0x11)
_PHIE = const(0x12)
_PHIR = const(0x13)
_PHLCON = const(0x14)


def _mac_reg(bank, a):
    """MAC/MII registers: RCR clocks a dummy byte first; BFS/BFC do not apply."""
    return (bank == 2 and a < 0x1B) or (bank == 3 and (a <= 0x05 or a == _MISTAT))


class ENC28J60Chip:
    def __init__(self, wire=None, name="enc28j60", strict=True, errata=True):
        self.wire = wire
        self.name = name
        self.strict = strict
        self.errata = errata
        self.mem = bytearray(MEM)
        self.banks = [bytearray(32) for _ in range(4)]
        self.phy = [0] * 32
        self._rxf = bytearray(FRAME_MAX + 64)
        self._txf = bytearray(FRAME_MAX + 8)
        self._txmv = memoryview(self._txf)
        self._txviews = {}
        self._hdr = bytearray(6)
        self.link = True
        self.in_reset = False
        self.stats = {"rx": 0, "tx": 0, "rx_overflow": 0, "rx_filtered": 0, "rx_disabled": 0,
                      "rx_oversize": 0, "tx_aborted": 0, "tx_link_down": 0, "loopback": 0,
                      "resets": 0}
        self.mii_busy_reads = 1  # MISTAT reads that still show BUSY after an MII command
        self.tx_polls = 0  # ECON1 reads before a transmission completes
        self.pump_limit = 4
        self._stall_left = 0
        self._stall_value = 0xFF
        self._stall_reset = True
        self._stalled = False
        self._abort = None
        self._corrupt_next = None
        self._corrupt_count = None
        self._status_bits = None
        self._st = 0
        self._op = 0
        self._k = 0
        self._v = 0
        self._power_on()
        self.banks[3][_ECOCON] = 0x04  # CLKOUT = 6.25 MHz; SRC keeps it

    # --- reset ------------------------------------------------------------------------

    def _power_on(self):
        eco = self.banks[3][_ECOCON]
        for b in self.banks:
            for i in range(32):
                b[i] = 0
        b0 = self.banks[0]
        for a in (_ERDPTL, _ERXSTL, _ERXRDPTL):
            b0[a] = 0xFA  # 0x05FA
            b0[a + 1] = 0x05
        b0[_ERXNDL] = 0xFF
        b0[_ERXNDL + 1] = 0x1F
        b0[_ECON2] = _ECON2_AUTOINC
        b0[_ESTAT] = 0x01  # CLKRDY
        self.banks[1][_ERXFCON] = 0xA1
        b2 = self.banks[2]
        b2[0x08] = 0x0F  # MACLCON1
        b2[0x09] = 0x37  # MACLCON2
        b2[_MAMXFLL] = 0x00
        b2[_MAMXFLL + 1] = 0x06
        self.banks[3][_EREVID] = 0x06  # Rev. B7
        self.banks[3][_ECOCON] = eco
        p = self.phy
        for i in range(32):
            p[i] = 0
        p[_PHSTAT1] = 0x1800  # PFDPX | PHDPX capabilities
        p[0x02] = 0x0083
        p[0x03] = 0x1400
        p[_PHLCON] = 0x3422
        self.rdpt = 0x05FA  # effective ERXRDPT (taken when ERXRDPTH is written)
        self.wrpt = 0
        self.pktcnt = 0
        self._rdpt_l = 0xFA
        self._mii_busy = 0
        self._tx_left = -1  # ECON1 reads until the running transmission completes
        self._tx_stuck = False
        self._src_wait = False
        self._pkt_toggle = 0
        self._llstat_low = True  # PHSTAT1.LLSTAT latched low since reset
        self._last_link = self._link()
        self.stats["resets"] += 1

    def reset_line(self, level):
        if level == 0:
            self.in_reset = True
        elif self.in_reset:
            self.in_reset = False
            self._power_on()

    def mode_check(self, polarity, phase, baudrate):
        if polarity or phase:
            raise ChipError("ENC28J60 takes SPI mode 0 only")
        if baudrate > 20_000_000:
            raise ChipError("SPI clock above the ENC28J60's 20 MHz")

    # --- helpers ----------------------------------------------------------------------

    def _w16(self, bank, a):
        b = self.banks[bank]
        return b[a] | (b[a + 1] << 8)

    def _set16(self, bank, a, v):
        b = self.banks[bank]
        b[a] = v & 0xFF
        b[a + 1] = (v >> 8) & 0x1F

    def _bank(self):
        return self.banks[0][_ECON1] & 3

    def _link(self):
        if not self.link or self.in_reset:
            return False
        w = self.wire
        return w is None or w.link_up()

    def set_link(self, up):
        self.link = bool(up)
        self._link_event()

    def _link_event(self):
        now = self._link()
        if now != self._last_link:
            self._last_link = now
            if not now:
                self._llstat_low = True
            self.phy[_PHIR] |= 0x14  # PLNKIF | PGIF
            if (self.phy[_PHIE] & 0x12) == 0x12:
                self.banks[0][_EIR] |= _EIR_LINKIF

    def _eir(self):
        e = self.banks[0][_EIR] & ~_EIR_PKTIF
        if self.pktcnt:
            e |= _EIR_PKTIF
        return e

    def int_level(self):
        """INT pin: low (0) while ESTAT.INT would be set."""
        if self.in_reset or self._stalled:
            return 1
        self.pump()
        b0 = self.banks[0]
        eie = b0[_EIE]
        if eie & 0x80 and (self._eir() & eie & 0x7F):
            return 0
        return 1

    def sleep_ms(self, ms):
        """The delay_ms the driver gets on the virtual board (see sim_w5500.py)."""
        self._src_wait = False  # errata #2: the host waited after SRC
        w = self.wire
        if w is not None and hasattr(w, "wait"):
            w.wait(ms)
        self.pump()

    # --- receive ------------------------------------------------------------------------

    def pump(self):
        w = self.wire
        if w is None:
            return
        self._link_event()
        for _ in range(self.pump_limit):
            n = w.recv_into(self._rxf)
            if not n:
                return
            self._arrive(self._rxf, n)

    def _fifo(self):
        return self._w16(0, _ERXSTL), self._w16(0, _ERXNDL)

    def _free(self):
        st = self._w16(0, _ERXSTL)
        nd = self._w16(0, _ERXNDL)
        wr = self.wrpt
        rd = self.rdpt
        if wr > rd:
            return (nd - st) - (wr - rd)
        if wr == rd:
            return nd - st
        return rd - wr - 1

    def _arrive(self, f, n):
        st = self.stats
        if self.in_reset:
            return
        if n > FRAME_MAX:
            st["rx_oversize"] += 1
            return
        while n < 60:
            f[n] = 0
            n += 1
        if not self.banks[0][_ECON1] & _ECON1_RXEN:
            st["rx_disabled"] += 1
            return
        fc = self.banks[1][_ERXFCON]
        if fc & 0x18:
            raise ChipError("pattern-match / magic-packet filters are not emulated")
        bc = f[0] == 0xFF and f[1] == 0xFF and f[2] == 0xFF and f[3] == 0xFF and \
            f[4] == 0xFF and f[5] == 0xFF
        if fc & 0xC7:  # any address filter on (0 = promiscuous)
            ok = False
            if bc:
                ok = bool(fc & 0x01)
            elif f[0] & 1:
                ok = bool(fc & 0x02)
            elif fc & 0x80:
                b3 = self.banks[3]
                ok = (f[0] == b3[4] and f[1] == b3[5] and f[2] == b3[2] and f[3] == b3[3] and
                      f[4] == b3[0] and f[5] == b3[1])
            if not ok:
                st["rx_filtered"] += 1
                return
        status = 0x0080 | (0x0200 if bc else (0x0100 if f[0] & 1 else 0))
        self._store(f, n, status)

    def _store(self, f, n, status):
        """Write one packet (frame + 4-byte CRC) into the FIFO at ERXWRPT."""
        if self._status_bits is not None:
            status = self._status_bits
            self._status_bits = None
        st = self._w16(0, _ERXSTL)
        nd = self._w16(0, _ERXNDL)
        count = n + 4
        total = 6 + count
        if total & 1:
            total += 1  # packets start at even addresses
        if total > self._free() or self.pktcnt >= 255:
            self.banks[0][_EIR] |= _EIR_RXERIF
            self.stats["rx_overflow"] += 1
            return
        size = nd - st + 1
        p = self.wrpt
        nxt = st + (p - st + total) % size
        h = self._hdr
        hn = nxt
        hc = count
        if self._corrupt_next is not None:
            hn = self._corrupt_next
            self._corrupt_next = None
        if self._corrupt_count is not None:
            hc = self._corrupt_count
            self._corrupt_count = None
        if self.errata and self.rdpt & 1 == 0:
            hn ^= 0x0155  # errata #14: an even ERXRDPT corrupts the FIFO
        h[0] = hn & 0xFF
        h[1] = (hn >> 8) & 0xFF
        h[2] = hc & 0xFF
        h[3] = (hc >> 8) & 0xFF
        h[4] = status & 0xFF
        h[5] = (status >> 8) & 0xFF
        p = self._put(p, h, 6, st, nd)
        p = self._put(p, f, n, st, nd)
        m = self.mem
        for _ in range(4):  # CRC (not computed: the wire has no FCS to check)
            m[p] = 0
            p = st if p == nd else p + 1
        self.wrpt = nxt
        self.pktcnt += 1
        self.stats["rx"] += 1

    def _put(self, p, src, n, st, nd):
        m = self.mem
        o = 0
        while n > 0:
            c = nd - p + 1
            if c > n:
                c = n
            _copy(m, p, src, o, c)
            o += c
            n -= c
            p += c
            if p > nd:
                p = st
        return p

    # --- fault injection -----------------------------------------------------------

    def corrupt_next_header(self, next_ptr=None, count=None):
        """The next stored packet gets this next-packet pointer and/or byte count."""
        self._corrupt_next = next_ptr
        self._corrupt_count = count

    def next_status(self, bits):
        """The next stored packet's status word (RSV bits 31..16) is `bits`, e.g.
        0x0010 (CRC error, RX OK clear)."""
        self._status_bits = bits

    def inject_oversize(self, n):
        """Store an n-byte packet (n > 1514) with a consistent header, as if the MAC
        had let a giant through (MAMXFL ignored)."""
        f = bytearray(n)
        for i in range(n):
            f[i] = i & 0xFF
        self._store(f, n, 0x0080)

    def tx_abort(self, kind="late"):
        """The next transmission aborts: "late" collision (errata #13) or "excess"
        collisions. With errata, TXRTS then stays set (#12)."""
        self._abort = kind

    def stall(self, value=0xFF, transactions=10, reset_after=True):
        self._stall_left = transactions
        self._stall_value = value
        self._stall_reset = reset_after

    # --- SPI ----------------------------------------------------------------------------

    def begin(self):
        self._st = 0
        self._k = 0
        self._stalled = self._stall_left > 0 or self.in_reset
        if self._stalled:
            return
        if self._src_wait and ticks_diff(ticks_ms(), self._src_t) >= 2:
            self._src_wait = False  # a driver on real time (compat.sleep_ms) waited
        if self._src_wait and self.strict:
            raise ChipError("errata #2: SPI access right after SRC (wait >= 1 ms; "
                            "CLKRDY is not cleared by SRC)")
        self.pump()

    def end(self):
        if self._stall_left > 0:
            self._stall_left -= 1
            if self._stall_left == 0 and self._stall_reset:
                self._power_on()
        self._st = 0

    def xfer(self, mosi, miso, n, fill):
        if self._stalled:
            if miso is not None:
                v = 0xFF if self.in_reset else self._stall_value
                for i in range(n):
                    miso[i] = v
            return
        i = 0
        while i < n:
            if self._st == 0:
                b = mosi[i] if mosi is not None else fill
                if miso is not None:
                    miso[i] = 0
                self._opcode(b)
                i += 1
                continue
            op = self._op
            if op == 1 or op == 3:  # RBM / WBM: the rest of the transaction
                if op == 1:
                    self._rbm(miso, i, n - i)
                else:
                    self._wbm(mosi, i, n - i, fill)
                return
            b = mosi[i] if mosi is not None else fill
            self._k += 1
            k = self._k
            if op == 0:
                if miso is not None:
                    if self._mac and k == 1:
                        miso[i] = 0  # dummy byte
                    else:
                        miso[i] = self._v
            elif k == 1:
                if miso is not None:
                    miso[i] = 0
                if op == 2:
                    self._write(self._arg, b)
                elif op == 4 or op == 5:
                    self._bitop(op, self._arg, b)
            elif miso is not None:
                miso[i] = 0
            i += 1

    def _opcode(self, b):
        op = b >> 5
        a = b & 0x1F
        self._op = op
        self._arg = a
        self._st = 1
        self._k = 0
        if op == 7:
            if a != 0x1F:
                raise ChipError("unknown opcode 0x%02x" % b)
            self._system_reset()
            return
        if op == 6 or ((op == 1 or op == 3) and a != 0x1A):
            raise ChipError("unknown opcode 0x%02x" % b)
        if op == 0:
            bank = self._bank()
            self._mac = a < 0x1B and _mac_reg(bank, a)
            self._v = self._read(a)

    def _system_reset(self):
        if self.banks[0][_ECON2] & _ECON2_PWRSV:
            if self.strict:
                raise ChipError("errata #19: SRC while ECON2.PWRSV is set is ignored")
            return
        self._power_on()
        if self.errata:
            self._src_wait = True  # errata #2: CLKRDY still reads 1; wait anyway
            self._src_t = ticks_ms()

    # --- control registers ---------------------------------------------------------------

    def _read(self, a):
        b0 = self.banks[0]
        if a >= 0x1B:
            if a == _EIR:
                e = self._eir()
                if self.errata and e & _EIR_PKTIF:
                    self._pkt_toggle ^= 1
                    if self._pkt_toggle:
                        e &= ~_EIR_PKTIF  # errata #6: PKTIF is not a reliable status
                return e
            if a == _ESTAT:
                v = b0[_ESTAT] & 0x7F
                eie = b0[_EIE]
                if eie & 0x80 and (self._eir() & eie & 0x7F):
                    v |= 0x80
                return v
            if a == _ECON1:
                if self._tx_left > 0:
                    self._tx_left -= 1
                    if self._tx_left == 0:
                        self._tx_finish()
                return b0[_ECON1]
            return b0[a]
        bank = self._bank()
        if bank == 0:
            if a == _ERXWRPTL:
                return self.wrpt & 0xFF
            if a == _ERXWRPTL + 1:
                return (self.wrpt >> 8) & 0x1F
        elif bank == 1:
            if a == _EPKTCNT:
                return self.pktcnt
        elif bank == 2:
            if a in (_MIRDL, _MIRDH) and self._mii_busy and self.strict:
                raise ChipError("MIRD read while MISTAT.BUSY")
        elif bank == 3:
            if a == _MISTAT:
                if self._mii_busy > 0:
                    self._mii_busy -= 1
                    return 0x01
                return 0
        return self.banks[bank][a]

    def _write(self, a, v):
        b0 = self.banks[0]
        if a >= 0x1B:
            if a == _ECON1:
                self._econ1(v)
            elif a == _ECON2:
                self._econ2(v)
            elif a == _EIR:
                b0[_EIR] = (b0[_EIR] & 0x50) | (v & 0x2B)  # PKTIF, LINKIF read-only
            elif a == _ESTAT:
                pass  # read-only (TXABRT/LATECOL/BUFER cleared with BFC)
            else:
                b0[a] = v
            return
        bank = self._bank()
        regs = self.banks[bank]
        if bank == 0:
            if a in (_ERXSTL, _ERXSTL + 1, _ERXNDL, _ERXNDL + 1):
                if b0[_ECON1] & _ECON1_RXEN:
                    raise ChipError("ERXST/ERXND changed while RXEN is set")
                regs[a] = v if a & 1 == 0 else v & 0x1F
                self._fifo_moved()
                return
            if a == _ERXRDPTL:
                self._rdpt_l = v
                regs[a] = v
                return
            if a == _ERXRDPTL + 1:
                regs[a] = v & 0x1F
                self.rdpt = self._rdpt_l | ((v & 0x1F) << 8)
                if self.rdpt & 1 == 0 and self.errata and self.strict:
                    raise ChipError("errata #14: even ERXRDPT 0x%04x" % self.rdpt)
                return
            if a in (_ERXWRPTL, _ERXWRPTL + 1):
                return  # read-only
            if a & 1:
                v &= 0x1F  # pointer high bytes are 5 bits
            regs[a] = v
            return
        if bank == 1:
            if a == _EPKTCNT:
                return
            regs[a] = v
            return
        if bank == 2:
            if self._mii_busy and a in (_MICMD, _MIWRH, _MIWRL, _MIREGADR) and self.strict:
                raise ChipError("MII register written while MISTAT.BUSY")
            regs[a] = v
            if a == _MICMD and v & 0x01:  # MIIRD
                r = self._phy_read(regs[_MIREGADR] & 0x1F)
                regs[_MIRDL] = r & 0xFF
                regs[_MIRDH] = (r >> 8) & 0xFF
                self._mii_busy = self.mii_busy_reads
            elif a == _MICMD and v & 0x02:
                raise ChipError("MIISCAN is not emulated")
            elif a == _MIWRH:
                self._phy_write(regs[_MIREGADR] & 0x1F, regs[_MIWRL] | (v << 8))
                self._mii_busy = self.mii_busy_reads
            return
        if a in (_MISTAT, _EREVID):
            return
        regs[a] = v

    def _bitop(self, op, a, m):
        bank = self._bank()
        if a < 0x1B and _mac_reg(bank, a):
            raise ChipError("BFS/BFC on MAC/MII register 0x%02x (bank %d)" % (a, bank))
        if a >= 0x1B:
            cur = self.banks[0][a]
            if a == _ESTAT:
                if op == 5:  # BFC clears TXABRT/LATECOL/BUFER
                    self.banks[0][_ESTAT] = cur & ~(m & 0x52) & 0xFF
                return
        else:
            cur = self.banks[bank][a]
        if a == _EIR:
            cur = self.banks[0][_EIR]
        v = (cur | m) if op == 4 else (cur & ~m & 0xFF)
        if a == _ECON1 and op == 4:
            self._econ1(v, m)
        elif a == _ECON1:
            self._econ1(v)
        else:
            self._write(a, v)

    def _fifo_moved(self):
        st = self._w16(0, _ERXSTL)
        nd = self._w16(0, _ERXNDL)
        # Errata #5: writing ERXST/ERXND may load 0x0000 (not ERXST) into the internal
        # write pointer; harmless only when the FIFO starts at 0.
        self.wrpt = 0 if self.errata else st

    def _econ2(self, v):
        b0 = self.banks[0]
        if v & _ECON2_PKTDEC:
            if self.pktcnt == 0:
                if self.strict:
                    raise ChipError("PKTDEC with EPKTCNT 0")
            else:
                self.pktcnt -= 1
        b0[_ECON2] = v & ~_ECON2_PKTDEC & 0xFF

    def _econ1(self, v, setmask=0):
        b0 = self.banks[0]
        old = b0[_ECON1]
        if v & _ECON1_DMAST:
            raise ChipError("DMA is not emulated (errata #17 makes its checksum unusable)")
        if v & _ECON1_TXRST:
            v &= ~_ECON1_TXRTS & 0xFF  # TX logic held in reset
            self._tx_stuck = False
            self._tx_left = -1
        if v & _ECON1_RXRST:
            v &= ~_ECON1_RXEN & 0xFF
            self.pktcnt = 0
            self.wrpt = self._w16(0, _ERXSTL)
        if (v & _ECON1_RXEN) and not (old & _ECON1_RXEN):
            self._duplex_check()
            st = self._w16(0, _ERXSTL)
            nd = self._w16(0, _ERXNDL)
            if self.strict and (self.wrpt != st or nd <= st or st & 1 or not nd & 1):
                raise ChipError("RXEN with the FIFO at 0x%04x-0x%04x, write pointer 0x%04x "
                                "(errata #5: start at 0; #14: even start, odd end)"
                                % (st, nd, self.wrpt))
        start = (v & _ECON1_TXRTS) and not (old & _ECON1_TXRTS)
        if old & _ECON1_TXRTS and not (v & _ECON1_TXRTS) and not (v & _ECON1_TXRST):
            self._tx_left = -1  # the host cancelled a running transmission
            self._tx_stuck = False
        if (setmask & _ECON1_TXRTS) and (old & _ECON1_TXRTS) and self.strict:
            raise ChipError("TXRTS set while a transmission is running")
        b0[_ECON1] = v
        if start:
            self._tx_start()

    def _duplex_check(self):
        full = self.banks[2][_MACON3] & 1
        pd = (self.phy[_PHCON1] >> 8) & 1
        if full != pd and self.strict:
            raise ChipError("MACON3.FULDPX %d but PHCON1.PDPXMD %d" % (full, pd))

    # --- PHY ---------------------------------------------------------------------------------

    def _phy_read(self, r):
        p = self.phy
        link = self._link()
        if r == _PHSTAT1:
            v = p[_PHSTAT1] | (0x0004 if (link and not self._llstat_low) else 0)
            self._llstat_low = not link  # LLSTAT latches low until read
            return v
        if r == _PHSTAT2:
            return (0x0400 if link else 0) | (0x0200 if p[_PHCON1] & 0x0100 else 0)
        if r == _PHIR:
            v = p[_PHIR]
            p[_PHIR] = 0
            self.banks[0][_EIR] &= ~_EIR_LINKIF & 0xFF
            return v
        return p[r]

    def _phy_write(self, r, v):
        p = self.phy
        if r == _PHCON1:
            if v & 0x8000:  # PRST
                self._phy_reset()
                return
            if v & 0x4000 and self.strict:
                raise ChipError("errata #10: PHY loopback (PLOOPBK) is unreliable")
            p[_PHCON1] = v & 0x0900
        elif r in (_PHCON2, _PHIE, _PHLCON):
            p[r] = v
        # PHSTAT*, PHID*, PHIR are read-only

    def _phy_reset(self):
        p = self.phy
        p[_PHCON1] = 0
        p[_PHCON2] = 0
        p[_PHIE] = 0
        p[_PHIR] = 0
        p[_PHLCON] = 0x3422

    # --- transmit -------------------------------------------------------------------------

    def _tx_start(self):
        b0 = self.banks[0]
        if self._tx_stuck:
            return  # errata #12: nothing happens until TXRST
        self._duplex_check()
        full = self.banks[2][_MACON3] & 1
        if not full and self.errata and not (self.phy[_PHCON2] & 0x0100) and self.strict:
            raise ChipError("errata #9: half duplex without PHCON2.HDLDIS loops frames back")
        st = self._w16(0, _ETXSTL)
        nd = self._w16(0, _ETXNDL)
        if nd < st:
            raise ChipError("ETXND 0x%04x before ETXST 0x%04x" % (nd, st))
        s0 = self._w16(0, _ERXSTL)
        e0 = self._w16(0, _ERXNDL)
        if b0[_ECON1] & _ECON1_RXEN and not (nd < s0 or st > e0):
            raise ChipError("transmit buffer overlaps the receive FIFO")
        self._tx_left = self.tx_polls if self.tx_polls else 0
        if not self.tx_polls:
            self._tx_finish()

    def _tx_finish(self):
        b0 = self.banks[0]
        st = self._w16(0, _ETXSTL)
        nd = self._w16(0, _ETXNDL)
        m = self.mem
        ctl = m[st]
        n = nd - st  # frame bytes after the control byte
        mac3 = self.banks[2][_MACON3]
        if ctl & 1:  # POVERRIDE
            crc = ctl & 0x02
            pad = ctl & 0x04
            huge = ctl & 0x08
        else:
            crc = mac3 & 0x10
            pad = (mac3 >> 5) & 1  # PADCFG odd codes pad (001 60, 011/111 64, 101 auto)
            huge = mac3 & 0x04
        if not crc:
            n -= 4  # the host supplied the FCS itself
        abort = self._abort
        self._abort = None
        mamxfl = self._w16(2, _MAMXFLL)
        giant = n + 4 > mamxfl and not huge
        if n <= 0 or n > FRAME_MAX:
            raise ChipError("transmit of %d frame bytes" % n)
        _copy(self._txf, 0, m, st + 1, n)
        if pad:
            while n < 60:
                self._txf[n] = 0
                n += 1
        ok = abort is None and not giant
        if ok:
            if not self._link():
                self.stats["tx_link_down"] += 1
            else:
                self._emit(n)
        else:
            self.stats["tx_aborted"] += 1
        # TSV at ETXND + 1 (ref §6): byte count, status bits 16-31, total, control
        f = self._txf
        bc = f[0] == 0xFF and f[1] == 0xFF and f[2] == 0xFF
        b2 = (0x80 if ok else 0) | (0x0F if abort == "excess" else 0)
        b3 = (0x02 if bc else (0x01 if f[0] & 1 else 0)) | \
            (0x10 if abort == "excess" else 0) | (0x20 if abort == "late" else 0) | \
            (0x40 if giant else 0)
        t = nd + 1
        m[t & 0x1FFF] = n & 0xFF
        m[(t + 1) & 0x1FFF] = (n >> 8) & 0xFF
        m[(t + 2) & 0x1FFF] = b2
        m[(t + 3) & 0x1FFF] = b3
        m[(t + 4) & 0x1FFF] = n & 0xFF  # total bytes on the wire
        m[(t + 5) & 0x1FFF] = (n >> 8) & 0xFF
        m[(t + 6) & 0x1FFF] = 0
        if ok:
            b0[_ECON1] &= ~_ECON1_TXRTS & 0xFF
            b0[_EIR] |= _EIR_TXIF
        else:
            b0[_EIR] |= _EIR_TXIF | _EIR_TXERIF
            b0[_ESTAT] |= 0x02  # TXABRT (LATECOL stays 0: errata #15)
            if not self.errata:
                if abort == "late":
                    b0[_ESTAT] |= 0x10
                b0[_ECON1] &= ~_ECON1_TXRTS & 0xFF
            else:
                self._tx_stuck = True  # errata #12: TXRTS stays set
        self._tx_left = -1

    def _emit(self, n):
        v = self._txviews.get(n)
        if v is None:
            v = self._txmv[0:n]
            if len(self._txviews) < 16:
                self._txviews[n] = v
        self.stats["tx"] += 1
        if self.wire is not None:
            self.wire.send(v)

    # --- buffer memory ----------------------------------------------------------------------

    def _rx_readable(self, p, c):
        st = self._w16(0, _ERXSTL)
        nd = self._w16(0, _ERXNDL)
        size = nd - st + 1
        s = st if self.rdpt >= nd or self.rdpt < st else self.rdpt + 1
        used = (self.wrpt - s) % size
        off = (p - s) % size
        return off + c <= used

    def _rbm(self, miso, off, k):
        b0 = self.banks[0]
        p = b0[_ERDPTL] | (b0[_ERDPTL + 1] << 8)
        m = self.mem
        if not b0[_ECON2] & _ECON2_AUTOINC:
            if miso is not None:
                for j in range(k):
                    miso[off + j] = m[p]
            return
        st = self._w16(0, _ERXSTL)
        nd = self._w16(0, _ERXNDL)
        while k > 0:
            if st <= p <= nd:
                c = nd - p + 1
            else:
                c = MEM - p
            if c > k:
                c = k
            if st <= p <= nd and self.strict and b0[_ECON1] & _ECON1_RXEN and \
                    not self._rx_readable(p, c):
                raise ChipError("RBM of %d bytes at 0x%04x: no received data there" % (c, p))
            if miso is not None:
                _copy(miso, off, m, p, c)
            off += c
            k -= c
            p += c
            if p == nd + 1 and st <= p - 1 <= nd:
                p = st
            elif p >= MEM:
                p = 0
        b0[_ERDPTL] = p & 0xFF
        b0[_ERDPTL + 1] = (p >> 8) & 0x1F

    def _wbm(self, mosi, off, k, fill):
        b0 = self.banks[0]
        p = b0[_EWRPTL] | (b0[_EWRPTL + 1] << 8)
        m = self.mem
        st = self._w16(0, _ERXSTL)
        nd = self._w16(0, _ERXNDL)
        auto = b0[_ECON2] & _ECON2_AUTOINC
        while k > 0:
            c = MEM - p if auto else 1
            if c > k:
                c = k
            if self.strict and b0[_ECON1] & _ECON1_RXEN and not (p + c - 1 < st or p > nd):
                raise ChipError("WBM into the receive FIFO at 0x%04x" % p)
            if mosi is not None:
                _copy(m, p, mosi, off, c)
            else:
                for j in range(c):
                    m[p + j] = fill
            off += c
            k -= c
            if auto:
                p = (p + c) & 0x1FFF
        b0[_EWRPTL] = p & 0xFF
        b0[_EWRPTL + 1] = (p >> 8) & 0x1F
