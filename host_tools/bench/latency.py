"""Section ``latency`` (issue 8, item 3): ``ping`` round-trip time from the Linux kernel
to spinet in a network namespace -- spinet on CPython over a TAP and on the MicroPython
unix port over AF_PACKET (tests/realpeer_app.py, role idle) -- with the median and the
99th percentile (nearest rank) of the per-echo times ping prints. 56-byte payloads,
``ping -i 0.01`` (root): 200 echoes, 50 with --quick. Lost echoes are counted in the note.
"""

import re

from host_tools.bench.common import median, netns, percentile

S = "latency"
APP = "tests/realpeer_app.py"
RINGS = (("cpython", "tap", "CPython TAP"), ("micropython", "packet", "MicroPython AF_PACKET"))


def ping_rtts(lab, count):
    r = lab.sh("ping -n -c %d -i 0.01 -W 1 %s" % (count, netns.SPINET_IP), timeout=120,
               check=False)
    rtts = [float(m) for m in re.findall(r"time=([\d.]+) ms", r.stdout)]
    return rtts, r.stdout


def run(quick, log):
    count = 50 if quick else 200
    rows = []
    for interp, kind, label in RINGS:
        why = netns.problem(kind, interp)
        if why:
            rows.append({"section": S, "name": "ping %s" % label, "value": float("nan"),
                         "unit": "", "note": why})
            continue
        with netns.Lab(kind=kind) as lab:
            p = lab.run_spinet(interp, APP, lab.spinet_args() + ["idle", "120"], timeout=150)
            p.expect("^ready", timeout=30)
            lab.sh("ping -n -c 3 -i 0.05 -W 1 %s" % netns.SPINET_IP, check=False)  # ARP, warm-up
            rtts, out = ping_rtts(lab, count)
            lab.sh("printf quit | socat -u - UDP:%s:9" % netns.SPINET_IP, check=False)
            p.stop()
        lost = count - len(rtts)
        log("ping %s: %d/%d echoes, median %.3f ms" % (label, len(rtts), count, median(rtts)))
        note = "%d pings -i 0.01, %d lost; min %.3f max %.3f ms" % (
            count, lost, min(rtts) if rtts else float("nan"), max(rtts) if rtts else float("nan"))
        rows.append({"section": S, "name": "ping RTT %s median" % label, "value": median(rtts),
                     "unit": "ms", "note": note})
        rows.append({"section": S, "name": "ping RTT %s p99" % label,
                     "value": percentile(rtts, 99), "unit": "ms", "note": "nearest rank"})
    return rows
