# Memory of the chip drivers on the MicroPython unix port (only tests/mprun.py runs
# this folder): heap per driver object, and no allocation per frame. The per-frame
# paths (recv_into, send, an empty poll, wait with a frame waiting) run under
# micropython.heap_lock() against the chip models, whose wire is a MockLan replaying
# one preallocated frame (keep=False: send only counts), so any MemoryError comes
# from the driver or the model, not the test.

import gc

import micropython

import chipnet
from boards.sim.mocklan import MockLan


def _make(name, spi, cs, chip, drv_cls):
    if name == "w5500":
        return drv_cls(spi, cs, None, None, chipnet.MAC, chip.sleep_ms)
    return drv_cls(spi, cs, None, chipnet.MAC, False, chip.sleep_ms)


def test_heap_per_driver():
    # The second of two drivers built in a row: the first one takes the one-time
    # costs (and lets stale garbage be collected) so the difference is the object.
    print()
    for name, mod in chipnet.BOARDS:
        lan = MockLan(chipnet.PEER, keep=False)
        b = mod.board(wire=lan, mac=chipnet.MAC)
        chip, spi, cs, cls = b.chip, b.spi, b.cs, b.driver.__class__
        b = None
        d1 = _make(name, spi, cs, chip, cls)
        gc.collect()
        gc.collect()
        mid = gc.mem_alloc()
        d2 = _make(name, spi, cs, chip, cls)
        gc.collect()
        used = gc.mem_alloc() - mid
        print("  %-8s driver object and its buffers: %d bytes of heap" % (name, used))
        assert 0 < used < 3000, used
        d1 = d2 = None


def _locked_frames(name, mod):
    lan = MockLan(chipnet.PEER, keep=False)
    b = mod.board(wire=lan, mac=chipnet.MAC)
    d = b.driver
    buf = bytearray(1514)
    mv = memoryview(buf)
    f = chipnet.frame(1514, 1)
    g = chipnet.frame(60, 2)
    # warm-up: view caches for both lengths, the models' TX view caches
    for fr in (f, g, f, g):
        lan.preload(fr, 1)
        assert d.recv_into(mv) == len(fr)
        d.send(fr)
    d.recv_into(mv)
    lan.preload(f, 0)
    n = 0
    gc.collect()
    micropython.heap_lock()
    try:
        for i in range(200):
            lan.replay_left = 1  # one full-size frame arrives
            n += d.recv_into(mv)
            d.send(f)
            d.send(g)
        d.recv_into(mv)  # empty
        d.wait(0)
    finally:
        micropython.heap_unlock()
    assert n == 200 * 1514, n
    assert lan.n_sent >= 400


def test_no_allocation_per_frame():
    for name, mod in chipnet.BOARDS:
        _locked_frames(name, mod)


def test_heap_steady_over_a_transfer():
    # A 64 KB transfer through each chip: what the whole stack allocates per frame
    # (printed), and the driver's counters show no fault.
    for name, mod in chipnet.BOARDS:
        net = chipnet.segment(mod)
        net.seg.run(10)
        gc.collect()
        gc.disable()
        try:
            a0 = gc.mem_alloc()
            ok, n, sha = chipnet.transfer(net, 65536, "download")
            a1 = gc.mem_alloc()
        finally:
            gc.enable()
        assert ok and sha
        frames = net.drv.rx_frames + net.drv.tx_frames
        print("  %-8s 64 KB download: %d frames, %d bytes allocated in all (stack, apps, "
              "segment)" % (name, frames, a1 - a0))
