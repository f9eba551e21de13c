"""A MicroPython raw-REPL client over pyserial (CPython, host side).

    repl = RawRepl("/dev/ttyACM0", timeout=10)
    repl.enter()                      # Ctrl-C twice, Ctrl-A, wait for the banner
    out, err = repl.exec("print(1)")  # code, Ctrl-D, "OK", out \\x04, err \\x04, ">"
    repl.exit()                       # Ctrl-B: back to the friendly REPL
    repl.close()

The protocol is MicroPython's own (shared/runtime/pyexec.c, as mpremote speaks it
without raw-paste mode). Every read has a deadline: a board that is absent, hung,
talking nonsense or resetting ends in a ReplError subclass, never in a hang.
"""

import time

import serial

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
SOFT_REBOOT = b"MPY: soft reboot"
ATTEMPT_S = 1.5  # wait for the banner before interrupting again
CHUNK = 256  # bytes per write, with a pause, so a board's USB buffer keeps up
CHUNK_PAUSE_S = 0.01
KEEP = 4096  # bytes of unexpected output kept for the error message
MAX_OUTPUT = 1 << 20  # more than this from one exec is not our code's output


class ReplError(Exception):
    """The board could not be driven; str() says why."""


class NoBoard(ReplError):
    """The port cannot be opened, or nothing answers on it."""


class NoPrompt(ReplError):
    """Something answers, but never with the raw REPL prompt (hung or garbage)."""


class BoardReset(ReplError):
    """The board rebooted (or the port vanished) while code was running."""


class StepTimeout(ReplError):
    """Code ran past its time; the board was interrupted. recovered: the raw REPL
    prompt came back after the Ctrl-C, so the board can run more code."""

    def __init__(self, msg, recovered=False):
        ReplError.__init__(self, msg)
        self.recovered = recovered


def _show(data, n=60):
    """A short printable excerpt of bytes for messages."""
    return repr(bytes(data[-n:]))


