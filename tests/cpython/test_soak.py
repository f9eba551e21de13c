# Soak against the Linux kernel (root; tests/netns.py): spinet on the MicroPython
# unix port over AF_PACKET does many connect/transfer/close cycles as a client (to
# the kernel's echo server) and as a server (the kernel connects), then mixed TCP,
# UDP and ping traffic through tests/fault_relay.py. After each run: no failure,
# byte counts and hashes matched, no control block or TIME-WAIT entry left, and the
# heap back at its baseline (gc.mem_alloc() after collect, taken after warm-up).
# CI runs the short version; `make soak` sets SOAK_CYCLES / SOAK_MIXED_S for the
# long one (figures in docs/RELIABILITY.md).
import os
import sys

import netns

APP = "tests/soak_app.py"
PEER = os.path.join(netns.ROOT, "tests", "soak_peer.py")
CYCLES = int(os.environ.get("SOAK_CYCLES", "300"))
MIXED_S = int(os.environ.get("SOAK_MIXED_S", "25"))
SIZE = 2000
FAULTS = dict(seed=11, loss=0.02, dup=0.01, reorder=0.1, corrupt=0.005, delay_ms=2)
HEAP_SLACK = 2048  # bytes: a dict resized once, a cached TX view; not per cycle


def result(out):
    for ln in out.splitlines():
        if ln.startswith("soak "):
            return dict(p.split("=", 1) for p in ln.split()[1:])
    raise AssertionError("no soak line:\n" + out)


def _check(out, what):
    r = result(out)
    print("\n%s: %s" % (what, " ".join("%s=%s" % kv for kv in sorted(r.items()))))
    assert int(r["failures"]) == 0, out
    assert int(r["blocks"]) == 0 and int(r["time_wait"]) == 0, out
    base, end = int(r["heap_base"]), int(r["heap_end"])
    assert base > 0 and end - base < HEAP_SLACK, (base, end)
    return r


def _timeout(n, per_cycle_s):
    return 60 + int(n * per_cycle_s)


def test_soak_client_cycles():
    netns.require("packet", "micropython")
    with netns.Lab(kind="packet") as lab:
        peer = lab.popen([sys.executable, "-u", PEER, "echo"], name="echo")
        peer.expect("^echo ready", timeout=10)
        p = lab.run_spinet("micropython", APP, lab.spinet_args() +
                           ["client", CYCLES, SIZE], timeout=_timeout(CYCLES, 0.5))
        rc, out, err = p.wait()
        assert rc == 0, out + err
        r = _check(out, "client")
        assert int(r["cycles"]) == CYCLES and int(r["bytes"]) == 2 * SIZE * CYCLES


def test_soak_server_cycles():
    netns.require("packet", "micropython")
    with netns.Lab(kind="packet") as lab:
        p = lab.run_spinet("micropython", APP, lab.spinet_args() + ["server", CYCLES],
                           timeout=_timeout(CYCLES, 0.5))
        p.expect("^listening", timeout=20)
        peer = lab.popen([sys.executable, "-u", PEER, "client", netns.SPINET_IP, str(CYCLES),
                          str(SIZE)], name="client", timeout=_timeout(CYCLES, 0.5))
        rc, pout, err = peer.wait()
        assert rc == 0, pout + err
        assert "peer cycles=%d failures=0" % CYCLES in pout, pout
        rc, out, err = p.wait()
        assert rc == 0, out + err
        r = _check(out, "server")
        assert int(r["cycles"]) == CYCLES and int(r["bytes"]) == SIZE * CYCLES


def test_soak_mixed_through_fault_relay():
    netns.require("packet", "micropython")
    with netns.Lab(kind="packet", relay=dict(FAULTS)) as lab:
        peer = lab.popen([sys.executable, "-u", PEER, "echo"], name="echo")
        peer.expect("^echo ready", timeout=10)
        p = lab.run_spinet("micropython", APP, lab.spinet_args() + ["mixed", MIXED_S],
                           timeout=MIXED_S + 120)
        rc, out, err = p.wait()
        assert rc == 0, out + err
        r = _check(out, "mixed")
        assert int(r["cycles"]) > 10 and int(r["bytes"]) > 0
        relay = lab.stop_relay()
    for d in relay.values():
        assert d["lost"] > 0 and d["corrupted"] >= 0, relay
