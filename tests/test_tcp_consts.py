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
