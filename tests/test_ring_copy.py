# The ring's copy routine (spinet.ring.copy): the viper version on MicroPython (bytes
# to align the destination, then words, shifted when the source is misaligned) gives
# the same bytes as a slice assignment for every source/destination alignment, and
# writes nothing outside the destination range. Runs on CPython (slice version only)
# and on the MicroPython unix port.
from spinet import ring


def _impls():
    out = [("slices", ring._copy_slices)]
    if ring._copy_viper is not None:
        out.append(("viper", ring._copy_viper))
    return out


def test_copy_every_alignment():
    src = bytearray(300)
    for i in range(300):
        src[i] = (i * 7 + 3) & 0xFF
    lengths = list(range(0, 24)) + [31, 100, 257, 260]
    for name, fn in _impls():
        for so in range(8):
            for do in range(8):
                for n in lengths:
                    got = bytearray(b"\xa5" * 300)
                    want = bytearray(b"\xa5" * 300)
                    fn(got, do, src, so, n)
                    want[do:do + n] = src[so:so + n]
                    assert got == want, (name, so, do, n)


def test_copy_through_memoryviews():
    src = bytearray(512)
    for i in range(512):
        src[i] = i & 0xFF
    for name, fn in _impls():
        dst = bytearray(512)
        fn(memoryview(dst)[3:], 1, memoryview(src)[5:], 2, 300)
        assert dst[4:304] == src[7:307], name
        assert dst[:4] == bytes(4) and dst[304:] == bytes(208), name
