"""The host-side peer of the virtual board's simulated link (CPython).

A spinet stack at 192.0.2.1/24 on a loopback UDP link (boards/sim/udplink.py) whose
other end is the emulated chip inside the virtual board. It runs in a thread and
serves TCP and UDP echo on port 7, and forwards host TCP ports on 127.0.0.1 to the
board (static address 192.0.2.2; DHCP and DNS on this link are still to come), so
``curl http://127.0.0.1:8080/`` reaches a server on the board's port 80.
Every frame on the link can be written to a pcap (``capture=PATH``).

``TapRelay`` instead joins the chip's wire to a Linux TAP device (root): the kernel
is then the peer.
"""

import os
import select
import socket as pysocket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
for p in (REPO, os.path.join(REPO, "lib")):
    if p not in sys.path:
        sys.path.insert(0, p)

import spinet  # noqa: E402
from boards.sim.pcap import PcapWriter  # noqa: E402
from boards.sim.udplink import UdpLink  # noqa: E402
from spinet import socket as ssocket  # noqa: E402

PEER_IP = "192.0.2.1"
BOARD_IP = "192.0.2.2"  # the board's static fallback (firmware/boot.py)
MASK = "255.255.255.0"
PEER_MAC = b"\x02\x00\x5e\x00\x02\x01"
ECHO_PORT = 7


def free_udp_port():
    s = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class _Capture:
    """A LAN driver wrapper that writes every frame both ways to a pcap."""

    def __init__(self, drv, path):
        self._d = drv
        self.mac = drv.mac
        self._w = PcapWriter(path)
        self._t0 = time.monotonic()

    def _t(self):
        return int((time.monotonic() - self._t0) * 1000)

    def send(self, frame):
        self._w.write(bytes(frame), self._t())
        self._d.send(frame)

    def recv_into(self, buf):
        n = self._d.recv_into(buf)
        if n > 0:
            self._w.write(bytes(buf[:n]), self._t())
        return n

    def link_up(self):
        return self._d.link_up()

    def wait(self, ms):
        self._d.wait(ms)

    def close(self):
        self._w.close()


