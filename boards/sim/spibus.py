# Emulated board hardware: a fake machine.Pin and a fake machine.SPI bus that routes
# every transaction to a chip model (boards/sim/w5500.py, boards/sim/enc28j60.py).
#
# The drivers in lib/spinet/drivers/ cannot tell these from the real thing: they call
# Pin.value()/Pin() and SPI.write()/readinto()/write_readinto(), nothing else.
# MicroPython-compatible (runs on the unix port as well as CPython).
#
#   bus = SPI()                        # one bus, any number of chips
#   cs = Pin(value=1)                  # an output pin, idle high
#   bus.attach(chip, cs)               # CS low selects the chip, CS high ends the frame
#   rst = Pin(value=1, on_change=chip.reset_line)
#   irq = Pin(source=chip.int_level)   # an input pin driven by the chip (INTn)
#
# A transaction is one CS-low period; bus.transactions and bus.bytes count them (the
# figures that bound throughput on a real board). bus.trace = True records each one
# as (chip name, MOSI bytes, MISO bytes) in bus.log (and prints it if trace_print).
#
# Chip model interface: begin() on CS fall, xfer(mosi, miso, n, fill) for every n
# bytes clocked (mosi None means the host clocks out `fill`; miso None means the
# host ignores what comes back), end() on CS rise.


class ChipError(Exception):
    """The host did something the real chip would mishandle (a driver bug)."""


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 1
    IRQ_FALLING = 4
    IRQ_RISING = 8

    def __init__(self, id=None, mode=None, pull=None, value=1, on_change=None, source=None):
        self.id = id
        self._v = 1 if value else 0
        self._on_change = on_change  # output pin: callback(level) on every change
        self._source = source  # input pin: callable returning the level
        self.writes = 0

    def init(self, mode=None, pull=None, value=None):
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            if self._source is not None:
                return 1 if self._source() else 0
            return self._v
        v = 1 if v else 0
        self.writes += 1
        if v != self._v:
            self._v = v
            if self._on_change is not None:
                self._on_change(v)
        return None

    __call__ = value

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def low(self):
        self.value(0)

    def high(self):
        self.value(1)

    def irq(self, handler=None, trigger=None):
        return None  # the drivers poll the level; no edge interrupts are emulated


class SPI:
    MSB = 0

    def __init__(self, id=0, baudrate=1000000, polarity=0, phase=0, bits=8, firstbit=0,
                 sck=None, mosi=None, miso=None):
        self.id = id
        self.baudrate = baudrate
        self.polarity = polarity
        self.phase = phase
        self._chip = None  # the selected chip
        self._chips = []
        self.transactions = 0  # CS-low periods
        self.bytes = 0  # bytes clocked (each way)
        self.trace = False
        self.trace_print = False
        self.log = []
        self._mo = None  # trace of the current transaction
        self._mi = None

    def init(self, baudrate=None, polarity=None, phase=None, **kw):
        if baudrate is not None:
            self.baudrate = baudrate
        if polarity is not None:
            self.polarity = polarity
        if phase is not None:
            self.phase = phase

    def deinit(self):
        pass

    def attach(self, chip, cs):
        """Wire chip to this bus with cs as its chip-select line (active low)."""
        self._chips.append(chip)

        def edge(level, chip=chip):
            self._select(chip, level)

        cs._on_change = edge
        return cs

    def _select(self, chip, level):
        if level == 0:
            if self._chip is not None and self._chip is not chip:
                raise ChipError("two chips selected at once")
            self._chip = chip
            self.transactions += 1
            chip.mode_check(self.polarity, self.phase, self.baudrate)
            if self.trace:
                self._mo = bytearray()
                self._mi = bytearray()
            chip.begin()
        else:
            if self._chip is chip:
                chip.end()
                self._chip = None
                if self.trace:
                    rec = (chip.name, bytes(self._mo), bytes(self._mi))
                    self.log.append(rec)
                    if self.trace_print:
                        print("spi %s > %s < %s" % (rec[0], _hex(rec[1]), _hex(rec[2])))

    def _xfer(self, mosi, miso, n, fill):
        c = self._chip
        self.bytes += n
        if c is None:
            # Nothing selected: MISO floats (reads as the pull-up, 0xFF).
            if miso is not None:
                for i in range(n):
                    miso[i] = 0xFF
            return
        c.xfer(mosi, miso, n, fill)
        if self.trace:
            if mosi is not None:
                self._mo.extend(mosi)
            else:
                self._mo.extend(bytes((fill,)) * n)
            if miso is not None:
                self._mi.extend(miso)

    # --- machine.SPI -----------------------------------------------------------------

    def write(self, buf):
        self._xfer(buf, None, len(buf), 0)

    def readinto(self, buf, write=0):
        self._xfer(None, buf, len(buf), write)

    def read(self, n, write=0):
        b = bytearray(n)
        self._xfer(None, b, n, write)
        return bytes(b)

    def write_readinto(self, wbuf, rbuf):
        n = len(wbuf)
        if len(rbuf) != n:
            raise ValueError("buffers must be the same length")
        self._xfer(wbuf, rbuf, n, 0)

    # --- counting ----------------------------------------------------------------------

    def counts(self):
        return (self.transactions, self.bytes)

    def clear_log(self):
        self.log = []


def _hex(b):
    if len(b) > 24:
        return "".join("%02x" % x for x in b[:24]) + "..(%d)" % len(b)
    return "".join("%02x" % x for x in b)
