"""Section ``throughput`` (issue 8, items 1 and 2): TCP download and upload against the
Linux kernel in a network namespace, timed by the kernel side from accept().

* spinet on CPython over a TAP; PyTCP 3.0.9 on the same kind of TAP in the same run
  (its daemon, `python -O`, TCP_NODELAY, see pytcp_env.py), runs interleaved with
  spinet's; the raw-frame ceiling: a bare CPython os.read loop on a TAP while the
  kernel sends it full-size frames (UDP datagrams of 65507 bytes to an address with a
  static neighbour entry, so the kernel fragments each into 44 frames of 1514 bytes
  and one shorter; nobody answers, nothing is parsed).
* spinet on the MicroPython unix port over AF_PACKET on a veth, and the same through
  each emulated chip (the real W5500 / ENC28J60 driver over the fake SPI bus, the chip
  model's wire on the veth), so the SPI cost shows.

MB/s is 10**6 bytes per second; each figure is the median of the runs (min/max in the
note). CPU s/MB is the user+system time of the stack's own process(es) during the
transfer (spinet: the process itself, /proc/self/stat; PyTCP: daemon plus client) per
10**6 bytes.
"""

import os
import sys

from host_tools.bench import pytcp_env
from host_tools.bench.common import (MB, find_line, kv, median, netns, proc_cpu_s, spread)

HERE = os.path.dirname(os.path.abspath(__file__))
KPEER = os.path.join(HERE, "kpeer.py")
APP = os.path.join(HERE, "spinet_app.py")
PYTCP_APP = os.path.join(HERE, "pytcp_app.py")
TAPREAD = os.path.join(HERE, "tapread.py")
SPINET_MAC = "02:53:50:4e:00:01"
PYTCP_MAC = "02:00:00:77:77:77"
S = "throughput"


class Plan:
    def __init__(self, quick):
        self.quick = quick
        self.runs = 3 if quick else 5
        self.cp_bytes = 4_000_000 if quick else 20_000_000  # spinet CPython and PyTCP
        self.mp_bytes = 2_000_000 if quick else 10_000_000  # MicroPython over AF_PACKET
        self.chip_bytes = 500_000 if quick else 2_000_000   # MicroPython through a chip
        self.ceiling_s = 1.0 if quick else 2.0


_port = [6000]


def _next_port():
    _port[0] += 1
    return _port[0]


def _kpeer(lab, role, size):
    port = _next_port()
    k = lab.popen([sys.executable, "-u", KPEER, "source" if role == "download" else "sink",
                   str(port), str(size)], name="kpeer", timeout=600)
    k.expect("^listening", timeout=10)
    return k, port


def _kernel_result(k, role):
    rc, out, err = k.wait()
    if rc != 0:
        raise RuntimeError("kernel peer failed: %s %s" % (out, err))
    d = kv(find_line(out, "source" if role == "download" else "sink"))
    return int(d["bytes"]), float(d["ms"])


# What the drivers' rx_window lets the peer have in flight (docs/CHIPS.md).
CHIP_WINDOW = {"packet+w5500": "11 680", "packet+enc28j60": "4 380"}


def spinet_once(lab, interp, kind, role, size):
    """One transfer; (MB/s, CPU s per MB)."""
    k, port = _kpeer(lab, role, size)
    # 16 KB rings everywhere: the drivers' rx_window caps what the chips are sent.
    p = lab.run_spinet(interp, APP, [kind, lab.spinet_if, role, port, size],
                       timeout=600)
    rc, out, err = p.wait()
    if rc != 0:
        k.kill()
        raise RuntimeError("spinet %s %s %s failed:\n%s\n%s" % (interp, kind, role, out, err))
    n, ms = _kernel_result(k, role)
    if n != size:
        raise RuntimeError("%s: %d of %d bytes" % (role, n, size))
    cpu_ms = float(kv(find_line(out, "result"))["cpu_ms"])
    return n / MB / (ms / 1000.0), cpu_ms / 1000.0 / (n / MB)


