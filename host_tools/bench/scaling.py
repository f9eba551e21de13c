"""Bench section `scaling` (issue 8 item 7): throughput and heap as the ring buffers
grow (1, 2, 4, 8, 16 KB, one connection) and with 1, 4, 8 concurrent connections
(2 KB rings), on the MicroPython unix port, spinet from .mpy.

Which link: the simulated segment (boards/sim/segment.py) with two spinet stacks in
one process, A sending to B. The segment runs on virtual time with no delay, so
virtual time says nothing about speed; the MB/s figures are wall clock of the
transfer loop in that process (both stacks' CPU plus the segment's), median of 3
runs, noisy on a shared machine. Heap is gc.mem_alloc() after connecting (both
Interfaces, every connection pair with its rings both sides, the listening socket),
64-bit unix port."""

from host_tools.bench import mprun

SECTION = "scaling"


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def run(quick, log):
    total = (512 if quick else 1024) * 1024
    reps = 3
    cases = [(k * 1024, 1) for k in (1, 2, 4, 8, 16)] + [(2048, 4), (2048, 8)]
    rows = []
    for ring, conns in cases:
        log("scaling: %d KB rings, %d connection(s), %d KB" % (ring // 1024, conns,
                                                               total // 1024))
        speed = []
        heap = None
        for _ in range(reps):
            r, _ = mprun.run_probe(SECTION, "scale", (ring, conns, total))
            speed.append(r[0]["value"])
            heap = r[1]["value"]
        spread = "" if reps == 1 else " (runs %s)" % "/".join("%.2f" % s for s in speed)
        rows.append({"section": SECTION,
                     "name": "%2d KB rings, %d conn: throughput" % (ring // 1024, conns),
                     "value": _median(speed), "unit": "MB/s",
                     "note": "wall, sim segment, 2 stacks in 1 process, %d KB, median of %d%s"
                     % (total // 1024, reps, spread)})
        rows.append({"section": SECTION,
                     "name": "%2d KB rings, %d conn: heap" % (ring // 1024, conns),
                     "value": heap, "unit": "B",
                     "note": "2 Interfaces + %d connection pair(s), rings both sides; "
                     "64-bit" % conns})
    return rows


if __name__ == "__main__":
    raise SystemExit(mprun.main_for(run))
