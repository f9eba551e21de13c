"""The virtual board: the MicroPython unix port behind a pseudo-terminal that acts
like a Pico's USB REPL, so the host tools (mpremote, deploy, connect-test) can be
tested end to end without hardware.

    python -m host_tools vboard [--flash DIR] [--board sim_w5500|sim_enc28j60]
                                [--link sim|tap:NAME|packet:IFNAME] [--forward H:B]

It prints the device path (``/dev/pts/N``) and serves until interrupted.

How it works. The host talks to the outer pty; this process relays bytes between it
and an inner pty on which ``micropython -i host_tools/vboard_boot.py`` runs (see
vboard_board.py for what that script makes the interpreter look like). When the
interpreter exits — a soft reset (Ctrl-D) or ``machine.reset()`` — the board prints
``MPY: soft reboot``, starts a new one, which runs boot.py (and main.py when it comes
back to the friendly REPL), and comes back in the mode the host was in: after a
Ctrl-D in the raw REPL it re-enters the raw REPL by itself, as a board does, so
plain ``mpremote connect /dev/pts/N ...`` works.

With ``--board``, an emulated chip (boards/sim) answers the board's SPI bus. Its
wire is the ``--link``: ``sim`` is a loopback UDP link to a host-side segment that
lives in this process (a spinet stack at 192.0.2.1 that serves TCP/UDP echo on
port 7 and forwards host TCP ports to the board, a DHCP and a DNS server; frames
can be captured to a pcap and lost at a seeded rate; see host_tools/peer.py);
``packet:IF`` puts the chip on a Linux interface (in a namespace); ``tap:NAME``
relays a TAP device to the chip over the loopback link.
"""

import errno
import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
READY = b"\x1b[vboard-ready]"
UP = b"\x1b[vboard-up]"  # boot.py is next: Ctrl-C is an exception from here to READY
BOARDS = ("sim_w5500", "sim_enc28j60")


def micropython_path():
    p = os.path.join(REPO, ".venv", "bin", "micropython")
    if os.path.exists(p):
        return p
    return shutil.which("micropython") or ""


