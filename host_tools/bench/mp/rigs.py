# Benchmark rigs shared by the MicroPython-side probes (restricted Python: runs on the
# MicroPython unix port and on CPython). Not part of the stack.
#
# - Feeder: a LAN driver that, once a connection is open, yields the next in-order
#   full-size data segment from the peer on each recv_into() (one preallocated frame,
#   sequence number and checksum patched in place), the approach of
#   tests/mpy/test_tcp_memory.py. Sent frames are only counted.
# - Acker: a LAN driver that acknowledges everything the stack has sent so far on
#   each recv_into() (one preallocated ACK frame, patched in place): the peer of a
#   sending stack. Both let a measurement count the stack's work and allocations,
#   and little else.

import struct

from boards.sim.clock import VirtualClock
from boards.sim.mocklan import MockLan

import spinet
from spinet import socket, tcp
from spinet.wire.checksum import pseudo_sum, sum16

import support

MSS = 1460
PEER_PORT = 5001
IRS = 1000  # the peer's initial sequence number


def _fix_tcp_csum(f, n):
    f[50] = 0
    f[51] = 0
    c = sum16(f, 34, n) + pseudo_sum(f, 14, 6, n)
    c = (c & 0xFFFF) + (c >> 16)
    c = ~((c & 0xFFFF) + (c >> 16)) & 0xFFFF
    f[50] = c >> 8
    f[51] = c & 0xFF


def _put32(f, o, v):
    f[o] = (v >> 24) & 0xFF
    f[o + 1] = (v >> 16) & 0xFF
    f[o + 2] = (v >> 8) & 0xFF
    f[o + 3] = v & 0xFF


class Feeder(MockLan):
    """After start(), each recv_into() with feeding > 0 yields the next in-order
    full-size data segment."""

    def __init__(self, mac, clock):
        MockLan.__init__(self, mac, clock)
        self.frame = bytearray(14 + 20 + 20 + MSS)
        self.feeding = 0
        self.seq = 0

    def start(self, our_port, seq, ack):
        f = self.frame
        payload = bytes((i * 13) & 0xFF for i in range(MSS))
        ip = support.ipv4(support.IP_PEER, support.IP_A, 6, bytes(20) + payload)
        f[0:14] = support.MAC_A + support.MAC_PEER + b"\x08\x00"
        f[14:14 + len(ip)] = ip
        struct.pack_into(">HHIIBBHHH", f, 34, PEER_PORT, our_port, 0, ack, 0x50, 0x10,
                         65535, 0, 0)
        self.seq = seq
        self.keep = False

    def make(self, buf):
        """Patch the next segment into the frame and copy it to buf (the feeder's own
        work, measured alone to subtract it)."""
        f = self.frame
        s = self.seq
        _put32(f, 38, s)
        self.seq = (s + MSS) & 0xFFFFFFFF
        _fix_tcp_csum(f, 20 + MSS)
        buf[0:len(f)] = f
        return len(f)

    def recv_into(self, buf):
        if self.rx or not self.feeding:
            return MockLan.recv_into(self, buf)
        self.feeding -= 1
        return self.make(buf)


class Acker(MockLan):
    """Acknowledges (cumulatively, window 65535) every data byte the stack sent,
    one ACK per recv_into() call that follows new data."""

    def __init__(self, mac, clock):
        MockLan.__init__(self, mac, clock)
        self.frame = bytearray(14 + 20 + 20)
        self.acking = False
        self.ack_to = 0
        self.pending = False
        self.data_segs = 0
        self.data_bytes = 0

    def start(self, our_port, seq, ack):
        f = self.frame
        ip = support.ipv4(support.IP_PEER, support.IP_A, 6, bytes(20))
        f[0:14] = support.MAC_A + support.MAC_PEER + b"\x08\x00"
        f[14:14 + len(ip)] = ip
        struct.pack_into(">HHIIBBHHH", f, 34, PEER_PORT, our_port, seq, ack, 0x50, 0x10,
                         65535, 0, 0)
        self.ack_to = ack
        self.keep = False
        self.acking = True

    def send(self, frame):
        self.n_sent += 1
        self.n_bytes += len(frame)
        if self.keep:
            self.sent.append(bytes(frame))
            return
        if not self.acking or frame[23] != 6:
            return
        d = ((frame[16] << 8) | frame[17]) - 20 - ((frame[46] >> 4) << 2)
        if d <= 0:
            return
        self.data_segs += 1
        self.data_bytes += d
        end = ((frame[38] << 24) | (frame[39] << 16) | (frame[40] << 8) | frame[41]) + d
        self.ack_to = end & 0xFFFFFFFF
        self.pending = True

    def make(self, buf):
        f = self.frame
        _put32(f, 42, self.ack_to)
        _fix_tcp_csum(f, 20)
        buf[0:54] = f
        return 54

    def recv_into(self, buf):
        if self.rx or not self.pending:
            return MockLan.recv_into(self, buf)
        self.pending = False
        return self.make(buf)


def _tcp_seg(sport, dport, seq, ack, flags, window, options=b""):
    hl = 20 + len(options)
    h = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4, flags, window, 0, 0)
    h = h + options
    pseudo = support.ip4(support.IP_PEER) + support.ip4(support.IP_A) + \
        struct.pack(">BBH", 0, 6, hl)
    c = support.csum(pseudo + h)
    return h[:16] + struct.pack(">H", c) + h[18:]


def interface(kind):
    """An active Interface on a Feeder or Acker that knows the peer: (nic, lan, clock)."""
    clock = VirtualClock()
    lan = kind(support.MAC_A, clock)
    nic = spinet.Interface(lan, clock=clock.ticks_ms)
    nic.ifconfig((support.IP_A, support.MASK, support.IP_GW, support.IP_GW))
    nic.active(True)
    support.learn_peer(nic, lan)
    lan.take()
    return nic, lan, clock


def connect(nic, lan, rx=2048, tx=2048):
    """Open a connection to the scripted peer (handshake by hand); start the rig."""
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
    s.setblocking(False)
    try:
        s.connect((support.IP_PEER, PEER_PORT))
    except OSError as e:
        assert e.args[0] == 115
    syn = lan.take()[-1]
    iss = struct.unpack(">I", syn[38:42])[0]
    our_port = struct.unpack(">H", syn[34:36])[0]
    seg = _tcp_seg(PEER_PORT, our_port, IRS, (iss + 1) & 0xFFFFFFFF, 0x12, 65535,
                   b"\x02\x04\x05\xb4")
    lan.inject(support.frame_ip(support.IP_PEER, support.IP_A, 6, seg))
    nic.poll()
    assert s._cb.state == tcp.ESTABLISHED
    lan.take()
    lan.start(our_port, IRS + 1, (iss + 1) & 0xFFFFFFFF)
    return s
