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
# A Pico-like heap for callgrind runs (rp2040-cost.md: the same GC block count).
PICO_HEAP = 467584


class BenchError(RuntimeError):
    pass


def micropython():
    from host_tools.vboard import micropython_path

    p = micropython_path()
    if not p:
        raise BenchError("no micropython interpreter (.venv/bin/micropython)")
    return p


# The board-side modules and their compilation are deploy's (one list of what goes on
# a board, one mpy-cross invocation).
from host_tools.deploy import (DeployError, bytecode_copy, compile_mpy,  # noqa: E402
                               spinet_sources)


_MPY_DIRS = {}  # type: dict


def mpy_lib(arch="x64", bytecode=False):
    """A temp folder holding spinet/ as .mpy files for `arch` (x64: the unix port
    here; armv6m: a Pico), compiled once per process; returns (folder, {relative .py
    path: .mpy bytes}). bytecode: as `deploy --bytecode` makes them (no native code;
    what a board holds in RAM when it loads spinet from its flash files)."""
    key = (arch, bytecode)
    if key not in _MPY_DIRS:
        d = tempfile.mkdtemp(prefix="spinet-mpy-%s%s-" % (arch, "-bc" if bytecode else ""))
        sizes = {}
        for rel, src in spinet_sources():
            dst = os.path.join(d, "spinet", rel[:-3] + ".mpy")
            if bytecode:
                src = bytecode_copy(src, os.path.join(d, "src"), rel)
            try:
                compile_mpy(src, dst, arch, "spinet/" + rel)
            except DeployError as e:
                raise BenchError(str(e))
            sizes[rel] = os.path.getsize(dst)
        _MPY_DIRS[key] = (d, sizes)
    return _MPY_DIRS[key]


def probe_cmd(mode, args=(), heap=None, mpy=True, python=None, bytecode=False):
    lib = mpy_lib(bytecode=bytecode)[0] if mpy else LIB
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
              check=True, bytecode=False):
    """Run one probe; returns (rows, stdout). Raises BenchError if it did not finish
    (unless check is False: then rows is None)."""
    cmd = probe_cmd(mode, args, heap, mpy, python, bytecode)
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


def callgrind(mode, args, heap=PICO_HEAP, timeout=900, bytecode=False):
    """Instructions (Ir) the MicroPython unix port executes for one probe run, and
    the probe's stdout."""
    if not shutil.which("valgrind"):
        raise BenchError("valgrind is not installed")
    with tempfile.TemporaryDirectory(prefix="spinet-cg-") as d:
        out = os.path.join(d, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + \
            probe_cmd(mode, args, heap, bytecode=bytecode)
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