def pytcp_once(lab, py, sock, daemon, role, size):
    k, port = _kpeer(lab, role, size)
    c0 = proc_cpu_s(daemon.pid)
    c = lab.popen(["env", "PYTCP_DAEMON_SOCKET=" + sock, py, "-O", PYTCP_APP, role, str(port),
                   str(size)], name="pytcp client", timeout=900)
    rc, out, err = c.wait()
    c1 = proc_cpu_s(daemon.pid)
    if rc != 0:
        k.kill()
        raise RuntimeError("pytcp %s failed:\n%s\n%s" % (role, out, err))
    n, ms = _kernel_result(k, role)
    if n != size:
        raise RuntimeError("pytcp %s: %d of %d bytes" % (role, n, size))
    client_cpu = float(kv(find_line(out, "result"))["cpu_ms"]) / 1000.0
    return n / MB / (ms / 1000.0), (c1 - c0 + client_cpu) / (n / MB)


def ceiling_once(lab, secs):
    r = lab.popen([sys.executable, "-u", TAPREAD, lab.spinet_if, str(secs)], name="tapread",
                  timeout=60)
    r.expect("^ready", timeout=10)
    b = lab.popen([sys.executable, "-u", KPEER, "blast", str(secs + 1.0)], name="blast",
                  timeout=60)
    rc, out, err = r.wait()
    b.wait()
    if rc != 0:
        raise RuntimeError("tapread failed: %s %s" % (out, err))
    d = kv(find_line(out, "ceiling"))
    secs = float(d["secs"])
    return (int(d["bytes"]) / MB / secs, int(d["frames"]) / secs,
            int(d["full"]) / max(1, int(d["frames"])), float(d["cpu_ms"]) / 1000.0 / secs)


def start_pytcp(log):
    """A PyTCP daemon on its own TAP lab; (lab, python, socket path, daemon Proc), or
    raises RuntimeError saying why not."""
    py = pytcp_env.ensure(log)
    lab = netns.Lab(kind="tap", tap_if="tap7")  # PyTCP accepts only tap*/tun* names
    lab.__enter__()
    try:
        sock = os.path.join(lab.tmp, "pytcp.sock")
        d = lab.popen([py, "-O", "-m", "pytcp.daemon", "--ipc-socket", sock, "-i", "tap7",
                       "--mac-address", PYTCP_MAC, "--ip4-address", "192.0.2.2/24",
                       "--no-ip6"], name="pytcpd", timeout=7200)
        log("pytcp: daemon starting (about 11 s of ARP probing before it answers)")
        d.expect("listening on", timeout=60)
    except BaseException:
        lab.close()
        raise
    return lab, py, sock, d


def _rows_for(rows, label, role, mbps, cpu, size, note_extra=""):
    n = len(mbps)
    rows.append({"section": S, "name": "%s %s" % (label, role), "value": median(mbps),
                 "unit": "MB/s", "note": "median of %d x %g MB, %s%s"
                 % (n, size / MB, spread(mbps), note_extra)})
    rows.append({"section": S, "name": "%s %s CPU" % (label, role), "value": median(cpu),
                 "unit": "s/MB", "note": spread(cpu, "%.3f")})


