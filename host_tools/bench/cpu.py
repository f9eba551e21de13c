"""Bench section `cpu` (issue 8 item 5): deterministic CPU cost, counted with
`valgrind --tool=callgrind` on the MicroPython unix port (-X heapsize=467584, a
Pico-like GC block count), spinet from .mpy.

Per full-size segment received-and-ACKed: instructions of a run that feeds N in-order
1460-byte segments to an open connection (the application reads each; the stack ACKs)
minus a run that only does the set-up and builds the same N frames in the rig
(host_tools/bench/mp/rigs.py Feeder), divided by N. Per segment sent: the same with
the Acker rig (the application writes 1460 bytes, the stack sends a segment, the rig
ACKs it), minus the rig's own work. Per checksum of 1460 bytes: N sum16() calls minus
N empty loop iterations.

RP2040 estimate (host_tools/../reference rp2040-cost.md): cycles = x86 instructions x
1.63 for interpreted code, x 1.37 for viper; at 125 MHz a cycle is 8 ns. Assumptions,
printed with the figures: CPU only (no SPI: a W5500 frame read costs about 0.71 ms more
at 24 MHz with inlined register access), flash cache always hits, no bignums (spinet
keeps sequence numbers relative and 16-bit halves), no GC pauses (the steady-state
path allocates nothing), misaligned memmove not modelled (a 1460-byte copy to an odd
address costs ~15 000 cycles instead of ~4 300).
"""

from host_tools.bench import mprun

SECTION = "cpu"
RATIO = 1.63  # RP2040 cycles per x86 instruction, interpreted code
RATIO_VIPER = 1.37
MHZ = 125.0
SPI_RX_US = 710.0  # one 1514-byte W5500 frame read at 24 MHz, inlined (rp2040-cost.md)
SPI_TX_US = 800.0  # one 1514-byte W5500 frame send at 24 MHz, inlined


def _row(name, value, unit, note):
    return {"section": SECTION, "name": name, "value": float(value), "unit": unit,
            "note": note}


def _per(mode, n, log):
    """(instructions per item, stdout of the full run) for probe `mode`:
    (full - rig-only) / n."""
    log("cpu: callgrind %s x%d (3 runs: full, rig only, set-up only)" % (mode, n))
    full, out = mprun.callgrind(mode, (n, 0))
    rig, _ = mprun.callgrind(mode, (n, 1))
    setup, _ = mprun.callgrind(mode, (n, 2))
    return (full - rig) / n, (rig - setup) / n, setup, out


def run(quick, log):
    rows = []
    n = 180 if quick else 720  # 256 KB / 1 MB of 1460-byte segments
    rx, rx_rig, setup, out = _per("cpu_rx", n, log)
    acks = int(out.split("ACKS ")[1].split()[0])
    rows.append(_row("instr per segment received + ACKed", rx, "instr",
                     "x86-64 Ir, unix port; %d segments (%d KB), %d ACKs; rig %d/seg and "
                     "set-up %d subtracted" % (n, n * 1460 // 1024, acks, rx_rig, setup)))
    tx, tx_rig, setup, out = _per("cpu_tx", n, log)
    rows.append(_row("instr per segment sent (+ its ACK in)", tx, "instr",
                     "app writes 1460 B, stack sends it and takes the ACK; rig %d/seg "
                     "subtracted" % tx_rig))
    k = 50 if quick else 200
    log("cpu: callgrind checksum x%d" % k)
    base, _ = mprun.callgrind("cpu_csum", (k, "none"))
    cs = {}
    for impl in ("sum16", "loop"):
        ir, _ = mprun.callgrind("cpu_csum", (k, impl))
        cs[impl] = (ir - base) / k
    rows.append(_row("instr per 1460-byte checksum (sum16 as used)", cs["sum16"], "instr",
                     "viper on MicroPython; incl. the call"))
    rows.append(_row("instr per 1460-byte checksum (plain-Python loop)", cs["loop"], "instr",
                     "the fallback _sum16_loop, for scale"))
    # RP2040 estimate: the checksums inside a segment run at the viper ratio.
    n_cs_rx = 1  # the TCP checksum over the segment (the IP header one is 20 bytes)
    rx_us = ((rx - n_cs_rx * cs["sum16"]) * RATIO + n_cs_rx * cs["sum16"] * RATIO_VIPER) / MHZ
    tx_us = ((tx - cs["sum16"]) * RATIO + cs["sum16"] * RATIO_VIPER) / MHZ
    assume = ("x%.2f interp / x%.2f viper at %.0f MHz; CPU only, cache hits, no bignum, "
              "no GC, memmove aligned" % (RATIO, RATIO_VIPER, MHZ))
    rows.append(_row("RP2040 est. per segment received", rx_us, "us", assume))
    rows.append(_row("RP2040 est. CPU-bound download", 1460 / rx_us * 1e6 / 1000, "kB/s",
                     "1460 B per segment / the estimate above; lwIP in MicroPython's "
                     "W5500 build ~750 kB/s"))
    rows.append(_row("RP2040 est. download incl. W5500 SPI", 1460 / (rx_us + SPI_RX_US) * 1e3,
                     "kB/s", "+%.0f us per frame read at 24 MHz SPI (rp2040-cost.md)"
                     % SPI_RX_US))
    rows.append(_row("RP2040 est. per segment sent", tx_us, "us", assume))
    rows.append(_row("RP2040 est. CPU-bound upload", 1460 / tx_us * 1e6 / 1000, "kB/s",
                     "1460 B per segment / the estimate above"))
    rows.append(_row("RP2040 est. upload incl. W5500 SPI", 1460 / (tx_us + SPI_TX_US) * 1e3,
                     "kB/s", "+%.0f us per frame sent at 24 MHz SPI" % SPI_TX_US))
    return rows


if __name__ == "__main__":
    raise SystemExit(mprun.main_for(run))