class RawRepl:
    def __init__(self, port, timeout=10.0):
        self.port = port
        self.timeout = timeout
        self.received = 0  # bytes read from the board, all told
        try:
            self._s = serial.Serial(port, 115200, timeout=0.05, write_timeout=timeout)
        except (serial.SerialException, OSError, ValueError) as e:
            raise NoBoard("cannot open %s: %s" % (port, e))

    # -- bounded reads -----------------------------------------------------------------
    def _read_some(self):
        try:
            data = self._s.read(4096)
        except (serial.SerialException, OSError) as e:
            # A Pico's USB serial disappears when the board resets.
            raise BoardReset("lost the port %s (board reset or unplugged?): %s"
                             % (self.port, e))
        self.received += len(data)
        return data

    def _write(self, data):
        try:
            for i in range(0, len(data), CHUNK):
                self._s.write(data[i:i + CHUNK])
                if len(data) > CHUNK:
                    time.sleep(CHUNK_PAUSE_S)
            self._s.flush()
        except serial.SerialTimeoutException:
            raise NoPrompt("%s does not take input (write timed out)" % self.port)
        except (serial.SerialException, OSError) as e:
            raise BoardReset("lost the port %s while writing: %s" % (self.port, e))

    def _drain(self, quiet_s, limit_s):
        """Read until the board is quiet for quiet_s (at most limit_s); the bytes."""
        end = time.monotonic() + limit_s
        got = bytearray()
        last = time.monotonic()
        while time.monotonic() < end:
            d = self._read_some()
            if d:
                got += d
                del got[:-KEEP]
                last = time.monotonic()
            elif time.monotonic() - last >= quiet_s:
                break
        return bytes(got)

    def _read_until(self, token, deadline, watch_reset=False, pending=b""):
        """(bytes up to and including token, what followed), or (None, what came)
        once the deadline passes. watch_reset: a soft-reboot banner in the stream
        is a BoardReset."""
        buf = bytearray(pending)
        while True:
            if watch_reset and SOFT_REBOOT in buf:
                raise BoardReset("the board rebooted (%s)" % _show(buf))
            i = buf.find(token)
            if i >= 0:
                return bytes(buf[:i + len(token)]), bytes(buf[i + len(token):])
            if time.monotonic() >= deadline:
                return None, bytes(buf)
            # Keep the tail only: a board spewing bytes must not fill the host's memory.
            del buf[:-(KEEP + len(token))]
            buf += self._read_some()

    # -- the protocol ------------------------------------------------------------------
    def enter(self):
        """Interrupt whatever runs (Ctrl-C twice) and enter the raw REPL. A board
        that is still booting (or just reset) may lose these bytes, so they are sent
        again every ATTEMPT_S until the banner comes or the timeout is over."""
        deadline = time.monotonic() + self.timeout
        seen = bytearray()
        while True:
            self._write(b"\r\x03")
            time.sleep(0.1)
            self._write(b"\x03")
            seen += self._drain(0.2, min(1.0, self.timeout / 4))
            self._write(b"\r\x01")
            wait = min(deadline, time.monotonic() + ATTEMPT_S)
            got, rest = self._read_until(BANNER, wait)
            if got is not None:
                self._tail = rest
                return
            seen += rest
            del seen[:-KEEP]
            if time.monotonic() >= deadline:
                break
        if not seen:
            raise NoBoard("nothing answers on %s within %.1f s (no board, or a board "
                          "that does not run MicroPython's REPL)" % (self.port, self.timeout))
        raise NoPrompt("no raw REPL prompt on %s within %.1f s: the board sent %d bytes "
                       "but never %r (hung, wrong baud rate or garbage?); last bytes %s"
                       % (self.port, self.timeout, self.received, BANNER.decode(),
                          _show(seen)))

    def exec(self, code, timeout=None):
        """Run code in the raw REPL; (stdout, stderr) as text. The board's globals
        persist between calls, as in the REPL."""
        if timeout is None:
            timeout = self.timeout
        deadline = time.monotonic() + timeout
        if isinstance(code, str):
            code = code.encode()
        try:
            self._s.reset_input_buffer()  # nothing stale may pass for this run's reply
        except (serial.SerialException, OSError) as e:
            raise BoardReset("lost the port %s: %s" % (self.port, e))
        self._write(code)
        self._write(b"\x04")
        got, rest = self._read_until(b"OK", deadline, watch_reset=True)
        if got is None:
            raise NoPrompt("the board did not accept the code (no OK within %.1f s; "
                           "got %s)" % (timeout, _show(rest)))
        if got != b"OK":
            raise NoPrompt("unexpected reply before OK: %s" % _show(got))
        out, rest = self._until_eot(rest, deadline, timeout)
        err, rest = self._until_eot(rest, deadline, timeout)
        got, rest = self._read_until(b">", min(deadline, time.monotonic() + 2),
                                     watch_reset=True, pending=rest)
        if got is None:
            raise NoPrompt("no raw REPL prompt after the code ran (got %s)" % _show(rest))
        if got != b">":
            raise NoPrompt("unexpected bytes after the code ran: %s" % _show(got))
        return out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def _until_eot(self, pending, deadline, timeout):
        buf = bytearray(pending)
        while True:
            i = buf.find(b"\x04")
            if i >= 0:
                return bytes(buf[:i]), bytes(buf[i + 1:])
            if SOFT_REBOOT in buf:
                raise BoardReset("the board rebooted while running the code (%s)"
                                 % _show(buf))
            if len(buf) > MAX_OUTPUT:
                raise NoPrompt("the board sent more than %d bytes without ending its "
                               "output (garbage?): %s" % (MAX_OUTPUT, _show(buf)))
            if time.monotonic() >= deadline:
                ok = self.interrupt()
                raise StepTimeout("the code ran longer than %.1f s and was interrupted%s "
                                  "(output so far: %s)"
                                  % (timeout, "" if ok else ", and the board did not come "
                                     "back to the raw REPL", _show(buf, 200)), ok)
            buf += self._read_some()

    def interrupt(self):
        """Ctrl-C, then wait briefly for the raw prompt again; True if it came."""
        try:
            self._write(b"\x03")
            # The KeyboardInterrupt traceback ends "\x04" (end of errors), then ">".
            got, _ = self._read_until(b"\x04>", time.monotonic() + 2)
            return got is not None
        except ReplError:
            return False

    def exit(self):
        """Leave the raw REPL (Ctrl-B): the board shows its friendly REPL."""
        try:
            self._write(b"\r\x02")
        except ReplError:
            pass

    def close(self):
        try:
            self._s.close()
        except (serial.SerialException, OSError):
            pass
