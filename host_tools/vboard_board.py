# Imported first in every interpreter the virtual board starts (MicroPython unix
# port, `micropython -i vboard_boot.py`): it makes the process look like a board, then
# runs the flash's boot.py (and main.py on a boot into the friendly REPL) the way
# MicroPython's rp2 port does, and hands over to the REPL.
#
# What "look like a board" means here:
# - The flash is a host folder. `/` of the board is that folder: `os` and `open`
#   are replaced by versions that map board paths into it and never reach outside.
#   `os.statvfs("/")` reports the configured flash size; writes past it fail with
#   ENOSPC, as a full littlefs does.
# - sys.path is the board's: "", ".frozen", "/lib" (mapped).
# - `machine` gains unique_id(), reset(), freq() and, with an emulated chip wired,
#   Pin and SPI: the chip's model answers the SPI bus, and its wire side is the
#   virtual board's link (see host_tools/vboard.py).
# Everything the board is given lives in module `vboard` (sys.modules["vboard"]).
import sys
import os as _os

_env = _os.getenv
ROOT = _env("VBOARD_FLASH").rstrip("/")
REPO = _env("VBOARD_REPO") or ""
MODE = _env("VBOARD_MODE") or "friendly"
FLASH_SIZE = int(_env("VBOARD_FLASH_SIZE") or "1441792")  # a Pico's 1.375 MB littlefs
ENOSPC = 28
ENOENT = 2
_cwd = ["/"]


def _norm(path):
    """A board path made absolute and free of '.'/'..' (never above '/')."""
    if not isinstance(path, str):
        path = path.decode()
    if not path.startswith("/"):
        path = _cwd[0].rstrip("/") + "/" + path
    out = []
    for part in path.split("/"):
        if part == "" or part == ".":
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(part)
    return "/" + "/".join(out)


def _host(path):
    return ROOT + _norm(path).rstrip("/") if _norm(path) != "/" else ROOT


def _used(path=ROOT):
    n = 0
    for ent in _os.ilistdir(path):
        p = path + "/" + ent[0]
        if ent[1] == 0x4000:
            n += 4096 + _used(p)
        else:
            n += (_os.stat(p)[6] + 4095) // 4096 * 4096
    return n


class _Os:
    sep = "/"

    def __init__(self):
        # The rest of os as it is (the class's own methods win).
        for name in dir(_os):
            if not name.startswith("__") and not hasattr(_Os, name):
                setattr(self, name, getattr(_os, name))

    def getcwd(self):
        return _cwd[0]

    def chdir(self, path):
        p = _norm(path)
        if _os.stat(_host(p))[0] & 0x4000 == 0:
            raise OSError(ENOENT)
        _cwd[0] = p

    def listdir(self, path=""):
        return _os.listdir(_host(path))

    def ilistdir(self, path=""):
        return _os.ilistdir(_host(path))

    def stat(self, path):
        return _os.stat(_host(path))

    def mkdir(self, path):
        return _os.mkdir(_host(path))

    def rmdir(self, path):
        return _os.rmdir(_host(path))

    def remove(self, path):
        return _os.remove(_host(path))

    unlink = remove

    def rename(self, a, b):
        return _os.rename(_host(a), _host(b))

    def statvfs(self, path="/"):
        bs = 4096
        total = FLASH_SIZE // bs
        free = total - _used() // bs
        if free < 0:
            free = 0
        return (bs, bs, total, free, free, 0, 0, 0, 0, 255)

    def sync(self):
        pass


class _File:
    # A file on the flash that refuses to grow the flash past its size.
    def __init__(self, f, writing):
        self._f = f
        self._room = FLASH_SIZE - _used() if writing else 0

    def write(self, data):
        n = len(data)
        if n > self._room:
            raise OSError(ENOSPC)
        self._room -= n
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self._f.close()

    def __iter__(self):
        return iter(self._f)


import builtins  # noqa: E402

_open = builtins.open


def _board_open(path, mode="r", *args, **kw):
    if isinstance(path, int):
        return _open(path, mode, *args, **kw)
    f = _open(_host(path), mode, *args, **kw)
    if "w" in mode or "a" in mode or "+" in mode:
        return _File(f, True)
    return f


class _Machine:
    def __init__(self):
        import machine as m

        for name in dir(m):
            if not name.startswith("__") and not hasattr(_Machine, name):
                setattr(self, name, getattr(m, name))
        self._freq = 125000000

    def unique_id(self):
        return bytes.fromhex(_env("VBOARD_ID") or "e6614103e7452b2f")

    def reset(self):
        sys.exit(0)  # the virtual board restarts the interpreter

    soft_reset = reset

    def freq(self, *a):
        if a:
            self._freq = a[0]
            return None
        return self._freq

    def idle(self):
        pass


class _Board:
    """Module `vboard`: what the virtual board wired for the programs it runs."""
    name = _env("VBOARD_BOARD") or ""
    link = _env("VBOARD_LINK") or ""
    flash = ROOT

    def wire(self, mac=None):
        """The emulated chip's wire side: a LAN driver to the virtual board's link.
        mac: the chip's MAC, where known (an AF_PACKET link skips its own frames by
        it); the chip filters what it receives itself."""
        kind, _, arg = self.link.partition(":")
        if kind == "udp":
            from boards.sim.udplink import UdpLink

            local, _, peer = arg.partition(":")
            return UdpLink(mac or b"\x02\x00\x00\x00\x00\x00", int(local), int(peer))
        if kind == "packet":
            # The host driver is part of the board's wiring, not of its flash: load
            # it from the repository by file, so no repository path joins sys.path.
            g = {"__name__": "vboard_packet"}
            with _open(REPO + "/lib/spinet/drivers/packet.py") as f:
                exec(f.read(), g)
            return g["PacketSocket"](arg, mac=mac)
        raise OSError("vboard: no link %r" % self.link)


def _setup():
    machine = _Machine()
    board = _Board()
    sys.modules["machine"] = machine
    sys.modules["vboard"] = board
    builtins.open = _board_open
    sys.modules["os"] = _Os()
    _os.chdir(ROOT)
    sys.path[:] = ["", ".frozen", ROOT + "/lib"]
    # The emulated hardware (package `boards`, from a folder that holds only it) is
    # part of the board, the way a chip is; it comes last, so spinet itself must come
    # from the flash.
    hw = _env("VBOARD_HW")
    if hw:
        sys.path.append(hw)


def _run(name, g):
    try:
        _os.stat(ROOT + "/" + name)
    except OSError:
        return
    try:
        with _open(ROOT + "/" + name) as f:
            code = f.read()
        exec(compile(code, name, "exec"), g)
    except KeyboardInterrupt:
        pass
    except SystemExit:
        raise
    except BaseException as e:  # a board prints the traceback and goes on to the REPL
        sys.print_exception(e)


def start(g):
    """Set the board up, then run boot.py (and main.py) in the REPL's globals g."""
    try:
        _setup()
        # From this line on the virtual board passes Ctrl-C on (as SIGINT: a
        # KeyboardInterrupt here), until it reads the ready line below.
        print("\x1b[vboard-up]")
        _run("boot.py", g)
        if MODE == "friendly":
            _run("main.py", g)
    except BaseException as e:
        sys.print_exception(e)
    # The virtual board reads this line to know the REPL is next (the host never
    # sees it). A Ctrl-C still in flight must not stop it being printed; printed
    # twice, the second is dropped by the virtual board.
    for _ in range(10):
        try:
            print("\x1b[vboard-ready]")
            break
        except KeyboardInterrupt:
            pass
