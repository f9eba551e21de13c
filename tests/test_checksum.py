# The Internet checksum (RFC 1071): every implementation agrees with the reference
# loop on random data of every length 0..1600 and at odd and even offsets.

import sys

from boards.sim.rng import XorShift
from spinet.wire import checksum as ck

import support


def _impls():
    out = [("loop", ck._sum16_loop), ("chosen", ck.sum16)]
    if sys.implementation.name == "micropython":
        out.append(("viper", ck._sum16_viper))
    else:
        out.append(("bigint", ck._sum16_bigint))
    return out


def test_implementations_agree_on_every_length():
    rng = XorShift(7)
    data = bytearray(rng.bytes(1700))
    impls = _impls()
    for n in range(0, 1601):
        off = n % 5  # odd and even offsets
        ref = ck._sum16_loop(data, off, n)
        for name, f in impls:
            got = f(data, off, n)
            assert got == ref, "%s len %d off %d: %x != %x" % (name, n, off, got, ref)


def test_memoryview_and_edge_values():
    rng = XorShift(11)
    for fill in (0x00, 0xFF):
        b = bytearray(bytes([fill]) * 1500)
        for name, f in _impls():
            assert f(b, 0, 1500) == ck._sum16_loop(b, 0, 1500), name
            assert f(memoryview(b), 3, 101) == ck._sum16_loop(b, 3, 101), name
    b = bytearray(rng.bytes(64))
    mv = memoryview(b)
    for name, f in _impls():
        assert f(mv[1:], 0, 63) == ck._sum16_loop(b, 1, 63), name
    assert ck.sum16(b"", 0, 0) == 0


def test_rfc1071_example_and_checksum():
    # RFC 1071 section 3: the bytes 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
    b = bytes((0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7))
    assert ck.sum16(b, 0, 8) == 0xDDF2
    assert ck.checksum(b, 0, 8) == ~0xDDF2 & 0xFFFF
    # A header with its checksum in place sums to 0xFFFF.
    h = bytearray(support.ipv4("192.0.2.1", "192.0.2.2", 17, b"")[:20])
    assert ck.sum16(h, 0, 20) == 0xFFFF
    assert ck.checksum(h, 0, 20) == 0


def test_pseudo_header_matches_independent_builder():
    d = support.udp("192.0.2.1", "192.0.2.2", 1000, 2000, b"hello, world!")
    frame = bytearray(support.ipv4("192.0.2.1", "192.0.2.2", 17, d))
    s = ck.add16(ck.sum16(frame, 20, len(d)), ck.pseudo_sum(frame, 0, 17, len(d)))
    assert s == 0xFFFF
    assert ck.add16(0xFFFF, 0x0001) == 0x0001
    assert ck.add16(0x8000, 0x8000) == 0x0001
