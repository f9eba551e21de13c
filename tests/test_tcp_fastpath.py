# Header prediction (tcp._fast_in, tcp._fast_ack) must not change behaviour: the same
# seeded transfers, with the fast paths and with them switched off, give the same
# frames, timing and counters on both ends.

import tcp_apps
from spinet import tcp

SIZE = 16384
CASES = (
    ("clean", None, "download", 1, None),
    ("clean", None, "upload", 1, None),
    ("loss5", {"loss": 0.05, "delay_ms": 1}, "upload", 2, 8192),
    ("clean", None, "both", 1, None),
    ("loss5", {"loss": 0.05, "delay_ms": 1}, "download", 2, 8192),
    ("reorder20", {"reorder": 0.2, "delay_ms": 1}, "both", 2, 8192),
    ("all", {"loss": 0.05, "dup": 0.01, "reorder": 0.2, "corrupt": 0.01, "delay_ms": 2},
     "both2", 3, None),
)
KEYS = ("ok", "bytes", "sha", "ms", "retransmits", "timeouts", "fast_retransmits",
        "dupacks", "resets", "ooo_drops", "bad_checksum", "lost", "dup", "reordered",
        "corrupt", "frames", "clean")


def _run(faults, direction, seed, ring):
    r = tcp_apps.transfer(SIZE, seed, faults, direction, rx=ring, tx=ring)
    return [r[k] for k in KEYS] + [list(n._count) for n in r["nics"]]


def _slow(*args):
    return False


def test_fast_path_changes_nothing():
    fast = tcp._fast_in
    fast_ack = tcp._fast_ack
    for name, faults, direction, seed, ring in CASES:
        with_fast = _run(faults, direction, seed, ring)
        tcp._fast_in = _slow
        tcp._fast_ack = _slow
        try:
            without = _run(faults, direction, seed, ring)
        finally:
            tcp._fast_in = fast
            tcp._fast_ack = fast_ack
        assert with_fast[0] and with_fast[2], name
        assert with_fast == without, "%s %s seed %d: %r != %r" % (
            name, direction, seed, with_fast, without)
