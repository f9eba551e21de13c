# spinet.drivers.w5500 — WIZnet W5500 in MACRAW mode as a spinet LAN driver.
#
# Heads up: read the W5500 datasheet v1.0.9 (DS) §2 (SPI frame), §4.1-4.2 (common and
# socket registers), §5 (buffer memory), and ../shared/reference/w5500.md, whose
# section numbers ("ref §") are cited below. The chip's own TCP/IP is not used:
# socket 0 runs in MACRAW mode with all 16 KB of TX and all 16 KB of RX memory, and
# spinet does everything above Ethernet (MicroPython's own WIZNET5K recipe).
#
#   drv = W5500(spi, cs, rst=None, int_pin=None, mac=None)
#   drv.mac, drv.send(frame), drv.recv_into(buf) -> n, drv.link_up(), drv.wait(ms)
#
# SPI (ref §1): every access is one frame with CS low: 2-byte offset, control byte
# (BSB << 3 | RWB << 2 | OM), data, in VDM mode. Buffers: preallocated header and
# register buffers; frame bodies go straight between the stack's buffer and the
# chip in the same transaction as their header (spi.write / spi.readinto, no copy).
#
# SPI transactions per frame (what bounds throughput on a board; see docs/CHIPS.md):
#   receive  RSR read until stable (2) | length header + body in one transaction (1) |
#            Sn_RX_RD (1) | Sn_CR idle check (1) | RECV (1)             = 6
#            Frames of a burst that one RSR read already covered skip the RSR
#            reads, and the release (RX_RD + RECV) is done once per burst, or
#            every third full frame of a long one (see _HOLD_MAX).
#   send     Sn_CR + Sn_IR in one read: previous SEND done (1) | clear SEND_OK (1) |
#            body at Sn_TX_WR (1) | Sn_TX_WR (1) | SEND (1)              = 5
#            SEND completion is waited for at the start of the next send, so the
#            CPU builds the next frame while the chip transmits. Since each SEND has
#            completed before the next frame is written, the whole 16 KB is free
#            then and Sn_TX_FSR need not be read (ref §6.4 step 1).
#   An empty poll costs one 2-byte read (Sn_RX_RSR), or nothing with INTn wired.
#
# Pointers (ref §4.2): Sn_RX_RD and Sn_TX_WR are written only by the host, so they are
# kept here; the body is read/written at the raw 16-bit pointer and the chip wraps it
# onto its buffer (16 KB divides 2**16), so a frame across the buffer end is still one
# transaction. Registers the chip changes under us (Sn_RX_RSR) are read until two
# reads agree (DS §4.2 Sn_RX_RSR note, ref §4.3).
#
# Faults: a length header that cannot be right (shorter than an Ethernet header, or
# longer than what Sn_RX_RSR says arrived) loses the framing, so everything received
# is skipped (RX_RD += RSR, RECV: the Linux driver's "drop everything"); a consistent
# header for a frame larger than the caller's buffer skips that one frame. A SEND
# that does not complete (the TX hang on link loss, ref §7 #8) times out and the
# socket is closed and reopened. A chip that stops answering (Sn_SR not MACRAW, reads
# of all 0x00 / all 0xFF, an unstable or impossible Sn_RX_RSR) is reset and set up
# again (its configuration is lost after a brown-out); until that succeeds frames
# are dropped and link_up() is False. Every such event has a counter (counters()).

from ..compat import const, sleep_ms

try:  # mypy checks the bus and pin calls against the Pico's machine stubs
    from typing import TYPE_CHECKING
except ImportError:  # MicroPython: no typing module, nothing to import
    TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from machine import SPI, Pin

# Control bytes, VDM (ref §1.4): block << 3 | write << 2.
_C_R = const(0x00)  # common registers, read
_C_W = const(0x04)
_S0_R = const(0x08)  # socket 0 registers
_S0_W = const(0x0C)
_S0_TX_W = const(0x14)  # socket 0 TX buffer, write
_S0_RX_R = const(0x18)  # socket 0 RX buffer, read

# Common registers (DS §4.1)
_MR = const(0x0000)
_MR_RST = const(0x80)
_SHAR = const(0x0009)
_SIMR = const(0x0018)
_PHYCFGR = const(0x002E)
_PHY_LNK = const(0x01)
_VERSIONR = const(0x0039)
_VERSION = const(0x04)

