# TCP acceptance matrix under faults (CPython only: pytest features, 1 MB transfers).
#
# For every fault configuration (applied to both ports of the segment, with a small
# delay) and every direction, 20 seeded 1 MB transfers must complete with the SHA-256
# intact, and leave no control block behind: once the segment has run past the
# closing exchange only listeners remain, and TCP_TIME_WAIT_MS later the TIME-WAIT
# table is empty too. spinet.tcp.DEBUG_RANGE is on meanwhile, so every sequence
# variable is checked to stay a small int (below 2**30) after every segment.
#
# Odd seeds use the default 2 KB rings (few segments in flight: losses are mostly
# repaired by RTO); even seeds use 8 KB rings (fast retransmit, NewReno recovery and
# the out-of-order assembler do the work).

import pytest

import tcp_apps
from spinet import tcp

SIZE = 1_000_000
SEEDS = range(1, 21)
CONFIGS = {
    "loss5": dict(loss=0.05, delay_ms=1),
    "dup1": dict(dup=0.01, delay_ms=1),
    "reorder20": dict(reorder=0.2, delay_ms=1),
    "corrupt1": dict(corrupt=0.01, delay_ms=1),
    "all": dict(loss=0.05, dup=0.01, reorder=0.2, corrupt=0.01, delay_ms=2),
}
# upload A->B, download B->A, both ways at once on one connection, and on two.
DIRECTIONS = ("upload", "download", "both", "both2")


@pytest.fixture(autouse=True)
def debug_range():
    old = tcp.DEBUG_RANGE
    tcp.DEBUG_RANGE = True
    try:
        yield
    finally:
        tcp.DEBUG_RANGE = old


def _rings(seed):
    return None if seed & 1 else 8192


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_transfer_1mb_under_faults(config, direction):
    faults = CONFIGS[config]
    failures = []
    worst = None
    for seed in SEEDS:
        ring = _rings(seed)
        r = tcp_apps.transfer(SIZE, seed, faults, direction, rx=ring, tx=ring)
        want = SIZE * (2 if direction.startswith("both") else 1)
        if not (r["ok"] and r["sha"] and r["bytes"] == want and r["clean"]
                and not r["left"] and r["tw_left"] == 0):
            failures.append("seed %d rings %s: %s" % (seed, ring, tcp_apps.summary(r)))
        if worst is None or r["ms"] > worst[1]:
            worst = (seed, r["ms"], r["retransmits"])
    assert not failures, "\n".join(failures)
    # Every fault config injects something; a transfer must still finish in
    # reasonable virtual time (10 minutes would mean a stall recovered by luck).
    assert worst[1] < 600_000, worst


def test_faults_were_injected():
    # The matrix is only meaningful if the segment really misbehaved.
    r = tcp_apps.transfer(200_000, 1, CONFIGS["all"], "both", check_clean=False)
    assert r["ok"], tcp_apps.summary(r)
    assert r["lost"] and r["dup"] and r["reordered"] and r["corrupt"], tcp_apps.summary(r)
    assert r["bad_checksum"] > 0 and r["retransmits"] > 0, tcp_apps.summary(r)
