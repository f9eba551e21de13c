"""A pcap of the virtual board's link while the board does something (CPython).

    python -m host_tools capture -o FILE.pcap [--board sim_w5500|sim_enc28j60]
                                 [--bytes N] [--loss P] [--seed N] [--run SCRIPT]

Starts a virtual board (host_tools/vboard.py) with the emulated chip on its SPI bus,
puts spinet on its flash (FLASH/lib/spinet) with a ``board.py`` that names the chip
(``from boards.sim_w5500 import nic``), and runs on the board, through mpremote,
either SCRIPT or a TCP transfer: N bytes to the peer's echo server 192.0.2.1:7 from
the static address 192.0.2.2/24, every echoed byte checked. The peer records every
frame of the board's wire (``VBoard(capture=)``); ``--loss`` loses frames both ways
at a seeded rate. Prints what the board printed, then the pcap's path and frame count.
"""

import os
import shutil
import subprocess
import sys
import tempfile

from host_tools import pcapread
from host_tools.vboard import REPO, VBoard

# The board's side of the default run. Restricted Python (MicroPython). The stream
# is byte i = i % 256 in 1024-byte writes, at most WINDOW bytes ahead of the echo,
# so the check needs no copy of what was sent.
TRANSFER = """\
import time
from board import nic
from spinet import socket

N = %(n)d
WINDOW = 4096
n = nic(ifconfig=("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1"))
pat = bytes(range(256)) * 9
chunk = memoryview(pat)[:1024]
buf = bytearray(2048)
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(30)
t0 = time.ticks_ms()
s.connect(("192.0.2.1", 7))
sent = 0
got = 0
bad = 0
while got < N:
    if sent < N and sent - got < WINDOW:
        k = min(1024, N - sent)
        s.sendall(chunk[:k])
        sent += k
        continue
    r = s.recv_into(buf)
    if not r:
        break
    o = got %% 256
    if buf[:r] != pat[o:o + r]:
        bad += 1
    got += r
ms = time.ticks_diff(time.ticks_ms(), t0)
s.close()
t = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), t) < 1000:
    n.poll()  # let the FIN exchange finish on the wire
st = n.stats()
print("capture: sent %%d, echoed %%d, %%s, %%d ms, retransmits %%d" %% (
    sent, got, "intact" if got == N and not bad else "DAMAGED", ms, st["tcp_retransmit"]))
"""


def make_flash(flash, board):
    """spinet in FLASH/lib/spinet and FLASH/board.py naming the chip."""
    lib = os.path.join(flash, "lib")
    os.makedirs(lib, exist_ok=True)
    dst = os.path.join(lib, "spinet")
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(os.path.join(REPO, "lib", "spinet"), dst,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    with open(os.path.join(flash, "board.py"), "w") as f:
        f.write("from boards.%s import nic\n" % board)


def mpremote_cmd():
    p = os.path.join(os.path.dirname(sys.executable), "mpremote")
    return [p] if os.path.exists(p) else [sys.executable, "-m", "mpremote"]


def capture(output, board="sim_w5500", nbytes=65536, loss=0.0, seed=1, script=None,
            timeout=300.0, out=print):
    """Run it; returns (frames in the pcap, what the board printed). Raises
    RuntimeError when the board's run fails or times out."""
    output = os.path.abspath(output)
    tmp = tempfile.mkdtemp(prefix="capture-")
    try:
        flash = os.path.join(tmp, "flash")
        make_flash(flash, board)
        if script is None:
            script = os.path.join(tmp, "transfer.py")
            with open(script, "w") as f:
                f.write(TRANSFER % {"n": nbytes})
        with VBoard(flash=flash, board=board, link="sim", capture=output, loss=loss,
                    seed=seed) as vb:
            try:
                r = subprocess.run(mpremote_cmd() + ["connect", vb.device, "run", script],
                                   capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired as e:
                raise RuntimeError("the board did not finish within %.0f s" % timeout) from e
            printed = r.stdout + r.stderr
            if r.returncode:
                raise RuntimeError("the board's run failed (mpremote exit %d):\n%s"
                                   % (r.returncode, printed))
            if vb.peer is not None and vb.peer.error is not None:
                raise RuntimeError("the peer failed: %r" % (vb.peer.error,))
        frames = len(pcapread.packets(output))
        return frames, printed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(args):
    if not 0.0 <= args.loss < 1.0:
        print("error: --loss must be in [0, 1)", file=sys.stderr)
        return 2
    if args.run and not os.path.exists(args.run):
        print("error: no script %s" % args.run, file=sys.stderr)
        return 2
    try:
        frames, printed = capture(args.output, board=args.board, nbytes=args.bytes,
                                  loss=args.loss, seed=args.seed, script=args.run,
                                  timeout=args.timeout)
    except (RuntimeError, OSError, pcapread.PcapError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    sys.stdout.write(printed if printed.endswith("\n") or not printed else printed + "\n")
    if "DAMAGED" in printed:
        print("error: the echo came back damaged or short", file=sys.stderr)
        return 1
    print("capture: %s, %d frames" % (os.path.abspath(args.output), frames))
    return 0
