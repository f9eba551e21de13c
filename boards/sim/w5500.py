# A register-level model of the WIZnet W5500 for the fake SPI bus (boards/sim/spibus.py).
#
# Facts from ../shared/reference/w5500.md (datasheet v1.0.9, ioLibrary, Linux w5100.c);
# section numbers below refer to that sheet. What is modelled:
#  - the SPI frame (§1): 2-byte offset, control byte BSB[4:0] RWB OM[1:0], VDM and the
#    fixed-length FDM modes, auto-increment, 0x01 0x02 0x03 on MISO during the header;
#  - the common block (§2) and the eight socket blocks (§3) with their reset values;
#    MR.RST soft reset, VERSIONR, PHYCFGR with link/speed/duplex and the PHY reset bit;
#  - socket 0 in MACRAW mode (§5): 16-bit free-running TX/RX pointers mapped onto the
#    socket's buffer (offset % size, auto-increment across the end, §4.2), the
#    2-byte length header, OPEN/CLOSE/SEND/RECV, Sn_IR write-1-to-clear, SIR/SIMR
#    and IR/IMR gating the INTn pin, MFEN/BCASTB/MMB/MIP6B filtering;
#  - the hardware RSTn pin.
# The wire side is any LAN-driver-shaped object (a SimPort on the simulated segment,
# a TAP, an AF_PACKET socket, a MockLan): frames the chip sends go to wire.send(),
# frames are taken from wire.recv_into() whenever the host starts an SPI transaction
# or samples INTn (the real chip receives on its own; this is when the host can tell).
#
# Strictness: what the real chip would mishandle raises ChipError at once — a command
# written while Sn_CR is still busy, SEND before the previous SEND_OK, a MACRAW frame
# of 0 or more than 1514 bytes, a read of RX memory past the received data, a write
# into TX data still being sent, RECV releasing more than was received, a reserved
# block, a buffer-size sum over 16 KB, MACRAW on a socket other than 0.
#
# Fault injection (tests): corrupt_next_header(value), inject_oversize(n),
# stall(value, transactions) (MISO stuck at 0x00/0xFF, then a power-on reset as after
# a brown-out), tear_rsr (a frame lands between the two byte reads of Sn_RX_RSR),
# version_zero_reads (VERSIONR reads 0x00 just after reset, §6.1), cr_busy_reads and
# send_ok_reads (the chip takes a few polls to accept a command / finish a SEND),
# set_link(False) (and a SEND with the link down never completes, §7 #8).

from boards.sim.spibus import ChipError
from spinet.compat import const
from spinet.ring import copy as _copy

BUF = 16384  # each of the TX and RX memories
FRAME_MAX = 1514
_HDR_MISO = (0x01, 0x02, 0x03)

# common block offsets
_MR = const(0x00)
_SHAR = const(0x09)
_IR = const(0x15)
_IMR = const(0x16)
_SIR = const(0x17)
_SIMR = const(0x18)
_PHYCFGR = const(0x2E)
_VERSIONR = const(0x39)
# socket block offsets
_SN_MR = const(0x00)
_SN_CR = const(0x01)
_SN_IR = const(0x02)
_SN_SR = const(0x03)
_SN_RXBUF = const(0x1E)
_SN_TXBUF = const(0x1F)
_SN_TX_FSR = const(0x20)
_SN_TX_RD = const(0x22)
_SN_TX_WR = const(0x24)
_SN_RX_RSR = const(0x26)
_SN_RX_RD = const(0x28)
_SN_RX_WR = const(0x2A)
_SN_IMR = const(0x2C)

_OPEN = const(0x01)
_CLOSE = const(0x10)
_SEND = const(0x20)
_RECV = const(0x40)
_SOCK_MACRAW = const(0x42)
_IR_SEND_OK = const(0x10)
_IR_RECV = const(0x04)


