"""Helpers shared by the bench sections: statistics, /proc CPU times, the lab."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "tests") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests"))

import netns  # noqa: E402  (tests/netns.py: the real-peer lab)

MB = 1e6  # MB here means 10**6 bytes throughout the benchmarks


def median(xs):
    s = sorted(xs)
    n = len(s)
    if not n:
        return float("nan")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def percentile(xs, p):
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(xs)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def spread(xs, fmt="%.2f"):
    """'min..max of N' for a note."""
    if not xs:
        return "no runs"
    return ("min " + fmt + " max " + fmt + ", n=%d") % (min(xs), max(xs), len(xs))


def proc_cpu_s(pid):
    """user+system CPU seconds of a process (all its threads) from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / float(os.sysconf("SC_CLK_TCK"))


def kv(line):
    """'word a=1 b=x' -> {'a': '1', 'b': 'x'}"""
    return dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)


def find_line(out, prefix):
    for ln in out.splitlines():
        if ln.startswith(prefix + " "):
            return ln
    raise RuntimeError("no %r line in:\n%s" % (prefix, out))


def lab_problem(kind, interp=None):
    return netns.problem(kind, interp)