class VBoard:
    """One virtual board. ``start()`` returns the device path; ``stop()`` ends it."""

    def __init__(self, flash=None, board="", link="sim", heapsize=None, flash_size=None,
                 forward=(), micropython=None, log=None, board_id=None, capture=None,
                 loss=0.0, seed=1, reverse=()):
        if board and board not in BOARDS:
            raise ValueError("unknown board %r (have: %s)" % (board, ", ".join(BOARDS)))
        self._tmp = None
        if flash is None:
            self._tmp = tempfile.mkdtemp(prefix="vboard-flash-")
            flash = self._tmp
        self.flash = os.path.abspath(flash)
        os.makedirs(os.path.join(self.flash, "lib"), exist_ok=True)
        self.board = board
        self.link = link
        self.heapsize = heapsize
        self.flash_size = flash_size
        self.forward = list(forward)
        self.reverse = list(reverse)  # board -> 192.0.2.1:p -> 127.0.0.1:h (link sim)
        self.capture = capture  # pcap of the chip's wire (link sim)
        self.loss = loss  # frames lost at random on the sim link, seeded
        self.seed = seed
        self.mpy = micropython or micropython_path()
        if not self.mpy:
            raise RuntimeError("no `micropython` command (make venv installs it)")
        self.board_id = board_id or "e6614103e7452b2f"
        self.log = log or (lambda msg: None)
        self.mode = "friendly"  # what the host last asked for: Ctrl-A raw, Ctrl-B friendly
        self.boots = 0
        self.child = None
        self.peer = None
        self._stop = threading.Event()
        self._thread = None
        self.device = None

    # -- life cycle -------------------------------------------------------------------
    def start(self):
        self._host_fd, slave = pty.openpty()
        tty.setraw(slave)
        self.device = os.ttyname(slave)
        self._keep = slave  # held open so the host may close and reopen the device
        fcntl.fcntl(self._host_fd, fcntl.F_SETFL, os.O_NONBLOCK)
        link_env = self._start_link()
        self._link_env = link_env
        self._spawn()
        self._thread = threading.Thread(target=self._relay, name="vboard", daemon=True)
        self._thread.start()
        return self.device

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        self._kill_child()
        if self.peer:
            self.peer.stop()
        for fd in (getattr(self, "_host_fd", None), getattr(self, "_keep", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if getattr(self, "_hw", None):
            shutil.rmtree(self._hw, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- the link: where the emulated chip's wire goes ---------------------------------
    def _start_link(self):
        if not self.board:
            return ""
        kind, _, arg = self.link.partition(":")
        if kind == "packet":
            return "packet:" + arg
        from host_tools import peer

        if kind == "sim":
            self.peer = peer.SimPeer(forward=self.forward, log=self.log, capture=self.capture,
                                     loss=self.loss, seed=self.seed, reverse=self.reverse)
        elif kind == "tap":
            self.peer = peer.TapRelay(arg or "vbtap0", log=self.log)
        else:
            raise ValueError("unknown link %r (sim, tap:NAME, packet:IFNAME)" % self.link)
        self.peer.start()
        return "udp:%d:%d" % (self.peer.board_port, self.peer.port)

    # -- the interpreter ---------------------------------------------------------------
    def _spawn(self):
        self.boots += 1
        env = dict(os.environ)
        env.update(VBOARD_FLASH=self.flash, VBOARD_REPO=REPO, VBOARD_MODE=self.mode,
                   VBOARD_BOARD=self.board, VBOARD_LINK=self._link_env,
                   VBOARD_ID=self.board_id)
        if self.flash_size:
            env["VBOARD_FLASH_SIZE"] = str(self.flash_size)
        if self.board:
            env["VBOARD_HW"] = self._hw_dir()
        env.pop("MICROPYPATH", None)
        cmd = [self.mpy]
        if self.heapsize:
            cmd += ["-X", "heapsize=%s" % self.heapsize]
        cmd += ["-i", os.path.join(HERE, "vboard_boot.py")]
        self._child_fd, slave = pty.openpty()
        # The interpreter's terminal: bytes in as they come (no line editing, no echo,
        # CR kept), Ctrl-C still a signal while code runs, and output unprocessed —
        # it is cooked here (\n -> \r\n) the way a board's USB REPL writes it.
        a = termios.tcgetattr(slave)
        a[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR | termios.IXON)
        a[1] &= ~termios.OPOST
        a[3] = (a[3] | termios.ISIG) & ~(termios.ICANON | termios.ECHO | termios.IEXTEN)
        a[6][termios.VMIN] = 1
        a[6][termios.VTIME] = 0
        termios.tcsetattr(slave, termios.TCSANOW, a)
        self._cr = False

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.child = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                      cwd=self.flash, preexec_fn=ctty, close_fds=True)
        os.close(slave)
        fcntl.fcntl(self._child_fd, fcntl.F_SETFL, os.O_NONBLOCK)
        self._booting = True
        self._up = False  # UP seen: the boot script has started
        self._held_ctrl_c = False
        self._eol = b""  # what is left of a marker's line end
        self._boot_mode = self.mode  # the REPL this boot ends in
        self._boot_buf = b""
        # Host bytes that arrived while the board was booting wait for its REPL (also
        # across a reboot, as a board's USB serial keeps them over a soft reset).
        self._pending = getattr(self, "_pending", b"")
        self.log("boot %d (%s REPL)" % (self.boots, self.mode))

    def _hw_dir(self):
        # A folder holding only the `boards` package: the emulated chips the board's
        # interpreter may import, without the rest of the repository.
        if getattr(self, "_hw", None) is None:
            self._hw = tempfile.mkdtemp(prefix="vboard-hw-")
            os.symlink(os.path.join(REPO, "boards"), os.path.join(self._hw, "boards"))
        return self._hw

    def _kill_child(self):
        c = self.child
        if c and c.poll() is None:
            c.terminate()
            try:
                c.wait(3)
            except subprocess.TimeoutExpired:
                c.kill()
                c.wait()
        if getattr(self, "_child_fd", None) is not None:
            try:
                os.close(self._child_fd)
            except OSError:
                pass
            self._child_fd = None

    def _to_host(self, data):
        end = time.monotonic() + 5
        while data and time.monotonic() < end:
            try:
                n = os.write(self._host_fd, data)
                data = data[n:]
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                return  # nobody has the device open: output is lost, as on a USB CDC

    def _to_child(self, data):
        end = time.monotonic() + 5
        while data and time.monotonic() < end:
            try:
                n = os.write(self._child_fd, data)
                data = data[n:]
            except BlockingIOError:
                time.sleep(0.001)

    def _from_host(self, data):
        for b in data:
            if b == 1:
                self.mode = "raw"
            elif b == 2:
                self.mode = "friendly"
        if self._booting:
            # Ctrl-C interrupts boot.py/main.py at once, as on a board (a main.py that
            # serves forever must not lock the host out); the rest waits for the REPL.
            # Before the boot script runs, SIGINT would kill the interpreter: hold it.
            if b"\x03" in data:
                if self._up:
                    self._to_child(b"\x03")
                else:
                    self._held_ctrl_c = True
            # That Ctrl-C is handled (sent, or held for UP): queued too, it would reach
            # the REPL a second time, where the unix port's SIGINT ends the interpreter.
            self._pending += data.replace(b"\x03", b"")
        else:
            self._to_child(data)

    def _cook(self, data):
        if b"\n" not in data:
            if data:
                self._cr = data[-1:] == b"\r"
            return data
        out = bytearray()
        prev_cr = self._cr
        for part in data.split(b"\n")[:-1]:
            out += part
            if not (part.endswith(b"\r") or (not part and prev_cr)):
                out += b"\r"
            out += b"\n"
            prev_cr = False
        out += data.rsplit(b"\n", 1)[1]
        self._cr = data[-1:] == b"\r"
        return bytes(out)

    def _eat_eol(self, data, eol):
        """data less the start of eol it begins with; the rest of eol is eaten from
        the next output (self._eol)."""
        k = 0
        while k < len(eol) and k < len(data) and data[k] == eol[k]:
            k += 1
        self._eol = eol[k:] if k == len(data) else b""
        return data[k:]

    def _from_child(self, data):
        data = self._cook(data)
        if self._eol:
            data = self._eat_eol(data, self._eol)
        if not self._booting:
            if READY in data:  # a second ready line (see vboard_board.start)
                data = data.replace(READY + b"\r\n", b"").replace(READY, b"")
            self._to_host(data)
            return
        buf = self._boot_buf + data
        if not self._up:
            k = buf.find(UP)
            if k >= 0:
                buf = buf[:k] + self._eat_eol(buf[k + len(UP):], b"\r\n")
                self._up = True
                if self._held_ctrl_c:
                    self._held_ctrl_c = False
                    self._to_child(b"\x03")
        i = buf.find(READY)
        if i < 0:
            # Until the marker, it is boot.py/main.py output: it goes to the host.
            keep = len(READY) - 1
            if len(buf) > keep:
                self._to_host(buf[:-keep])
                buf = buf[-keep:]
            self._boot_buf = buf
            return
        self._to_host(buf[:i])
        self._up = False  # boot.py/main.py are over: a Ctrl-C now would kill the REPL
        # The marker's own line end may come in a later read: eat it wherever it is.
        rest = self._eat_eol(buf[i + len(READY):], b"\r\n")
        if self._boot_mode == "raw":
            # The interpreter's banner is not shown: a board that was reset from the
            # raw REPL comes back in the raw REPL.
            j = rest.find(b">>> ")
            if j < 0:
                self._boot_buf = READY + rest
                return
            rest = rest[j + 4:]
            self._booting = False
            self._to_child(b"\x01")
        else:
            self._booting = False
        self._boot_buf = b""
        if rest:
            self._to_host(rest)
        if self._pending:
            p, self._pending = self._pending, b""
            self._to_child(p)

    def _relay(self):
        while not self._stop.is_set():
            fds = [self._host_fd]
            if self._child_fd is not None:
                fds.append(self._child_fd)
            try:
                r, _, _ = select.select(fds, [], [], 0.1)
            except (OSError, ValueError):
                break
            if self._host_fd in r:
                try:
                    data = os.read(self._host_fd, 4096)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = None  # no host attached (EIO): wait for one
                    time.sleep(0.05)
                if data:
                    self._from_host(data)
            if self._child_fd is not None and self._child_fd in r:
                try:
                    data = os.read(self._child_fd, 4096)
                except BlockingIOError:
                    data = None
                except OSError as e:
                    data = b"" if e.errno == errno.EIO else None
                if data:
                    self._from_child(data)
                elif data == b"":
                    self._rebooted()
            elif self.child is not None and self.child.poll() is not None:
                self._rebooted()

    def _rebooted(self):
        # The interpreter ended (soft reset, machine.reset(), sys.exit()): drain it,
        # say so the way a board does, and boot again.
        if self.child is not None:
            try:
                self.child.wait(2)
            except subprocess.TimeoutExpired:
                pass
        self._kill_child()
        if self._stop.is_set():
            return
        self._to_host(b"MPY: soft reboot\r\n")
        self._spawn()


def main(args):
    fwd = []
    for f in args.forward or ():
        h, _, b = f.partition(":")
        fwd.append((int(h), int(b or h)))
    vb = VBoard(flash=args.flash, board=args.board or "", link=args.link,
                heapsize=args.heapsize, flash_size=args.flash_size, forward=fwd,
                capture=args.capture, loss=args.loss, seed=args.seed,
                log=(lambda m: print("vboard: " + m, file=sys.stderr, flush=True)))
    dev = vb.start()
    print(dev, flush=True)
    print("vboard: flash %s, board %s, link %s; Ctrl-C to stop"
          % (vb.flash, vb.board or "(none)", vb.link if vb.board else "-"),
          file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    vb.stop()
    return 0
