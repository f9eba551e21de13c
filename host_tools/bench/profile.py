"""Bench section `profile` (issue 8 item 8): where the time goes on the receive and
send paths.

- CPython: cProfile over N full-size segments on one open connection (the Feeder /
  Acker rigs of host_tools/bench/mp/rigs.py: the rig is the peer, so the only stack
  in the process is spinet's), top 15 functions by own time, in us per segment.
- MicroPython unix port (spinet from .mpy): time per stage, from ticks_us wrappers
  the probe installs around the stack's functions (host_tools/bench/mp/probe.py
  `stages`; nothing in lib/). Times are inclusive (a stage contains the indented
  ones below it) and each wrapper adds a few us per call, so read them as shares.
"""

import sys

from host_tools.bench import mprun

SECTION = "profile"


def run(quick, log):
    segs = 500 if quick else 3000
    rows = []
    for path in ("rx", "tx"):
        log("profile: CPython cProfile, %s path, %d segments" % (path, segs))
        r, _ = mprun.run_probe(SECTION, "profile", (path, segs), mpy=False,
                               python=sys.executable)
        for x in r:
            x["name"] = "cpython %s: %s" % (path, x["name"])
        rows += r
    for path in ("rx", "tx"):
        log("profile: MicroPython stages, %s path, %d segments" % (path, segs))
        r, _ = mprun.run_probe(SECTION, "stages", (path, segs))
        for x in r:
            x["name"] = "mpy %s: %s" % (path, x["name"])
        rows += r
    return rows


if __name__ == "__main__":
    raise SystemExit(mprun.main_for(run))