class _Forward:
    """One host TCP connection relayed to a spinet connection to the board."""

    def __init__(self, host_sock, board_sock):
        self.h = host_sock
        self.b = board_sock
        self.to_board = b""
        self.to_host = b""
        self.h_eof = False
        self.b_eof = False
        self.buf = bytearray(4096)

    def step(self):
        """Move what is ready both ways; False once the relay is over."""
        if not self.h_eof and len(self.to_board) < 65536:
            try:
                d = self.h.recv(4096)
                if d:
                    self.to_board += d
                else:
                    self.h_eof = True
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self.h_eof = True
        if self.to_board:
            try:
                n = self.b.send(self.to_board)
                self.to_board = self.to_board[n:]
            except OSError as e:
                if e.args[0] != 11:
                    return False
        if not self.b_eof and len(self.to_host) < 65536:
            try:
                n = self.b.readinto(self.buf)
                if n == 0:
                    self.b_eof = True
                elif n:
                    self.to_host += bytes(self.buf[:n])
            except OSError as e:
                if e.args[0] != 11:
                    self.b_eof = True
        if self.to_host:
            try:
                n = self.h.send(self.to_host)
                self.to_host = self.to_host[n:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                return False
        # The relay ends when the board has closed and everything it sent is passed
        # on (spinet sockets close both ways, so a host half-close waits for that).
        return not (self.b_eof and not self.to_host)

    def close(self):
        for s in (self.h, self.b):
            try:
                s.close()
            except OSError:
                pass


class SimPeer:
    def __init__(self, forward=(), capture=None, log=None):
        self.port = free_udp_port()
        self.board_port = free_udp_port()
        self.forward = list(forward)
        self.capture = capture
        self.log = log or (lambda m: None)
        self._stop = threading.Event()
        self._thread = None
        self.error = None
        self.served = {"echo_tcp": 0, "echo_udp": 0, "forwarded": 0}

    def start(self):
        drv = UdpLink(PEER_MAC, self.port, self.board_port)
        self._link = drv
        if self.capture:
            drv = _Capture(drv, self.capture)
        self.drv = drv
        nic = spinet.Interface(drv, hostname="peer", sockets=24)
        nic.ifconfig((PEER_IP, MASK, PEER_IP, PEER_IP))
        nic.active(True)
        self.nic = nic
        self._start_servers(nic)
        self._thread = threading.Thread(target=self._run, name="vboard-peer", daemon=True)
        self._thread.start()
        self.log("peer %s on udp %d <-> board udp %d" % (PEER_IP, self.port, self.board_port))
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        for f in getattr(self, "_fwds", []):
            f.close()
        for ls, _ in getattr(self, "_listeners", []):
            ls.close()
        if self.capture:
            self.drv.close()
        self._link.close()

    # -- services ------------------------------------------------------------------
    def _start_servers(self, nic):
        ls = nic.socket(ssocket.AF_INET, ssocket.SOCK_STREAM, rx=4096, tx=4096)
        ls.bind(("", ECHO_PORT))
        ls.listen(4)
        ls.setblocking(False)
        self._echo_ls = ls
        self._echo_conns = []
        us = nic.socket(ssocket.AF_INET, ssocket.SOCK_DGRAM, rx=4096)
        us.bind(("", ECHO_PORT))
        us.setblocking(False)
        self._echo_udp = us
        self._listeners = []
        for host_port, board_port in self.forward:
            h = pysocket.socket(pysocket.AF_INET, pysocket.SOCK_STREAM)
            h.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_REUSEADDR, 1)
            h.bind(("127.0.0.1", host_port))
            h.listen(4)
            h.setblocking(False)
            self._listeners.append((h, board_port))
            self.log("forward 127.0.0.1:%d -> board:%d" % (host_port, board_port))
        self._fwds = []

    def _services(self):
        nic = self.nic
        try:
            c, _ = self._echo_ls.accept()
            c.setblocking(False)
            self._echo_conns.append(c)
            self.served["echo_tcp"] += 1
        except OSError:
            pass
        for c in list(self._echo_conns):
            try:
                d = c.recv(2048)
                if d == b"":
                    c.close()
                    self._echo_conns.remove(c)
                else:
                    c.sendall(d)
            except OSError as e:
                if e.args[0] != 11:
                    c.close()
                    self._echo_conns.remove(c)
        try:
            d, a = self._echo_udp.recvfrom(2048)
            self._echo_udp.sendto(d, a)
            self.served["echo_udp"] += 1
        except OSError:
            pass
        for h, board_port in self._listeners:
            try:
                hc, _ = h.accept()
            except (BlockingIOError, InterruptedError):
                continue
            hc.setblocking(False)
            b = nic.socket(ssocket.AF_INET, ssocket.SOCK_STREAM, rx=16384, tx=16384)
            b.setblocking(False)
            try:
                b.connect((BOARD_IP, board_port))
            except OSError as e:
                if e.args[0] != 115:  # EINPROGRESS
                    hc.close()
                    b.close()
                    continue
            self._fwds.append(_Forward(hc, b))
            self.served["forwarded"] += 1
        for f in list(self._fwds):
            if not f.step():
                f.close()
                self._fwds.remove(f)

    def _run(self):
        nic = self.nic
        sel = [self._link._s] + [h for h, _ in self._listeners]
        try:
            while not self._stop.is_set():
                nic.poll()
                self._services()
                socks = sel + [f.h for f in self._fwds]
                select.select(socks, [], [], 0.005)
        except Exception as e:  # noqa: BLE001 - reported, never silent
            self.error = e
            import traceback

            traceback.print_exc()


class TapRelay:
    """The chip's wire joined to a TAP device: the Linux kernel is the peer (root)."""

    def __init__(self, ifname, log=None):
        self.ifname = ifname
        self.port = free_udp_port()
        self.board_port = free_udp_port()
        self.log = log or (lambda m: None)
        self._stop = threading.Event()

    def start(self):
        from spinet.drivers.tap import Tap

        self.tap = Tap(self.ifname)
        self.udp = UdpLink(b"\x02\x00\x00\x00\x00\x00", self.port, self.board_port)
        self._thread = threading.Thread(target=self._run, name="vboard-tap", daemon=True)
        self._thread.start()
        self.log("tap %s <-> board udp %d" % (self.ifname, self.board_port))
        return self

    def _run(self):
        buf = bytearray(1600)
        while not self._stop.is_set():
            moved = False
            n = self.tap.recv_into(buf)
            if n > 0:
                self.udp.send(bytes(buf[:n]))
                moved = True
            n = self.udp.recv_into(buf)
            if n > 0:
                self.tap.send(bytes(buf[:n]))
                moved = True
            if not moved:
                select.select([self.tap._fd, self.udp._s], [], [], 0.01)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        self.tap.close()
        self.udp.close()
