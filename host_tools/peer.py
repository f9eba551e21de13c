"""The host-side peer of the virtual board's simulated link (CPython).

The other end of the emulated chip's wire (a loopback UDP link,
boards/sim/udplink.py) is a small segment in this process, run by one thread:

    192.0.2.1   a spinet stack ("peer"): TCP and UDP echo on port 7, and host TCP
                ports on 127.0.0.1 forwarded to the board, so
                ``curl http://127.0.0.1:8080/`` reaches a server on the board's port 80;
                and back (``reverse=[(peer_port, host_port)]``): the board's
                connections to 192.0.2.1:peer_port go on to 127.0.0.1:host_port, so a
                host program (``openssl s_server``) serves the board
    192.0.2.67  DHCP server (boards/sim/dhcpd.py): pool from 192.0.2.2, router
                192.0.2.1, DNS 192.0.2.53, one-hour leases
    192.0.2.53  DNS server (boards/sim/dnsd.py): peer.vboard.test and
                echo.vboard.test -> 192.0.2.1, board.vboard.test -> 192.0.2.2

The board's static fallback is 192.0.2.2/24 (firmware/boot.py), the address DHCP
gives it too. Every frame of the board's wire can be written to a pcap
(``capture=PATH``, recorded at the board's side, as a capture on its cable would
be: a frame lost on the way to the board is not in it, only its resend), and frames
can be lost on the way both ways (``loss=P`` with ``seed=N``: a seeded fault, so
runs repeat).

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
from boards.sim.dhcpd import DhcpServer  # noqa: E402
from boards.sim.dnsd import DnsServer  # noqa: E402
from boards.sim.pcap import PcapWriter  # noqa: E402
from boards.sim.udplink import UdpLink  # noqa: E402
from spinet import socket as ssocket  # noqa: E402

PEER_IP = "192.0.2.1"
BOARD_IP = "192.0.2.2"  # the board's static fallback (firmware/boot.py)
MASK = "255.255.255.0"
PEER_MAC = b"\x02\x00\x5e\x00\x02\x01"
DHCP_IP = "192.0.2.67"
DHCP_MAC = b"\x02\x00\x5e\x00\x02\x43"
DNS_IP = "192.0.2.53"
DNS_MAC = b"\x02\x00\x5e\x00\x02\x35"
DOMAIN = "vboard.test"
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


class _WallClock:
    """What the simulation servers read the time from (.now, ms): here, real time."""

    def __init__(self):
        self._t0 = time.monotonic()

    @property
    def now(self):
        return int((time.monotonic() - self._t0) * 1000)


class _HubPort:
    """One host's port on the hub: a LAN driver (send, recv_into, link_up, wait)."""

    QUEUE = 128  # frames waiting for this host; more are dropped (and counted)

    def __init__(self, hub, mac):
        self.hub = hub
        self.mac = mac
        self.q = []
        self.dropped = 0

    def send(self, frame):
        self.hub.forward(self, bytes(frame))

    def recv_into(self, buf):
        if not self.q:
            return 0
        f = self.q.pop(0)
        n = len(f)
        buf[:n] = f
        return n

    def link_up(self):
        return True

    def wait(self, ms):
        pass  # the hub thread delivers; hosts never block in it

    def put(self, frame):
        if len(self.q) >= self.QUEUE:
            self.dropped += 1
        else:
            self.q.append(frame)


class _Hub:
    """The peer's segment: the board's wire (upstream) and the local hosts. A frame
    from any of them reaches all the others; each host filters by MAC itself. With
    loss > 0, frames between the board and the hosts are lost at random (seeded)."""

    def __init__(self, upstream, loss=0.0, seed=1):
        import random

        self.up = upstream
        self.ports = []
        self.loss = loss
        self._rng = random.Random(seed)
        self.lost = 0
        self._buf = bytearray(1600)

    def port(self, mac):
        p = _HubPort(self, mac)
        self.ports.append(p)
        return p

    def _lose(self):
        if self.loss > 0 and self._rng.random() < self.loss:
            self.lost += 1
            return True
        return False

    def forward(self, src, frame):
        for p in self.ports:
            if p is not src:
                p.put(frame)
        if not self._lose():
            self.up.send(frame)

    def pump(self):
        """Frames from the board to the hosts; True if any came."""
        got = False
        for _ in range(64):
            n = self.up.recv_into(self._buf)
            if n <= 0:
                break
            got = True
            if self._lose():
                continue
            f = bytes(self._buf[:n])
            for p in self.ports:
                p.put(f)
        return got


class _Forward:
    """One host TCP connection relayed to a spinet connection to the board."""

    def __init__(self, host_sock, board_sock, pass_host_eof=False):
        self.h = host_sock
        self.b = board_sock
        self.pass_host_eof = pass_host_eof  # reverse: the host server's close ends it
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
        if self.pass_host_eof and self.h_eof and not self.to_board:
            return False  # a host server closed: close() sends the board its FIN
        return not (self.b_eof and not self.to_host)

    def close(self):
        for s in (self.h, self.b):
            try:
                s.close()
            except OSError:
                pass


