"""tcp.py keeps its own copies of wire constants (folded by MicroPython): they must
match the wire modules. CPython only: MicroPython removes a module's _private const()
names, which is the point of them."""

import sys

from spinet import tcp
from spinet.wire import ipv4
from spinet.wire import tcp as wtcp


def test_tcp_local_constants_match_wire():
    if sys.implementation.name == "micropython":
        return
    assert tcp._FIN == wtcp.FIN
    assert tcp._SYN == wtcp.SYN
    assert tcp._RST == wtcp.RST
    assert tcp._PSH == wtcp.PSH
    assert tcp._ACK == wtcp.ACK
    assert tcp._ACK_PSH == wtcp.ACK | wtcp.PSH
    assert tcp._TCP_HDR == wtcp.HDR_LEN
    assert tcp._IP_HDR == ipv4.HDR_LEN
    assert tcp._PROTO_TCP == ipv4.PROTO_TCP
    from spinet import iface
    assert tcp._IP_OFF == iface._IP_OFF and tcp._L4_OFF == iface._L4_OFF
    assert wtcp.OPT_MSS == 2


def test_iface_local_constants_match_config_and_wire():
    if sys.implementation.name == "micropython":
        return
    from spinet import config, iface
    from spinet.wire import ethernet
    assert iface._PAD == config.FRAME_PAD
    assert iface._ETH_HDR == ethernet.HDR_LEN
    assert iface._MIN_FRAME == ethernet.MIN_FRAME
    assert iface._IP_HDR == ipv4.HDR_LEN
    assert iface._IP_OFF == config.FRAME_PAD + ethernet.HDR_LEN
    assert iface._L4_OFF == iface._IP_OFF + ipv4.HDR_LEN
    assert iface._PROTO_TCP == ipv4.PROTO_TCP
    assert iface._FRAG_BITS == ipv4.FLAG_MF | ipv4.OFFSET_MASK
    assert iface._POLL_FRAMES == config.POLL_FRAMES
    assert iface._TTL == config.IP_TTL
    assert iface._DF == ipv4.FLAG_DF and iface._DF & 0xFF == 0
