"""Bench section `memory` (issue 8 item 4): the heap on the MicroPython unix port.

Every figure comes from the unix port, which is 64-bit: object headers and pointers
are twice a Pico's, so the heap figures are upper bounds for a 32-bit board (raw
buffers such as rings and frame buffers are the same size on both).

- heap after importing spinet from .mpy (compiled here with mpy-cross -march=x64);
- heap of an active Interface; heap of one TCP connection beyond its two rings;
- bytes allocated per received and per sent full-size segment, with gc.disable()
  and gc.mem_alloc() deltas over many segments (rigs in host_tools/bench/mp/rigs.py,
  the approach of tests/mpy/test_tcp_memory.py);
- the smallest -X heapsize (binary search) under which a board-like program (DHCP,
  DNS, one TCP connection with 2 KB/2 KB rings, a 1 MB download) completes, against
  DHCP/DNS servers and a peer spinet stack on a simulated segment in the same process
  (so the same search is run for the peer side alone, and the difference reported).
"""

from host_tools.bench import mprun

SECTION = "memory"


def _heap_ok(size, total, peer_only):
    rows, out = mprun.run_probe(SECTION, "board", (total, peer_only), heap=size,
                                timeout=120, check=False, bytecode=True)
    return rows is not None and "BOARD OK" in out


def min_heap(total, peer_only, lo=8 * 1024, hi=1024 * 1024, step=1024):
    """Smallest heap (multiple of step) for which the board probe completes."""
    if not _heap_ok(hi, total, peer_only):
        raise mprun.BenchError("the board program does not complete even with %d" % hi)
    while hi - lo > step:
        mid = (lo + hi) // 2 // step * step
        if _heap_ok(mid, total, peer_only):
            hi = mid
        else:
            lo = mid
    return hi


def run(quick, log):
    rows = []
    note64 = " (64-bit unix port: objects larger than on a Pico)"
    # Heap figures from the bytecode build (deploy --bytecode): on the unix port
    # native code lives outside the GC heap, on a board that loads .mpy files it is
    # in it, so the native build's heap is the bytecode one plus the native code row.
    bc = " (bytecode build, deploy --bytecode)"
    log("memory: compiling spinet to .mpy")
    mprun.mpy_lib(bytecode=True)
    for mode in ("mem_import", "mem_iface", "mem_conn"):
        log("memory: " + mode)
        r, _ = mprun.run_probe(SECTION, mode, bytecode=True)
        for x in r:
            x["note"] += bc
        rows += r
    nat = sum(mprun.mpy_lib("armv6m")[1].values())
    byt = sum(mprun.mpy_lib("armv6m", bytecode=True)[1].values())
    rows.append({"section": SECTION, "name": "native code, armv6m (RAM unless frozen)",
                 "value": float(nat - byt), "unit": "B",
                 "note": "the default build's @micropython.native functions: .mpy %d B "
                         "against %d B bytecode-only; a board loading .mpy holds it in RAM"
                         % (nat, byt)})
    segs = 200 if quick else 1000
    for mode in ("alloc_rx", "alloc_tx"):
        log("memory: %s over %d segments" % (mode, segs))
        r, _ = mprun.run_probe(SECTION, mode, (segs,))
        rows += r
    total = 1 << 20
    step = 2048 if quick else 1024
    log("memory: smallest -X heapsize for the board-like program (1 MB download)")
    full = min_heap(total, 0, step=step)
    peer = min_heap(total, 1, step=step)
    rows.append({"section": SECTION, "name": "min heapsize: board program + in-process peers",
                 "value": float(full), "unit": "B",
                 "note": "DHCP, DNS, 1 conn 2 KB/2 KB, 1 MB download; .mpy; step %d%s"
                         % (step, bc)})
    rows.append({"section": SECTION, "name": "min heapsize: in-process peers alone",
                 "value": float(peer), "unit": "B",
                 "note": "DHCP+DNS servers, peer stack, segment, listening socket"})
    rows.append({"section": SECTION, "name": "min heapsize: board program's share",
                 "value": float(full - peer), "unit": "B",
                 "note": "difference of the two; incl. dhcp/dns/socket code the peer "
                         "does not import"})
    r, _ = mprun.run_probe(SECTION, "board", (total,), bytecode=True)
    for x in r:
        x["note"] += bc
    rows += r
    for r in rows:
        if r["unit"] == "B" and "64-bit" not in r["note"]:
            r["note"] += note64
    return rows


if __name__ == "__main__":
    raise SystemExit(mprun.main_for(run))
