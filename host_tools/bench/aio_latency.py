"""Section ``aio_latency`` (issue 9): how fast a waiting asyncio task wakes when its
frame arrives. The kernel sends one short line over TCP, spinet (MicroPython unix
port, AF_PACKET in a namespace; tests/aio_app.py role echo) echoes it, the kernel
times the round trip (tests/aio_peer.py echo), 1000 times (200 with --quick), for:

- a blocking echo (plain socket calls: the stack is driven by the call itself),
- asyncio streams with asyncio's own I/O queue (select.poll sleeps 1 ms before it
  asks spinet's sockets, on every pass),
- asyncio streams after ``spinet.start(nic)`` (the loop waits on the driver's fd).

Median, 99th percentile (nearest rank) and worst. Standalone:
``python -m host_tools.bench.aio_latency [--quick]`` (root).
"""

import os
import re
import sys

from host_tools.bench.common import ROOT, netns

S = "aio_latency"
APP = "tests/aio_app.py"
PEER = os.path.join(ROOT, "tests", "aio_peer.py")
MODES = (("blocking", "blocking echo"), ("aio", "asyncio, stock I/O queue"),
         ("pump", "asyncio + spinet.start()"))


def echo_rtts(lab, mode, count):
    """(median, p99, worst) round trip in microseconds, as aio_peer.py measured it."""
    app = lab.run_spinet("micropython", APP, lab.spinet_args() + ["echo", "7000", mode],
                         timeout=120)
    app.expect("^ready echo", timeout=30)
    k = lab.popen(["python3", "-u", PEER, "echo", netns.SPINET_IP, "7000", str(count)],
                  name="echo client", timeout=120)
    rc, out, err = k.wait()
    app.wait()
    m = re.search(r"rtt n=(\d+) bad=(\d+) median_us=(\d+) p99_us=(\d+) worst_us=(\d+)", out)
    if rc != 0 or not m or int(m.group(2)):
        raise RuntimeError("echo %s failed: %s %s" % (mode, out, err))
    return int(m.group(3)), int(m.group(4)), int(m.group(5))


def run(quick, log):
    count = 200 if quick else 1000
    why = netns.problem("packet", "micropython")
    if why:
        return [{"section": S, "name": "echo RTT", "value": float("nan"), "unit": "",
                 "note": why}]
    rows = []
    with netns.Lab(kind="packet") as lab:
        lab.sh("ping -n -c 1 -W 2 %s" % netns.SPINET_IP, check=False)  # ARP first
        for mode, label in MODES:
            med, p99, worst = echo_rtts(lab, mode, count)
            log("%s: median %d us, p99 %d us, worst %d us over %d" % (label, med, p99, worst,
                                                                       count))
            note = "%d TCP one-line echoes; p99 %d us, worst %d us" % (count, p99, worst)
            rows.append({"section": S, "name": "echo RTT %s median" % label,
                         "value": med / 1000.0, "unit": "ms", "note": note})
    return rows


if __name__ == "__main__":
    quick = "--quick" in sys.argv[1:]
    for r in run(quick, print):
        print("%-48s %8.3f %s  %s" % (r["name"], r["value"], r["unit"], r["note"]))