def run(quick, log):
    plan = Plan(quick)
    rows = []
    why = netns.problem("tap")
    if why:
        return [{"section": S, "name": "skipped", "value": float("nan"), "unit": "",
                 "note": why}]
    # --- CPython: spinet, PyTCP and the ceiling, in one run -------------------------
    pyt = None
    pytcp_note = ""
    try:
        pyt = start_pytcp(log)
    except Exception as e:  # report the reason and keep the rest
        pytcp_note = "PyTCP unavailable: %s: %s" % (type(e).__name__, e)
        log(pytcp_note)
    res = {}
    try:
        with netns.Lab(kind="tap") as lab:
            for i in range(plan.runs):
                for role in ("download", "upload"):
                    m, c = spinet_once(lab, "cpython", "tap", role, plan.cp_bytes)
                    res.setdefault(("spinet", role), []).append((m, c))
                    msg = "run %d/%d %s: spinet %.2f MB/s" % (i + 1, plan.runs, role, m)
                    if pyt is not None:
                        plab, py, sock, d = pyt
                        m2, c2 = pytcp_once(plab, py, sock, d, role, plan.cp_bytes)
                        res.setdefault(("pytcp", role), []).append((m2, c2))
                        msg += ", PyTCP %.2f MB/s" % m2
                    log(msg)
            # The ceiling on the same TAP (a permanent neighbour entry: the kernel sends
            # without ARP; spinet is not running).
            lab.sh("ip neigh replace 192.0.2.2 lladdr %s dev %s nud permanent"
                   % (SPINET_MAC, lab.kernel_if))
            for i in range(plan.runs):
                res.setdefault("ceiling", []).append(ceiling_once(lab, plan.ceiling_s))
                log("ceiling run %d/%d: %.0f MB/s" % (i + 1, plan.runs, res["ceiling"][-1][0]))
            lab.sh("ip neigh del 192.0.2.2 dev %s" % lab.kernel_if, check=False)
    finally:
        if pyt is not None:
            pyt[0].close()
    ceil = res["ceiling"]
    ceil_mbps = median([c[0] for c in ceil])
    for role in ("download", "upload"):
        sp = res[("spinet", role)]
        _rows_for(rows, "spinet CPython TAP", role, [x[0] for x in sp], [x[1] for x in sp],
                  plan.cp_bytes)
    if pyt is not None:
        for role in ("download", "upload"):
            pt = res[("pytcp", role)]
            _rows_for(rows, "PyTCP 3.0.9 TAP", role, [x[0] for x in pt], [x[1] for x in pt],
                      plan.cp_bytes, "; python -O, TCP_NODELAY; CPU: daemon + client")
        for role in ("download", "upload"):
            a = median([x[0] for x in res[("spinet", role)]])
            b = median([x[0] for x in res[("pytcp", role)]])
            rows.append({"section": S, "name": "spinet/PyTCP %s" % role, "value": a / b,
                         "unit": "x", "note": "ratio of medians, same run (target >= 3)"})
    else:
        rows.append({"section": S, "name": "PyTCP", "value": float("nan"), "unit": "",
                     "note": pytcp_note})
    rows.append({"section": S, "name": "raw-frame ceiling TAP", "value": ceil_mbps,
                 "unit": "MB/s", "note": "bare os.read loop, kernel blasting fragmented UDP; "
                 "median of %d x %.0f s, %s" % (len(ceil), plan.ceiling_s,
                                                spread([c[0] for c in ceil], "%.0f"))})
    rows.append({"section": S, "name": "raw-frame ceiling frames", "value":
                 median([c[1] for c in ceil]), "unit": "frames/s", "note": "%.1f %% of them "
                 "1514 bytes" % (100 * median([c[2] for c in ceil]))})
    for role in ("download", "upload"):
        a = median([x[0] for x in res[("spinet", role)]])
        rows.append({"section": S, "name": "spinet/ceiling %s" % role, "value": a / ceil_mbps,
                     "unit": "x", "note": "spinet CPython TAP median / ceiling median"})
    # --- MicroPython unix port over AF_PACKET, then through each emulated chip ------
    why = netns.problem("packet", "micropython")
    if why:
        rows.append({"section": S, "name": "MicroPython", "value": float("nan"), "unit": "",
                     "note": why})
        return rows
    with netns.Lab(kind="packet") as lab:
        for kind, size in (("packet", plan.mp_bytes), ("packet+w5500", plan.chip_bytes),
                           ("packet+enc28j60", plan.chip_bytes)):
            for role in ("download", "upload"):
                ms, cs = [], []
                for i in range(plan.runs):
                    m, c = spinet_once(lab, "micropython", kind, role, size)
                    ms.append(m)
                    cs.append(c)
                log("MicroPython %s %s: %s MB/s" % (kind, role, " ".join("%.2f" % x for x in ms)))
                label = "spinet MicroPython " + ("AF_PACKET" if kind == "packet" else
                                                 kind.split("+")[1] + " (emulated, AF_PACKET)")
                extra = ("; 16 KB rings, window %s" % CHIP_WINDOW[kind]) if kind in CHIP_WINDOW \
                    else ""
                _rows_for(rows, label, role, ms, cs, size, extra)
    return rows
