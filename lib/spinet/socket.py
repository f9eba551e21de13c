# spinet.socket — a module shaped like MicroPython's `socket`, over spinet.
#
# Heads up: the contract is MicroPython's (../shared/reference/micropython-api.md
# 5.2-5.5): blocking by default; settimeout(0) == setblocking(False); a timeout raises
# OSError(ETIMEDOUT); non-blocking recv/recvfrom/send/accept with nothing ready raise
# OSError(EAGAIN), non-blocking read/readinto/write return None; errors are OSError
# with MicroPython's errno numbers. Sockets use the Interface most recently activated
# (or the one given as nic=). Blocking calls drive the stack themselves (poll() plus
# the driver's wait()), so a program with no threads and no event loop works.
#
# On MicroPython a socket subclasses io.IOBase and answers ioctl(MP_STREAM_POLL), so
# select.poll works on it.

from . import config, iface
from .compat import (EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN, EBADF, EDESTADDRREQ,
                     EINVAL, EOPNOTSUPP, ETIMEDOUT, MICROPYTHON)
from .udp import UdpSocket
from .udp import sendto as _udp_sendto
from .wire import ipv4

AF_INET = 2
AF_INET6 = 10
SOCK_STREAM = 1
SOCK_DGRAM = 2
SOCK_RAW = 3
SOL_SOCKET = 1
SO_REUSEADDR = 4
SO_KEEPALIVE = 8
SO_BROADCAST = 32
IPPROTO_IP = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
TCP_NODELAY = 1
MSG_PEEK = 1
MSG_DONTWAIT = 2

# select.poll masks (as MicroPython's stream ioctl defines them)
_POLL_RD = 0x01
_POLL_WR = 0x04
_POLL_ERR = 0x08
_POLL_HUP = 0x10
_IOCTL_POLL = 3
_IOCTL_CLOSE = 4
_ENODEV = 19

error = OSError  # CPython-style alias; MicroPython code uses OSError

_Base: type = object
if MICROPYTHON:
    import io
    _Base = io.IOBase


def _addr(addr):
    """(host, port) -> (4-byte address, port). Hosts must be dotted quads (as in
    MicroPython: names go through getaddrinfo first)."""
    try:
        host, port = addr
    except (TypeError, ValueError):
        raise OSError(EINVAL)
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise OSError(EINVAL)
    if host == "":
        return ipv4.ANY, port
    try:
        return ipv4.aton(host), port
    except (ValueError, AttributeError):
        raise OSError(EINVAL)