# Socket registers (DS §4.2)
_SN_MR = const(0x0000)
_SN_CR = const(0x0001)
_SN_IR = const(0x0002)
_SN_SR = const(0x0003)
_SN_RXBUF_SIZE = const(0x001E)  # followed by Sn_TXBUF_SIZE at 0x001F
_SN_TX_WR = const(0x0024)
_SN_RX_RSR = const(0x0026)
_SN_RX_RD = const(0x0028)
_SN_IMR = const(0x002C)

_MR_MACRAW = const(0x04)
_MR_MFEN = const(0x80)  # MAC filter: own unicast + broadcast only
_MR_MIP6B = const(0x10)  # block IPv6 (spinet has none)
_CR_OPEN = const(0x01)
_CR_CLOSE = const(0x10)
_CR_SEND = const(0x20)
_CR_RECV = const(0x40)
_IR_SEND_OK = const(0x10)
_IR_RECV = const(0x04)
_SOCK_MACRAW = const(0x42)

_BUF = const(16384)  # socket 0 gets all of each memory
# The most TCP data we let the peer have in flight: 8 full frames with their 2-byte
# length headers (8 x 1516 = 12 128 bytes of the 16 KB RX memory). A window larger
# than the memory loses the tail of every burst to an overrun and the sender's timer
# paces the transfer (measured: 16 KB window 0.35 MB/s, 8 KB 4.3 MB/s through the
# emulated chip). The rest, _HOLD_MAX, is what frames already taken may keep
# occupying before their space is released (RX_RD + RECV, 3 SPI transactions): the
# stack ACKs them as it takes them, so the peer may refill the window meanwhile.
_RX_WINDOW = const(8 * 1460)
_HOLD_MAX = const(16384 - 8 * 1516)
_FRAME_MAX = const(1514)
_VIEWS = const(32)  # receive lengths whose views of the caller's buffer are kept
_CR_POLLS = const(100)  # Sn_CR polls before a command is declared stuck
_TX_POLLS = const(50)  # tight SEND_OK polls before sleeping between them
_TX_TIMEOUT_MS = const(20)  # a 1514-byte frame takes 1.2 ms even at 10 Mbit/s
_RECHECK = const(32)
_SKIP = const(4)  # frames recv_into may drop before it returns 0  # with INT wired, read Sn_RX_RSR anyway every this many polls