class W5500Chip:
    def __init__(self, wire=None, name="w5500", strict=True):
        self.wire = wire
        self.name = name
        self.strict = strict
        self.common = bytearray(0x40)
        self.sock = [bytearray(0x30) for _ in range(8)]
        self.txmem = bytearray(BUF)
        self.rxmem = bytearray(BUF)
        self._rxf = bytearray(FRAME_MAX + 64)  # a frame from the wire
        self._txf = bytearray(FRAME_MAX)
        self._txmv = memoryview(self._txf)
        self._txviews = {}
        self.link = True  # the cable
        self.in_reset = False  # RSTn held low
        self.stats = {"rx": 0, "tx": 0, "rx_overflow": 0, "rx_filtered": 0, "rx_closed": 0,
                      "rx_oversize": 0, "tx_link_down": 0, "resets": 0, "commands": 0}
        # faults
        self.version_zero_reads = 0
        self.cr_busy_reads = 0
        self.send_ok_reads = 0
        self.tear_rsr = 0
        self._corrupt = -1
        self._stall_left = 0
        self._stall_value = 0xFF
        self._stalled = False
        self._stall_reset = True
        self.pump_limit = 4
        self._power_on()

    # --- reset -------------------------------------------------------------------------

    def _power_on(self):
        c = self.common
        for i in range(len(c)):
            c[i] = 0
        c[0x19] = 0x07  # RTR = 0x07D0 (200 ms)
        c[0x1A] = 0xD0
        c[0x1B] = 0x08  # RCR
        c[0x1C] = 0x28  # PTIMER
        c[0x26] = 0xFF  # PMRU
        c[0x27] = 0xFF
        c[_PHYCFGR] = 0xB8  # RST=1, OPMD=0, OPMDC=111 (all capable, AN)
        for s in self.sock:
            for i in range(len(s)):
                s[i] = 0
            for i in range(6, 12):
                s[i] = 0xFF  # Sn_DHAR
            s[0x16] = 0x80  # Sn_TTL
            s[_SN_RXBUF] = 2
            s[_SN_TXBUF] = 2
            s[_SN_IMR] = 0xFF
            s[0x2D] = 0x40  # Sn_FRAG 0x4000
        self.tx_rd = 0
        self.rx_wr = 0
        self.rx_rd = 0  # RX_RD as taken by the last RECV
        self._tx_busy = False  # a SEND not yet SEND_OK
        self._tx_end = 0
        self._tx_lost = False
        self._send_ok_left = 0
        self._cr_left = 0
        self._ver_left = self.version_zero_reads
        self._phase = 0
        self.stats["resets"] += 1

    def reset_line(self, level):
        """RSTn pin: low holds the chip in reset; the rising edge restarts it."""
        if level == 0:
            self.in_reset = True
        elif self.in_reset:
            self.in_reset = False
            self._power_on()

    def mode_check(self, polarity, phase, baudrate):
        if polarity != phase:
            raise ChipError("W5500 takes SPI mode 0 or 3 only")
        if baudrate > 80_000_000:
            raise ChipError("SPI clock above the W5500's 80 MHz")

    # --- wire and pins -------------------------------------------------------------------

    def set_link(self, up):
        self.link = bool(up)

    def _link(self):
        if not self.link or self.in_reset or not (self.common[_PHYCFGR] & 0x80):
            return False
        w = self.wire
        return w is None or w.link_up()

    def int_level(self):
        """INTn: low (0) while an enabled interrupt is pending."""
        if self.in_reset or self._stalled:
            return 1
        self.pump()
        c = self.common
        s0 = self.sock[0]
        sir = 1 if (s0[_SN_IR] & s0[_SN_IMR]) else 0
        if (sir & c[_SIMR]) or (c[_IR] & c[_IMR]):
            return 0
        return 1

    def sleep_ms(self, ms):
        """Let ms of (virtual or real) time pass on the wire: the delay_ms a driver
        is given on the virtual board. Returns early when a frame arrives."""
        w = self.wire
        if w is not None and hasattr(w, "wait"):
            w.wait(ms)
        self.pump()

    def pump(self):
        w = self.wire
        if w is None:
            return
        for _ in range(self.pump_limit):
            n = w.recv_into(self._rxf)
            if not n:
                return
            self._arrive(n)

    def _rsr(self):
        return (self.rx_wr - self.rx_rd) & 0xFFFF

    def _arrive(self, n):
        st = self.stats
        f = self._rxf
        if self.in_reset:
            return
        if n > FRAME_MAX:
            st["rx_oversize"] += 1
            return
        while n < 60:  # a real wire never delivers runts (a TAP may)
            f[n] = 0
            n += 1
        s0 = self.sock[0]
        if s0[_SN_SR] != _SOCK_MACRAW:
            st["rx_closed"] += 1
            return
        mr = s0[_SN_MR]
        if f[0] & 1:
            bc = f[0] == 0xFF and f[1] == 0xFF and f[2] == 0xFF and f[3] == 0xFF and \
                f[4] == 0xFF and f[5] == 0xFF
            if bc:
                if mr & 0x40:  # BCASTB
                    st["rx_filtered"] += 1
                    return
            elif mr & 0x20 or (mr & 0x80 and not (f[0] == 1 and f[1] == 0 and f[2] == 0x5E)):
                # MMB, or MFEN (IPv4 multicast passes it, §7 #5)
                st["rx_filtered"] += 1
                return
        elif mr & 0x80:
            c = self.common
            for i in range(6):
                if f[i] != c[_SHAR + i]:
                    st["rx_filtered"] += 1
                    return
        if mr & 0x10 and f[12] == 0x86 and f[13] == 0xDD:  # MIP6B
            st["rx_filtered"] += 1
            return
        self._store(f, n, n + 2)

    def _store(self, f, n, hdr):
        st = self.stats
        size = self.sock[0][_SN_RXBUF] * 1024
        if n + 2 > size - self._rsr():
            st["rx_overflow"] += 1  # no room: the frame is lost (§10: assumed silent)
            return
        if self._corrupt >= 0:
            hdr = self._corrupt
            self._corrupt = -1
        m = self.rxmem
        p = self.rx_wr % size
        m[p] = (hdr >> 8) & 0xFF
        p = (p + 1) % size
        m[p] = hdr & 0xFF
        p = (p + 1) % size
        k = size - p
        if k >= n:
            _copy(m, p, f, 0, n)
        else:
            _copy(m, p, f, 0, k)
            _copy(m, 0, f, k, n - k)
        self.rx_wr = (self.rx_wr + n + 2) & 0xFFFF
        self.sock[0][_SN_IR] |= _IR_RECV
        st["rx"] += 1

    # --- fault injection -------------------------------------------------------------

    def corrupt_next_header(self, value):
        """The next received frame gets `value` as its 2-byte length header."""
        self._corrupt = value & 0xFFFF

    def inject_oversize(self, n):
        """Store an n-byte 'frame' (n > 1514: larger than any driver buffer) with a
        consistent header, as if the MAC had let a giant through."""
        f = bytearray(n)
        for i in range(n):
            f[i] = i & 0xFF
        self._store(f, n, n + 2)

    def stall(self, value=0xFF, transactions=10, reset_after=True):
        """The chip stops answering: for the next `transactions` SPI transactions MISO
        reads `value` and MOSI is ignored; then (reset_after) it comes back from a
        power-on reset, its configuration lost."""
        self._stall_left = transactions
        self._stall_value = value
        self._stall_reset = reset_after

    # --- SPI -------------------------------------------------------------------------------

    def begin(self):
        self._phase = 0
        self._stalled = self._stall_left > 0 or self.in_reset
        if not self._stalled:
            self.pump()

    def end(self):
        if self._stall_left > 0:
            self._stall_left -= 1
            if self._stall_left == 0 and self._stall_reset:
                self._power_on()
        if not self._stalled and self._phase >= 3:
            om = self._ctl & 3
            want = (0, 1, 2, 4)[om]
            if om and self._phase - 3 != want:
                raise ChipError("FDM frame with %d data bytes, OM says %d"
                                % (self._phase - 3, want))
            if self._phase == 3 and not om:
                raise ChipError("VDM frame without a data byte")
        self._phase = 0

    def xfer(self, mosi, miso, n, fill):
        try:
            self._xfer(mosi, miso, n, fill)
        except ChipError:
            self._phase = 0  # the frame is void; report this error only
            raise

    def _xfer(self, mosi, miso, n, fill):
        if self._stalled:
            if miso is not None:
                v = 0xFF if self.in_reset else self._stall_value
                for i in range(n):
                    miso[i] = v
            return
        i = 0
        while i < n and self._phase < 3:
            b = mosi[i] if mosi is not None else fill
            ph = self._phase
            if ph == 0:
                self._addr = b << 8
            elif ph == 1:
                self._addr |= b
            else:
                self._ctl = b
                bsb = b >> 3
                if bsb and not (bsb & 3):
                    raise ChipError("reserved block select 0x%02x" % bsb)
            if miso is not None:
                miso[i] = _HDR_MISO[ph]
            self._phase = ph + 1
            i += 1
        if i < n:
            k = n - i
            if self._ctl & 3 and self._phase - 3 + k > (0, 1, 2, 4)[self._ctl & 3]:
                raise ChipError("FDM frame longer than its OM length")
            self._data(mosi, miso, i, k, fill)
            self._phase += k
            self._addr = (self._addr + k) & 0xFFFF

    def _data(self, mosi, miso, off, k, fill):
        ctl = self._ctl
        bsb = ctl >> 3
        write = ctl & 4
        kind = bsb & 3
        if bsb == 0 or kind == 1:
            for j in range(k):
                a = (self._addr + j) & 0xFFFF
                if write:
                    self._wreg(bsb, a, mosi[off + j] if mosi is not None else fill)
                else:
                    v = self._rreg(bsb, a)
                    if miso is not None:
                        miso[off + j] = v
            return
        sn = bsb >> 2
        if kind == 2:
            size = self.sock[sn][_SN_TXBUF] * 1024
            mem = self.txmem
        else:
            size = self.sock[sn][_SN_RXBUF] * 1024
            mem = self.rxmem
        if size == 0:
            raise ChipError("socket %d buffer access with a 0 KB buffer" % sn)
        if sn != 0:
            raise ChipError("only socket 0's buffers are emulated")
        p = self._addr % size
        if kind == 3 and not write:
            used = self._rsr()
            start = (self._addr - self.rx_rd) % size
            if self.strict and (start >= used or start + k > used):
                raise ChipError("RX buffer read past the received data (offset 0x%04x, %d "
                                "bytes, %d received)" % (self._addr, k, used))
        if kind == 2 and write and self._tx_busy and self.strict:
            busy = (self._tx_end - self.tx_rd) & 0xFFFF
            start = (self._addr - self.tx_rd) % size
            if start < busy or start + k > size:
                raise ChipError("TX buffer write over data still being sent")
        while k > 0:
            c = size - p
            if c > k:
                c = k
            if write:
                if mosi is not None:
                    _copy(mem, p, mosi, off, c)
                else:
                    for j in range(c):
                        mem[p + j] = fill
            elif miso is not None:
                _copy(miso, off, mem, p, c)
            off += c
            k -= c
            p = 0

    # --- registers ---------------------------------------------------------------------------

    def _rreg(self, bsb, a):
        if bsb == 0:
            if a >= 0x40:
                return 0
            if a == _VERSIONR:
                if self._ver_left > 0:
                    self._ver_left -= 1
                    return 0
                return 0x04
            if a == _SIR:
                v = 0
                for n in range(8):
                    s = self.sock[n]
                    if s[_SN_IR] & s[_SN_IMR]:
                        v |= 1 << n
                return v
            if a == _PHYCFGR:
                v = self.common[_PHYCFGR] & 0xF8
                if self._link():
                    v |= 0x07  # link up, 100 Mbit/s, full duplex
                return v
            return self.common[a]
        sn = bsb >> 2
        s = self.sock[sn]
        if a >= 0x30:
            return 0
        if sn == 0:
            if a == _SN_CR:
                v = s[_SN_CR]
                if v and self._cr_left > 0:
                    self._cr_left -= 1
                    return v
                s[_SN_CR] = 0
                return 0
            if a == _SN_IR:
                if self._tx_busy and not self._tx_lost:
                    if self._send_ok_left > 0:
                        self._send_ok_left -= 1
                    else:
                        self._send_done()
                return s[_SN_IR]
            if a == _SN_TX_FSR or a == _SN_TX_FSR + 1:
                size = s[_SN_TXBUF] * 1024
                w = (s[_SN_TX_WR] << 8) | s[_SN_TX_WR + 1]
                v = size - ((w - self.tx_rd) & 0xFFFF)
                if v < 0:
                    v = 0
                return (v >> 8) & 0xFF if a == _SN_TX_FSR else v & 0xFF
            if a == _SN_TX_RD:
                return (self.tx_rd >> 8) & 0xFF
            if a == _SN_TX_RD + 1:
                return self.tx_rd & 0xFF
            if a == _SN_RX_RSR:
                v = (self._rsr() >> 8) & 0xFF
                if self.tear_rsr:
                    self.tear_rsr -= 1
                    self.pump()  # a frame lands between the two byte reads (§4.3)
                return v
            if a == _SN_RX_RSR + 1:
                return self._rsr() & 0xFF
            if a == _SN_RX_WR:
                return (self.rx_wr >> 8) & 0xFF
            if a == _SN_RX_WR + 1:
                return self.rx_wr & 0xFF
        elif a == _SN_CR:
            s[_SN_CR] = 0
        return s[a]

    def _wreg(self, bsb, a, v):
        if bsb == 0:
            if a >= 0x40:
                return
            if a == _MR:
                if v & 0x80:
                    self._power_on()  # software reset; MR reads 0 again at once
                    return
                self.common[_MR] = v
            elif a == _IR:
                self.common[_IR] &= ~v & 0xFF
            elif a == _PHYCFGR:
                self.common[_PHYCFGR] = (v & 0xF8)
            elif a in (_SIR, _VERSIONR) or 0x28 <= a <= 0x2D:
                pass  # read-only
            else:
                self.common[a] = v
            return
        sn = bsb >> 2
        s = self.sock[sn]
        if a >= 0x30:
            return
        if a == _SN_CR:
            if s[_SN_CR]:
                raise ChipError("socket %d command 0x%02x written while 0x%02x is busy"
                                % (sn, v, s[_SN_CR]))
            self._command(sn, v)
        elif a == _SN_IR:
            s[_SN_IR] &= ~v & 0xFF
        elif a == _SN_SR or _SN_TX_FSR <= a <= _SN_TX_RD + 1 or _SN_RX_RSR <= a <= 0x27 \
                or a in (_SN_RX_WR, _SN_RX_WR + 1):
            pass  # read-only
        elif a in (_SN_RXBUF, _SN_TXBUF):
            if v not in (0, 1, 2, 4, 8, 16):
                raise ChipError("Sn_%sBUF_SIZE %d (0, 1, 2, 4, 8 or 16 KB)"
                                % ("RX" if a == _SN_RXBUF else "TX", v))
            s[a] = v
        else:
            s[a] = v

    def _command(self, sn, v):
        s = self.sock[sn]
        self.stats["commands"] += 1
        if v == _OPEN:
            proto = s[_SN_MR] & 0x0F
            if proto == 0:
                s[_SN_SR] = 0  # Sn_MR says CLOSED: nothing opens
                self._cr_left = self.cr_busy_reads
                s[_SN_CR] = v if self._cr_left else 0
                return
            if proto != 0x04:
                raise ChipError("socket mode 0x%x is not emulated (MACRAW only)" % proto)
            if sn != 0:
                raise ChipError("MACRAW is only valid on socket 0")
            rx = tx = 0
            for t in self.sock:
                rx += t[_SN_RXBUF]
                tx += t[_SN_TXBUF]
            if rx > 16 or tx > 16:
                raise ChipError("socket buffers sum to more than 16 KB")
            s[_SN_SR] = _SOCK_MACRAW
            self.tx_rd = self.rx_wr = self.rx_rd = 0
            for a in (_SN_TX_WR, _SN_TX_WR + 1, _SN_RX_RD, _SN_RX_RD + 1):
                s[a] = 0
            self._tx_busy = False
        elif v == _CLOSE:
            s[_SN_SR] = 0
            self._tx_busy = False
        elif v == _SEND:
            if s[_SN_SR] != _SOCK_MACRAW:
                raise ChipError("SEND on a socket that is not open")
            if self._tx_busy:
                raise ChipError("SEND before the previous SEND_OK")
            self._send(s)
        elif v == _RECV:
            if s[_SN_SR] != _SOCK_MACRAW:
                raise ChipError("RECV on a socket that is not open")
            rd = (s[_SN_RX_RD] << 8) | s[_SN_RX_RD + 1]
            if ((rd - self.rx_rd) & 0xFFFF) > self._rsr():
                raise ChipError("RECV releases more than was received")
            self.rx_rd = rd
            if self._rsr():
                s[_SN_IR] |= _IR_RECV  # data still waiting
        else:
            raise ChipError("command 0x%02x is not valid in MACRAW mode" % v)
        # Sn_CR reads the command back until the chip has taken it: cr_busy_reads
        # polls (0: accepted at once, as a real chip does within the next frame).
        self._cr_left = self.cr_busy_reads
        s[_SN_CR] = v if self._cr_left else 0

    def _send(self, s):
        size = s[_SN_TXBUF] * 1024
        w = (s[_SN_TX_WR] << 8) | s[_SN_TX_WR + 1]
        n = (w - self.tx_rd) & 0xFFFF
        if n == 0 or n > FRAME_MAX:
            raise ChipError("MACRAW SEND of %d bytes (1..1514)" % n)
        f = self._txf
        p = self.tx_rd % size
        k = size - p
        if k >= n:
            _copy(f, 0, self.txmem, p, n)
        else:
            _copy(f, 0, self.txmem, p, k)
            _copy(f, k, self.txmem, 0, n - k)
        while n < 60:
            f[n] = 0
            n += 1
        self._tx_busy = True
        self._tx_end = w
        self._send_ok_left = self.send_ok_reads
        self._tx_lost = False
        if not self._link():
            self.stats["tx_link_down"] += 1
            self._tx_lost = True  # never completes (§7 #8): the host must time out
            return
        v = self._txviews.get(n)
        if v is None:
            v = self._txmv[0:n]
            if len(self._txviews) < 16:
                self._txviews[n] = v
        self.stats["tx"] += 1
        if self.wire is not None:
            self.wire.send(v)
        if not self.send_ok_reads:
            self._send_done()

    def _send_done(self):
        self._tx_busy = False
        self.tx_rd = self._tx_end
        self.sock[0][_SN_IR] |= _IR_SEND_OK
