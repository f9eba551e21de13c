# A user-space Ethernet relay with seeded faults (CPython, Linux, root): forwards every
# frame between two interfaces over AF_PACKET, in both directions, applying loss,
# duplication, reordering, corruption and delay. It stands in for netem (this kernel
# has none) between the kernel's veth and spinet's:
#
#   k0 (kernel) <-veth-> A ==fault_relay== B <-veth-> s0 (spinet)
#
#   python tests/fault_relay.py A B [--seed N] [--loss P] [--dup P] [--reorder P]
#                                   [--corrupt P] [--delay-ms MS]
#
# Per frame and direction, decisions come from boards.sim.rng.XorShift (one generator
# per direction, seeded from --seed), in this order: lost (dropped); corrupted (one bit
# flipped inside the IPv4 datagram, or anywhere past the Ethernet header for other
# frames: the IP/TCP/UDP/ICMP checksums must catch it); held back (reordered: sent
# after an extra 1..2*delay+2 ms, so later frames overtake it); duplicated (a second
# copy, scheduled on its own). Every frame waits --delay-ms before it leaves.
#
# Frames the relay itself sends come back on its packet sockets as PACKET_OUTGOING
# copies; CPython's recvfrom() reports the pkttype in the address, so they are skipped.
# Prints "relay ready" once both sockets are bound, and on SIGTERM/SIGINT one line of
# counters per direction ("relay counters A>B rx=.. tx=.. lost=.. ..."), then exits 0.

import heapq
import os
import select
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from boards.sim.rng import XorShift  # noqa: E402

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
NAMES = ("rx", "tx", "lost", "dup", "reordered", "corrupted", "send_errors", "outgoing")


class Direction:
    def __init__(self, name, src, dst, seed, opts):
        self.name = name
        self.src = src
        self.dst = dst
        self.rng = XorShift(seed)
        self.o = opts
        self.c = dict((k, 0) for k in NAMES)


def parse(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__ if __doc__ else "usage: fault_relay.py A B [options]")
    o = dict(seed=1, loss=0.0, dup=0.0, reorder=0.0, corrupt=0.0, delay_ms=0.0)
    a, b = argv[0], argv[1]
    i = 2
    while i < len(argv):
        k = argv[i]
        if not k.startswith("--") or i + 1 >= len(argv):
            raise SystemExit("bad argument %r" % k)
        name = k[2:].replace("-", "_")
        if name not in o:
            raise SystemExit("unknown option %r" % k)
        o[name] = int(argv[i + 1]) if name == "seed" else float(argv[i + 1])
        i += 2
    return a, b, o


def corrupt(rng, frame):
    """Flip one bit inside the IPv4 datagram (or past the Ethernet header)."""
    f = bytearray(frame)
    lo, hi = 14, len(f)
    if len(f) >= 34 and f[12] == 0x08 and f[13] == 0x00:
        total = (f[16] << 8) | f[17]
        if 20 <= total <= len(f) - 14:
            hi = 14 + total  # not in the Ethernet padding, where nothing would notice
    if hi <= lo:
        return bytes(f)
    i = lo + rng.below(hi - lo)
    f[i] ^= 1 << rng.below(8)
    return bytes(f)


def main(argv):
    a, b, o = parse(argv)
    sa = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sb = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sa.bind((a, ETH_P_ALL))
    sb.bind((b, ETH_P_ALL))
    for s in (sa, sb):
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    seed = int(o["seed"])
    dirs = {sa.fileno(): Direction("%s>%s" % (a, b), sa, sb, seed * 2 + 1, o),
            sb.fileno(): Direction("%s>%s" % (b, a), sb, sa, seed * 2 + 2, o)}
    delay = o["delay_ms"] / 1000.0
    stop = []

    def on_signal(signum, frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    pending = []  # heap of (due, seq, direction, frame)
    seq = 0
    poller = select.poll()
    for fd in dirs:
        poller.register(fd, select.POLLIN)
    print("relay ready %s %s %s" % (a, b, " ".join("%s=%s" % (k, o[k]) for k in sorted(o))))
    sys.stdout.flush()

    while not stop:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, d, frame = heapq.heappop(pending)
            try:
                d.dst.send(frame)
                d.c["tx"] += 1
            except OSError:
                d.c["send_errors"] += 1
        timeout = 200 if not pending else max(0, int((pending[0][0] - now) * 1000 + 0.999))
        try:
            events = poller.poll(timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for fd, _ in events:
            d = dirs[fd]
            for _ in range(64):  # bounded per wake-up, then timers again
                try:
                    frame, addr = d.src.recvfrom(65536)
                except BlockingIOError:
                    break
                except OSError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    d.c["outgoing"] += 1  # our own send, seen on the way out
                    continue
                d.c["rx"] += 1
                rng = d.rng
                if rng.chance(o["loss"]):
                    d.c["lost"] += 1
                    continue
                if rng.chance(o["corrupt"]):
                    frame = corrupt(rng, frame)
                    d.c["corrupted"] += 1
                due = now + delay
                if rng.chance(o["reorder"]):
                    d.c["reordered"] += 1
                    due += (1 + rng.below(int(2 * o["delay_ms"]) + 2)) / 1000.0
                seq += 1
                heapq.heappush(pending, (due, seq, d, frame))
                if rng.chance(o["dup"]):
                    d.c["dup"] += 1
                    seq += 1
                    heapq.heappush(pending, (due + (rng.below(3) / 1000.0), seq, d, frame))

    for d in dirs.values():
        print("relay counters %s %s" % (d.name, " ".join("%s=%d" % (k, d.c[k]) for k in NAMES)))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