class socket(_Base):  # type: ignore[misc,valid-type]
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, nic=None, rx=None):
        if af != AF_INET:
            raise OSError(EAFNOSUPPORT)
        nic = nic or iface.default
        if nic is None:
            raise OSError(_ENODEV)  # no active spinet.Interface
        if type == SOCK_DGRAM:
            cb = UdpSocket(rx or config.UDP_RX_BYTES)
        else:
            raise OSError(EOPNOTSUPP)  # TCP (SOCK_STREAM) is not implemented yet
        nic._alloc_sock(cb)
        self._nic = nic
        self._cb = cb  # type: UdpSocket | None
        self._type = type
        self._timeout = None  # None: block forever; 0: non-blocking; else ms

    # --- life cycle -------------------------------------------------------------------

    def close(self):
        cb = self._cb
        if cb is not None:
            self._nic._free_sock(cb)
            self._cb = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _live(self):
        cb = self._cb
        if cb is None:
            raise OSError(EBADF)
        if cb.err:
            e = cb.err
            cb.err = 0
            raise OSError(e)
        return cb

    def fileno(self):
        return -1

    def makefile(self, mode="rb", buffering=0):
        return self

    # --- options ----------------------------------------------------------------------

    def settimeout(self, value):
        if value is None:
            self._timeout = None
        else:
            if value < 0:
                raise OSError(EINVAL)
            self._timeout = int(value * 1000)

    def setblocking(self, flag):
        self._timeout = None if flag else 0

    def gettimeout(self):
        t = self._timeout
        return None if t is None else t / 1000

    def setsockopt(self, level, opt, value):
        # SO_REUSEADDR, SO_BROADCAST (broadcast is always allowed, as in lwIP),
        # TCP_NODELAY and SO_KEEPALIVE are accepted; others are ignored like lwIP's.
        self._opts = getattr(self, "_opts", 0) | (opt if value else 0)

    # --- addresses ----------------------------------------------------------------------

    def bind(self, addr):
        cb = self._live()
        a, port = _addr(addr)
        nic = self._nic
        if a != ipv4.ANY and a != nic._ip:
            raise OSError(EADDRNOTAVAIL)
        if port == 0:
            port = nic._ephemeral(cb.kind)
        elif nic._port_in_use(cb.kind, port) and cb.lport != port:
            raise OSError(EADDRINUSE)
        cb.lport = port
        cb.laddr = None if a == ipv4.ANY else a

    def _autobind(self, cb):
        if not cb.lport:
            cb.lport = self._nic._ephemeral(cb.kind)

    def connect(self, addr):
        cb = self._live()
        a, port = _addr(addr)
        self._autobind(cb)
        cb.connect(a, port)

    def getsockname(self):
        cb = self._live()
        return (ipv4.ntoa(cb.laddr or self._nic._ip), cb.lport)

    def getpeername(self):
        cb = self._live()
        if not cb.rport:
            from .compat import ENOTCONN
            raise OSError(ENOTCONN)
        return (ipv4.ntoa(cb.raddr), cb.rport)

    # --- datagrams ----------------------------------------------------------------------

    def sendto(self, data, addr):
        cb = self._live()
        a, port = _addr(addr)
        self._autobind(cb)
        return self._send(cb, data, a, port)

    def _send(self, cb, data, a, port):
        n = _udp_sendto(self._nic, cb, data, len(data), a, port)
        if n < 0:
            raise OSError(-n)
        return n

    def send(self, data):
        cb = self._live()
        if not cb.rport:
            raise OSError(EDESTADDRREQ)
        return self._send(cb, data, cb.raddr, cb.rport)

    sendall = send

    def write(self, data):
        try:
            return self.send(data)
        except OSError as e:
            if e.args[0] == EAGAIN:
                return None
            raise

    def _wait_readable(self, cb):
        """Block (per the timeout) until a datagram or an error is queued."""
        if cb.count:
            return
        t = self._timeout
        if t != 0:
            self._nic._wait_until(lambda: cb.count or cb.err or self._cb is None, t)
        self._live()  # raises a pending ICMP error, or EBADF if closed meanwhile
        if not cb.count:
            raise OSError(EAGAIN if t == 0 else ETIMEDOUT)

    def recvfrom_into(self, buf, nbytes=0):
        cb = self._live()
        self._wait_readable(cb)
        dst = buf if not nbytes else memoryview(buf)[:nbytes]
        n, a, port = cb.take(dst)
        return n, (ipv4.ntoa(a), port)

    def recv_into(self, buf, nbytes=0, flags=0):
        return self.recvfrom_into(buf, nbytes)[0]

    def recvfrom(self, bufsize, flags=0):
        cb = self._live()
        self._wait_readable(cb)
        n = cb.peek_len()
        buf = bytearray(n if n < bufsize else bufsize)
        m, a, port = cb.take(buf)
        return bytes(buf), (ipv4.ntoa(a), port)

    def recv(self, bufsize, flags=0):
        return self.recvfrom(bufsize, flags)[0]

    def read(self, n=1500):
        try:
            return self.recv(n)
        except OSError as e:
            if e.args[0] == EAGAIN:
                return None
            raise

    def readinto(self, buf, nbytes=0):
        try:
            return self.recv_into(buf, nbytes)
        except OSError as e:
            if e.args[0] == EAGAIN:
                return None
            raise

    # --- select.poll ---------------------------------------------------------------------

    def ioctl(self, op, arg):
        if op == _IOCTL_POLL:
            cb = self._cb
            if cb is None:
                return _POLL_HUP & arg | 0x20  # closed: invalid
            self._nic.poll()  # polling a socket drives the stack
            r = _POLL_WR
            if cb.count:
                r |= _POLL_RD
            if cb.err:
                r |= _POLL_ERR
            return r & (arg | _POLL_ERR | _POLL_HUP)
        if op == _IOCTL_CLOSE:
            self.close()
            return 0
        return -1


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """[(family, type, proto, canonname, sockaddr)] as MicroPython returns it. Only
    dotted-quad hosts for now; names raise OSError(-2) as lwIP does on failure."""
    if af not in (0, AF_INET):
        raise OSError(EAFNOSUPPORT)
    try:
        a = ipv4.ntoa(ipv4.aton(host))
    except (ValueError, AttributeError):
        raise OSError(-2)  # no DNS resolver yet
    return [(AF_INET, type or SOCK_STREAM, proto, "", (a, port))]


def inet_pton(af, txt):
    if af != AF_INET:
        raise OSError(EAFNOSUPPORT)
    return ipv4.aton(txt)


def inet_ntop(af, b):
    if af != AF_INET or len(b) != 4:
        raise OSError(EAFNOSUPPORT)
    return ipv4.ntoa(b)