class SimPeer:
    def __init__(self, forward=(), capture=None, log=None, loss=0.0, seed=1, reverse=()):
        self.port = free_udp_port()
        self.board_port = free_udp_port()
        self.forward = list(forward)
        self.reverse = list(reverse)
        self.capture = capture
        self.loss = loss
        self.seed = seed
        self.log = log or (lambda m: None)
        self._stop = threading.Event()
        self._thread = None
        self.error = None
        self.served = {"echo_tcp": 0, "echo_udp": 0, "forwarded": 0, "reversed": 0}

    def start(self):
        up = UdpLink(PEER_MAC, self.port, self.board_port)
        self._link = up
        if self.capture:
            up = _Capture(up, self.capture)
        self.drv = up
        self.hub = _Hub(up, self.loss, self.seed)
        nic = spinet.Interface(self.hub.port(PEER_MAC), hostname="peer", sockets=24)
        nic.ifconfig((PEER_IP, MASK, PEER_IP, DNS_IP))
        nic.active(True)
        self.nic = nic
        clock = _WallClock()
        self.dhcpd = DhcpServer(self.hub.port(DHCP_MAC), clock, DHCP_IP, pool=(BOARD_IP, 8),
                                lease=3600, router=PEER_IP, dns=(DNS_IP,))
        self.dnsd = DnsServer(self.hub.port(DNS_MAC), clock, DNS_IP)
        for name, addr in (("peer", PEER_IP), ("echo", PEER_IP), ("board", BOARD_IP)):
            self.dnsd.a[name + "." + DOMAIN] = (addr, 300)
        self._start_servers(nic)
        self._thread = threading.Thread(target=self._run, name="vboard-peer", daemon=True)
        self._thread.start()
        self.log("peer %s on udp %d <-> board udp %d" % (PEER_IP, self.port, self.board_port))
        return self

    def board_ip(self):
        """Where the board is: the address DHCP last gave it, else the static one."""
        for kind, addr in reversed(self.dhcpd.sent):
            if kind == "ACK":
                return addr
        return BOARD_IP

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(5)
        for f in getattr(self, "_fwds", []):
            f.close()
        for ls, _ in getattr(self, "_listeners", []) + getattr(self, "_rev_listeners", []):
            ls.close()
        # The spinet sockets close before the link does (a socket closed later, by
        # the garbage collector, would send on a closed link).
        for c in [e[0] for e in getattr(self, "_echo_conns", [])] + [
                getattr(self, "_echo_ls", None), getattr(self, "_echo_udp", None)]:
            if c is not None:
                c.close()
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
        self._rev_listeners = []
        for peer_port, host_port in self.reverse:
            rs = nic.socket(ssocket.AF_INET, ssocket.SOCK_STREAM, rx=16384, tx=16384)
            rs.bind(("", peer_port))
            rs.listen(2)
            rs.setblocking(False)
            self._rev_listeners.append((rs, host_port))
            self.log("reverse %s:%d -> 127.0.0.1:%d" % (PEER_IP, peer_port, host_port))
        self._fwds = []

    ECHO_HELD = 65536  # bytes an echo connection holds before it stops reading

    def _echo_step(self, e):
        """Echo what came on one connection; False once it is over. Bytes not yet
        taken by the socket wait (a client may send a lot before it reads)."""
        c, held, done = e
        try:
            if not done and len(held) < self.ECHO_HELD:
                d = c.recv(4096)
                if d == b"":
                    e[2] = done = True
                held += d
        except OSError as err:
            if err.args[0] != 11:
                return False
        try:
            if held:
                n = c.send(held)
                held = held[n:]
        except OSError as err:
            if err.args[0] != 11:
                return False
        e[1] = held
        return not (done and not held)

    def _services(self):
        nic = self.nic
        try:
            c, _ = self._echo_ls.accept()
            c.setblocking(False)
            self._echo_conns.append([c, b"", False])  # socket, not yet echoed, peer done
            self.served["echo_tcp"] += 1
        except OSError:
            pass
        for e in list(self._echo_conns):
            if not self._echo_step(e):
                e[0].close()
                self._echo_conns.remove(e)
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
                b.connect((self.board_ip(), board_port))
            except OSError as e:
                if e.args[0] != 115:  # EINPROGRESS
                    hc.close()
                    b.close()
                    continue
            self._fwds.append(_Forward(hc, b))
            self.served["forwarded"] += 1
        for rs, host_port in self._rev_listeners:
            try:
                b, _ = rs.accept()
            except OSError:
                continue
            b.setblocking(False)
            try:  # loopback: the connect is done (or refused) at once
                hc = pysocket.create_connection(("127.0.0.1", host_port), timeout=2)
            except OSError:
                b.close()
                continue
            hc.setblocking(False)
            self._fwds.append(_Forward(hc, b, pass_host_eof=True))
            self.served["reversed"] += 1
        for f in list(self._fwds):
            if not f.step():
                f.close()
                self._fwds.remove(f)

    def _run(self):
        nic = self.nic
        sel = [self._link._s] + [h for h, _ in self._listeners]
        try:
            while not self._stop.is_set():
                self.hub.pump()
                nic.poll()
                self.dhcpd.poll()
                self.dnsd.poll()
                for log in (self.dhcpd.log, self.dhcpd.sent, self.dnsd.queries):
                    if len(log) > 200:  # the servers log every message; keep the tail
                        del log[:100]
                self._services()
                if any(p.q for p in self.hub.ports):
                    continue
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