class W5500:
    def __init__(self, spi, cs, rst=None, int_pin=None, mac=None, delay_ms=None):
        # type: (SPI, Pin, Pin | None, Pin | None, bytes | None, Callable[[int], object] | None) -> None
        self._spi = spi
        self._cs = cs
        self._rst = rst
        self._int = int_pin
        self._delay = delay_ms or sleep_ms  # the virtual board passes its own
        if mac is None:
            from .mac import board_mac
            mac = board_mac(0x55)
        if len(mac) != 6:
            raise ValueError("mac must be 6 bytes")
        self.mac = bytes(mac)
        self.rx_window = _RX_WINDOW  # read by spinet.Interface: caps TCP windows
        self._h = bytearray(3)  # SPI frame header: offset high, low, control
        self._b = bytearray(8)  # register data
        self._bmv = memoryview(self._b)
        self._b1 = self._bmv[0:1]
        self._b2 = self._bmv[0:2]
        self._b6 = self._bmv[0:6]
        self._lh = bytearray(2)  # MACRAW length header
        self._vbuf = None  # the caller's receive buffer...
        self._views = {}  # type: dict[int, memoryview]  # ...and views of its first n bytes, by n
        self._rx_ptr = 0  # Sn_RX_RD as we will write it
        self._rx_left = 0  # bytes known received and not yet taken
        self._rx_held = 0  # bytes taken but not released (RX_RD + RECV pending)
        self._tx_wr = 0
        self._tx_pending = False  # a SEND not yet seen complete
        self._cr_idle = False  # Sn_CR was last read as 0 and no command written since
        self._dead = False
        self._quiet = 0  # >0: Sn_RX_RSR read 0 and INT has stayed high since
        # counters (always on; counters() returns them as a dict)
        self.rx_frames = 0
        self.tx_frames = 0
        self.rx_oversize = 0  # consistent header, frame larger than the caller's buffer
        self.rx_resync = 0  # impossible header: everything received skipped
        self.rx_unstable = 0  # Sn_RX_RSR never read the same twice: retried later
        self.rx_dead = 0  # recv_into while the chip is not answering
        self.tx_oversize = 0
        self.tx_timeout = 0  # SEND_OK never came: socket reopened
        self.tx_dropped = 0  # send while the chip is not answering
        self.chip_faults = 0  # chip found not answering / lost its configuration
        self.reinits = 0  # successful re-initialisations after a fault
        self.reopens = 0  # socket 0 closed and reopened
        cs(1)
        if int_pin is not None:
            try:
                int_pin.init(int_pin.IN, int_pin.PULL_UP)
            except (AttributeError, TypeError):
                pass
        v = self._init()
        if v != _VERSION:
            raise OSError(19, "W5500 not found (VERSIONR 0x%02x, want 0x04)" % v)

    def counters(self):
        return {"rx_frames": self.rx_frames, "tx_frames": self.tx_frames,
                "rx_oversize": self.rx_oversize, "rx_resync": self.rx_resync,
                "rx_dead": self.rx_dead, "rx_unstable": self.rx_unstable, "tx_oversize": self.tx_oversize,
                "tx_timeout": self.tx_timeout, "tx_dropped": self.tx_dropped,
                "chip_faults": self.chip_faults, "reinits": self.reinits,
                "reopens": self.reopens}

    # --- register access (cold paths; the per-frame paths inline theirs) ---------------

    def _rd(self, ctl, addr, mv):
        h = self._h
        h[0] = addr >> 8
        h[1] = addr & 0xFF
        h[2] = ctl
        self._cs(0)
        self._spi.write(h)
        self._spi.readinto(mv)
        self._cs(1)

    def _wr(self, ctl, addr, data):
        h = self._h
        h[0] = addr >> 8
        h[1] = addr & 0xFF
        h[2] = ctl
        self._cs(0)
        self._spi.write(h)
        self._spi.write(data)
        self._cs(1)

    def _r8(self, ctl, addr):
        self._rd(ctl, addr, self._b1)
        return self._b[0]

    def _w8(self, ctl, addr, v):
        self._b[0] = v
        self._wr(ctl, addr, self._b1)

    def _r16(self, addr):
        self._rd(_S0_R, addr, self._b2)
        b = self._b
        return (b[0] << 8) | b[1]

    def _w16(self, addr, v):
        b = self._b
        b[0] = v >> 8
        b[1] = v & 0xFF
        self._wr(_S0_W, addr, self._b2)

    def _cmd(self, v):
        """Write Sn_CR(0) once the previous command was accepted (Sn_CR reads 0).
        Returns False if the chip never takes it."""
        if not self._cr_idle:
            n = 0
            while self._r8(_S0_R, _SN_CR):
                n += 1
                if n >= _CR_POLLS:
                    return False
        self._w8(_S0_W, _SN_CR, v)
        self._cr_idle = False
        return True

    def _rx_size(self):
        """Sn_RX_RSR read until two reads agree (ref §4.3); a first 0 is taken as
        is. 0 if it keeps changing (frames arriving: try again at the next poll),
        -1 if it cannot be right (more than the buffer)."""
        a = self._r16(_SN_RX_RSR)
        if a == 0:
            return 0
        for _ in range(8):
            b = self._r16(_SN_RX_RSR)
            if a == b:
                if a > _BUF:
                    return -1  # the chip is not answering (MISO stuck high)
                return a
            a = b
        self.rx_unstable += 1
        return 0

    # --- bring-up and recovery -----------------------------------------------------------

    def _init(self):
        """Reset and set up the chip (ref §6.1, §6.2). Returns VERSIONR (0x04 when the
        chip is there and configured)."""
        d = self._delay
        rst = self._rst
        if rst is not None:
            rst(0)
            d(1)  # RSTn low >= 500 us (DS §5.5.1)
            rst(1)
            d(2)  # PLL lock <= 1 ms
        self._w8(_C_W, _MR, _MR_RST)  # software reset, clears SHAR too (ref §7 #9)
        for _ in range(10):
            if not self._r8(_C_R, _MR) & _MR_RST:
                break
            d(1)
        v = 0
        for _ in range(20):  # VERSIONR may read 0x00 just after reset (ref §7 #3)
            v = self._r8(_C_R, _VERSIONR)
            if v == _VERSION:
                break
            d(1)
        if v != _VERSION:
            return v
        self._wr(_C_W, _SHAR, self.mac)
        self._rd(_C_R, _SHAR, self._b6)
        if bytes(self._b6) != self.mac:
            return 0  # registers do not hold what we write: no working chip
        self._w8(_C_W, _SIMR, 0)
        b = self._b
        b[0] = 0
        b[1] = 0
        for sn in range(1, 8):  # sockets 1..7 get no memory (ref §4.1)
            self._wr(((sn << 2) | 1) << 3 | 0x04, _SN_RXBUF_SIZE, self._b2)
        b[0] = 16
        b[1] = 16
        self._wr(_S0_W, _SN_RXBUF_SIZE, self._b2)
        self._w8(_S0_W, _SN_MR, _MR_MACRAW | _MR_MFEN | _MR_MIP6B)
        self._w8(_S0_W, _SN_IMR, _IR_RECV)  # only RECV drives INTn
        self._w8(_S0_W, _SN_IR, 0xFF)
        self._cr_idle = False
        if not self._open():
            return 0
        if self._int is not None:
            self._w8(_C_W, _SIMR, 0x01)
        return _VERSION

    def _open(self):
        """OPEN socket 0 in MACRAW mode and take its pointers (ref §6.2 step 7)."""
        self._rx_left = 0
        self._rx_held = 0
        self._tx_pending = False
        self._quiet = 0
        if not self._cmd(_CR_OPEN):
            return False
        for _ in range(10):
            if self._r8(_S0_R, _SN_SR) == _SOCK_MACRAW:
                break
            self._delay(1)
        else:
            return False
        self._rx_ptr = self._r16(_SN_RX_RD)
        self._tx_wr = self._r16(_SN_TX_WR)
        return True

    def _reopen(self):
        self.reopens += 1
        self._cmd(_CR_CLOSE)
        self._w8(_S0_W, _SN_IR, 0xFF)
        if not self._open():
            self._fault()

    def _fault(self):
        """The chip is not answering or lost its set-up: reset it and start again."""
        if not self._dead:
            self.chip_faults += 1
        self._dead = True
        self._recover()

    def _recover(self):
        if self._init() == _VERSION:
            self._dead = False
            self.reinits += 1
            return True
        return False

    # --- LAN driver contract ---------------------------------------------------------------

    def recv_into(self, buf):
        """Copy one received frame into buf; its length, or 0 if none is waiting.
        Frames that must be dropped are skipped (a few per call at most)."""
        if self._dead:
            self.rx_dead += 1
            return 0
        for _ in range(_SKIP):
            left = self._rx_left
            if left == 0:
                q = self._quiet
                pin = self._int
                if q and q < _RECHECK and pin is not None and pin():
                    # INT high: no RECV since Sn_RX_RSR last read 0 (or since wait()
                    # cleared RECV, which resets _quiet): nothing waits, no SPI traffic.
                    self._quiet = q + 1
                    return 0
                left = self._rx_size()
                if left <= 0:
                    if left < 0:
                        self._fault()
                    elif self._int is not None:
                        self._quiet = 1
                    return 0
                self._quiet = 0
                self._rx_left = left
            ptr = self._rx_ptr
            h = self._h
            h[0] = ptr >> 8
            h[1] = ptr & 0xFF
            h[2] = _S0_RX_R
            cs = self._cs
            cs(0)
            self._spi.write(h)
            h = self._lh
            self._spi.readinto(h)
            n = ((h[0] << 8) | h[1])  # includes the 2 header bytes (ref §5.1)
            if n < 16 or n > left:
                cs(1)
                self._rx_resync()
                return 0
            if n - 2 > len(buf) or n - 2 > _FRAME_MAX:
                cs(1)
                self.rx_oversize += 1
                self._rx_done(ptr, n)
                continue
            self._spi.readinto(self._view(buf, n - 2))
            cs(1)
            self.rx_frames += 1
            self._rx_done(ptr, n)
            return n - 2
        return 0

    def _rx_done(self, ptr, n):
        """Frame of n bytes (header included) at ptr taken: advance, and release the
        space once every frame the last RSR read covered is taken, or sooner when the
        frames held would leave less room than the advertised window needs."""
        self._rx_ptr = (ptr + n) & 0xFFFF
        self._rx_left -= n
        h = self._rx_held + n
        self._rx_held = h
        if self._rx_left == 0 or h > _HOLD_MAX:
            self._release()

    def _release(self):
        self._w16(_SN_RX_RD, self._rx_ptr)
        self._rx_held = 0
        if not self._cmd(_CR_RECV):
            self._fault()

    def _rx_resync(self):
        # The framing is lost: skip everything the chip holds.
        self.rx_resync += 1
        self._rx_ptr = (self._rx_ptr + self._rx_left) & 0xFFFF
        self._rx_left = 0
        self._release()

    def _view(self, buf, n):
        if buf is not self._vbuf:
            self._vbuf = buf
            self._views = {}
        v = self._views.get(n)
        if v is None:
            v = memoryview(buf)[0:n]  # allocates once per length (bounded cache)
            if len(self._views) < _VIEWS:
                self._views[n] = v
        return v

    def send(self, frame, n=-1):
        """Transmit one Ethernet frame (no FCS, up to 1514 bytes; the first n bytes
        when n is given)."""
        if n < 0:
            n = len(frame)
        elif n != len(frame):
            frame = memoryview(frame)[0:n]
        if n > _FRAME_MAX or n <= 0:
            self.tx_oversize += 1
            return
        if self._dead:
            self.tx_dropped += 1
            return
        if self._tx_pending and not self._tx_wait():
            return
        if not self._cr_idle:
            k = 0
            while self._r8(_S0_R, _SN_CR):
                k += 1
                if k >= _CR_POLLS:
                    self._fault()
                    return
            self._cr_idle = True
        p = self._tx_wr
        h = self._h
        h[0] = p >> 8
        h[1] = p & 0xFF
        h[2] = _S0_TX_W
        cs = self._cs
        cs(0)
        self._spi.write(h)
        self._spi.write(frame)
        cs(1)
        p = (p + n) & 0xFFFF
        self._tx_wr = p
        self._w16(_SN_TX_WR, p)
        self._w8(_S0_W, _SN_CR, _CR_SEND)
        self._cr_idle = False
        self._tx_pending = True
        self.tx_frames += 1

    def _tx_wait(self):
        """Wait for the previous SEND to complete (Sn_CR 0 and Sn_IR.SEND_OK, read
        together), then clear SEND_OK. On timeout reopen the socket (ref §7 #8)."""
        b = self._b
        k = 0
        t = 0
        while True:
            self._rd(_S0_R, _SN_CR, self._b2)
            if b[0] == 0 and b[1] & _IR_SEND_OK:
                break
            if b[0] == 0xFF and b[1] == 0xFF:
                self._fault()  # MISO stuck high
                return False
            k += 1
            if k >= _TX_POLLS:
                if t >= _TX_TIMEOUT_MS:
                    self.tx_timeout += 1
                    self._reopen()
                    return not self._dead
                self._delay(1)
                t += 1
        self._w8(_S0_W, _SN_IR, _IR_SEND_OK)
        self._cr_idle = True
        self._tx_pending = False
        return True

    def link_up(self):
        """PHYCFGR.LNK (ref §2.4). Also the chip's health check: the stack asks every
        LINK_CHECK_MS, so a chip that lost its set-up is found and reset here."""
        if self._dead:
            if not self._recover():
                return False
        if self._r8(_S0_R, _SN_SR) != _SOCK_MACRAW:
            self._fault()
            if self._dead:
                return False
        return bool(self._r8(_C_R, _PHYCFGR) & _PHY_LNK)

    def wait(self, timeout_ms):
        """Block until a frame may be waiting or timeout_ms passes: on the INTn pin
        when it is wired (SIMR/Sn_IMR: socket 0 RECV only), else by polling
        Sn_RX_RSR once a millisecond."""
        if self._rx_left > 0 or timeout_ms <= 0 or self._dead:
            return
        pin = self._int
        d = self._delay
        if pin is None:
            while timeout_ms > 0:
                if self._r16(_SN_RX_RSR):
                    return
                d(1)
                timeout_ms -= 1
            return
        while timeout_ms > 0:
            if not pin():
                # Clear RECV before the stack drains the chip: a frame arriving after
                # this sets it again, so no arrival is missed (ref §6.3).
                self._w8(_S0_W, _SN_IR, _IR_RECV)
                self._quiet = 0
                return
            d(1)
            timeout_ms -= 1

    def close(self):
        self._cmd(_CR_CLOSE)
        self._w8(_C_W, _SIMR, 0)
