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

from . import config, iface, tcp
from .compat import (EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN, EALREADY, EBADF,
                     EDESTADDRREQ, EINPROGRESS, EINVAL, EISCONN, ENOMEM, ENOTCONN,
                     EOPNOTSUPP, ETIMEDOUT, MICROPYTHON)
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
_POLL_NVAL = 0x20
_IOCTL_POLL = 3
_IOCTL_CLOSE = 4
_ENODEV = 19

error = OSError  # CPython-style alias (the built-in); MicroPython code uses OSError

if not MICROPYTHON:
    import builtins as _builtins
    import os as _os

    class _ErrnoError(_builtins.OSError):
        """CPython sets e.errno only for OSError(errno, strerror); MicroPython's
        OSError(n) has e.errno == n, and CPython-side clients (adafruit_minimqtt)
        read e.errno. Raised from this module only; args[0] stays the number."""

        def __init__(self, *args):
            if len(args) == 1 and isinstance(args[0], int) and args[0] > 0:
                args = (args[0], _os.strerror(args[0]))
            super().__init__(*args)

    OSError = _ErrnoError  # type: ignore[misc]  # noqa: A001


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
    def __init__(self, af=AF_INET, type=SOCK_STREAM, proto=0, nic=None, rx=None, tx=None,
                 _cb=None):
        self._cb = None  # close()/__del__ must work if the constructor raises below
        if af != AF_INET:
            raise OSError(EAFNOSUPPORT)
        nic = nic or iface.default
        if nic is None:
            raise OSError(_ENODEV)  # no active spinet.Interface
        try:
            if _cb is not None:  # accept(): the connection already has its block
                cb = _cb
            elif type == SOCK_STREAM:
                cb = tcp.Tcb(nic, rx or config.TCP_RX_BYTES, tx or config.TCP_TX_BYTES)
                nic._alloc_sock(cb)
            elif type == SOCK_DGRAM:
                cb = UdpSocket(rx or config.UDP_RX_BYTES)
                nic._alloc_sock(cb)
            else:
                raise OSError(EOPNOTSUPP)
        except MemoryError:
            raise OSError(ENOMEM)  # as lwIP says when its pools are empty
        self._nic = nic
        self._cb = cb
        self._type = type
        self._timeout = None  # None: block forever; 0: non-blocking; else ms

    # --- life cycle -------------------------------------------------------------------

    def close(self):
        cb = self._cb
        if cb is not None:
            self._cb = None
            if self._type == SOCK_STREAM:
                tcp.app_close(cb, self._nic._now())  # FIN goes out; the block lives on
            else:
                self._nic._free_sock(cb)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Not close(): the collector may run this inside a driver's SPI transaction
        # or in the middle of poll(); the Interface closes the block at its next poll().
        cb = self._cb
        if cb is not None:
            self._cb = None
            self._nic._reap_later(cb)

    def _live(self):
        cb = self._cb
        if cb is None:
            raise OSError(EBADF)
        if cb.err:
            e = cb.err
            if self._type == SOCK_DGRAM:
                cb.err = 0  # UDP: an ICMP error is reported once
            raise OSError(e)
        return cb

    def fileno(self):
        return -1

    def makefile(self, mode="rb", buffering=0):
        return self

    def _block(self, ready):
        """Drive the stack until ready() or the timeout; True if ready."""
        if ready():
            return True
        t = self._timeout
        if t == 0:
            return False
        return bool(self._nic._wait_until(ready, t))

    def _not_ready(self):
        raise OSError(EAGAIN if self._timeout == 0 else ETIMEDOUT)

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
        # Accepted: SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY; SO_BROADCAST is accepted
        # and not needed (broadcast is always allowed, as in lwIP). Others are ignored
        # as lwIP ignores them.
        cb = self._live()
        if self._type != SOCK_STREAM:
            return
        on = bool(value)
        if level == IPPROTO_TCP and opt == TCP_NODELAY:
            cb.nodelay = on
            if on and cb.tx is not None:
                tcp.output(cb, self._nic._now())
        elif level == SOL_SOCKET and opt == SO_REUSEADDR:
            cb.reuse = on
        elif level == SOL_SOCKET and opt == SO_KEEPALIVE:
            cb.keepalive = on
            if on and cb.state >= tcp.ESTABLISHED:
                tcp.output(cb, self._nic._now())  # arms the idle timer

    # --- addresses ----------------------------------------------------------------------

    def bind(self, addr):
        cb = self._live()
        a, port = _addr(addr)
        nic = self._nic
        if a != ipv4.ANY and a != nic._ip and a[0] != 127:  # 127/8: loopback
            raise OSError(EADDRNOTAVAIL)
        if cb.lport:
            raise OSError(EINVAL)  # already bound
        if port == 0:
            port = nic._ephemeral(cb.kind)
        elif nic._port_in_use(cb.kind, port, getattr(cb, "reuse", False)):
            raise OSError(EADDRINUSE)
        cb.lport = port
        cb.laddr = None if a == ipv4.ANY else a

    def _autobind(self, cb):
        if not cb.lport:
            cb.lport = self._nic._ephemeral(cb.kind)

    def connect(self, addr):
        cb = self._live()
        a, port = _addr(addr)
        if self._type == SOCK_DGRAM:
            self._autobind(cb)
            cb.connect(a, port)
            return
        st = cb.state
        if st == tcp.SYN_SENT:
            raise OSError(EALREADY)
        if st != tcp.CLOSED:
            raise OSError(EISCONN)
        if port == 0 or a == ipv4.ANY:
            raise OSError(EINVAL)
        self._autobind(cb)
        if a[0] == 127 and cb.laddr is None:
            cb.laddr = a  # loopback: the segments' source is the address connected to
        nic = self._nic
        try:
            tcp.open_active(cb, a, port, nic._now())
        except MemoryError:  # the rings: the block stays CLOSED, the socket usable
            raise OSError(ENOMEM)
        if self._timeout == 0:
            raise OSError(EINPROGRESS)
        if not self._block(lambda: cb.state != tcp.SYN_SENT):
            tcp.app_close(cb, nic._now())  # give up the attempt
            self._cb = None
            raise OSError(ETIMEDOUT)
        self._live()  # ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH

    def listen(self, backlog=2):
        cb = self._live()
        if self._type != SOCK_STREAM:
            raise OSError(EOPNOTSUPP)
        if cb.state != tcp.CLOSED and cb.state != tcp.LISTEN:
            raise OSError(EISCONN)
        self._autobind(cb)
        if backlog < 1:
            backlog = 1
        cb.backlog = backlog if backlog < config.TCP_BACKLOG_MAX else config.TCP_BACKLOG_MAX
        if cb.queue is None:
            cb.queue = []
        cb.state = tcp.LISTEN

    def accept(self):
        cb = self._live()
        if self._type != SOCK_STREAM or cb.state != tcp.LISTEN:
            raise OSError(EINVAL)
        if not self._block(lambda: cb.queue or cb.err):
            self._not_ready()
        self._live()
        c = cb.queue.pop(0)
        c.parent = None  # it belongs to the application now
        s = socket(AF_INET, SOCK_STREAM, nic=self._nic, _cb=c)
        s._timeout = self._timeout
        return s, (ipv4.ntoa(c.raddr), c.rport)

    def getsockname(self):
        cb = self._live()
        return (ipv4.ntoa(cb.laddr or self._nic._ip), cb.lport)

    def getpeername(self):
        cb = self._live()
        if not cb.rport or (self._type == SOCK_STREAM and cb.state < tcp.SYN_RCVD):
            raise OSError(ENOTCONN)
        return (ipv4.ntoa(cb.raddr), cb.rport)

    # --- sending ----------------------------------------------------------------------

    def sendto(self, data, addr):
        cb = self._live()
        if self._type == SOCK_STREAM:
            raise OSError(EISCONN if cb.state >= tcp.ESTABLISHED else ENOTCONN)
        a, port = _addr(addr)
        self._autobind(cb)
        return self._send_dgram(cb, data, a, port)

    def _send_dgram(self, cb, data, a, port):
        if isinstance(data, str):
            data = data.encode()  # as MicroPython's sockets take str
        n = _udp_sendto(self._nic, cb, data, len(data), a, port)
        if n < 0:
            raise OSError(-n)
        return n

    def _tcp_writable(self, cb):
        st = cb.state
        if cb.err:
            return True
        if st == tcp.ESTABLISHED or st == tcp.CLOSE_WAIT:
            return cb.tx.count < cb.tx.size
        return st != tcp.SYN_SENT and st != tcp.SYN_RCVD  # not connected: stop waiting

    def _tcp_send(self, cb, data, blocking_all):
        """Queue data; returns the count queued (all of it if blocking_all)."""
        if isinstance(data, str):
            data = data.encode()  # MicroPython's sockets take str as its UTF-8 bytes
        n = len(data)
        done = 0
        nic = self._nic
        while True:
            self._live()
            st = cb.state
            if st != tcp.ESTABLISHED and st != tcp.CLOSE_WAIT:
                if st == tcp.SYN_SENT or st == tcp.SYN_RCVD:
                    if not self._wait_connected(cb):
                        if done:
                            return done
                        self._not_ready()
                    continue
                raise OSError(ENOTCONN)
            if done < n:
                # The data itself while none of it is queued (no view to allocate).
                done += tcp.app_send(cb, memoryview(data)[done:] if done else data, n - done,
                                     nic._now())
            if done >= n or (done and not blocking_all):
                return done
            if not self._wait_writable(cb):
                if done:
                    return done
                self._not_ready()

    # The waits are methods of their own: a lambda in _tcp_send or _tcp_recv_into
    # would turn self and cb into closure cells, heap objects made on every call.
    def _wait_connected(self, cb):
        return self._block(lambda: cb.state != tcp.SYN_SENT and cb.state != tcp.SYN_RCVD)

    def _wait_writable(self, cb):
        return self._block(lambda: self._tcp_writable(cb))

    def send(self, data):
        cb = self._live()
        if self._type == SOCK_STREAM:
            return self._tcp_send(cb, data, False)
        if not cb.rport:
            raise OSError(EDESTADDRREQ)
        return self._send_dgram(cb, data, cb.raddr, cb.rport)

    def sendall(self, data):
        if self._type == SOCK_STREAM:
            self._tcp_send(self._live(), data, True)
            return None
        self.send(data)
        return None

    def write(self, data, a=None, b=None):
        """Stream write: blocking sockets take everything (no short writes);
        non-blocking ones take what fits, None if nothing does. As MicroPython's
        streams: write(buf, n) writes buf[:n], write(buf, off, n) buf[off:off + n]
        (umqtt.simple uses the first)."""
        if a is not None:
            mv = memoryview(data)
            data = mv[:a] if b is None else mv[a:a + b]
        try:
            if self._type == SOCK_STREAM:
                return self._tcp_send(self._live(), data, self._timeout != 0)
            return self.send(data)
        except OSError as e:
            if e.args[0] == EAGAIN:
                return None
            raise

    # --- receiving ------------------------------------------------------------------------

    def _tcp_readable(self, cb):
        return cb.rx is None or cb.rx.count or cb.fin_rcvd or cb.err or (
            cb.state != tcp.ESTABLISHED and cb.state != tcp.FIN_WAIT_1
            and cb.state != tcp.FIN_WAIT_2 and cb.state != tcp.SYN_SENT
            and cb.state != tcp.SYN_RCVD)

    def _tcp_recv_into(self, cb, dst, n):
        """One receive: up to n bytes into dst; 0 at end of stream."""
        rx = cb.rx
        if rx is not None and rx.count:  # the common case: no waiting, no closure
            return tcp.app_recv_into(cb, dst, n, self._nic._now())
        return self._tcp_recv_wait(cb, dst, n)

    def _tcp_recv_wait(self, cb, dst, n):
        if cb.state == tcp.CLOSED and not cb.err and cb.rx is None:
            raise OSError(ENOTCONN)
        if cb.state == tcp.LISTEN:
            raise OSError(ENOTCONN)
        if not self._block(lambda: self._tcp_readable(cb)):
            self._not_ready()
        if cb.rx is not None and cb.rx.count:
            return tcp.app_recv_into(cb, dst, n, self._nic._now())
        self._live()  # ECONNRESET / ETIMEDOUT
        return 0  # end of stream

    def _wait_dgram(self, cb):
        """Block (per the timeout) until a datagram or an error is queued."""
        if not self._block(lambda: cb.count or cb.err or self._cb is None):
            self._live()
            self._not_ready()
        self._live()  # a pending ICMP error, or EBADF if closed meanwhile

    def recv_into(self, buf, nbytes=0, flags=0):
        cb = self._live()
        if self._type == SOCK_STREAM:
            n = nbytes or len(buf)
            return self._tcp_recv_into(cb, buf, n)
        return self.recvfrom_into(buf, nbytes)[0]

    def recvfrom_into(self, buf, nbytes=0):
        cb = self._live()
        if self._type == SOCK_STREAM:
            return self.recv_into(buf, nbytes), self.getpeername()
        self._wait_dgram(cb)
        dst = buf if not nbytes else memoryview(buf)[:nbytes]
        n, a, port = cb.take(dst)
        return n, (ipv4.ntoa(a), port)

    def recvfrom(self, bufsize, flags=0):
        cb = self._live()
        if self._type == SOCK_STREAM:
            return self.recv(bufsize), self.getpeername()
        self._wait_dgram(cb)
        n = cb.peek_len()
        buf = bytearray(n if n < bufsize else bufsize)
        m, a, port = cb.take(buf)
        return bytes(buf), (ipv4.ntoa(a), port)

    def recv(self, bufsize, flags=0):
        cb = self._live()
        if self._type == SOCK_STREAM:
            buf = bytearray(bufsize)
            n = self._tcp_recv_into(cb, buf, bufsize)
            return bytes(buf[:n]) if n < bufsize else bytes(buf)
        return self.recvfrom(bufsize, flags)[0]

    def read(self, n=-1):
        """Stream read: up to n bytes, waiting for all n (or end of stream) on a
        blocking socket; read() reads to the end. None if non-blocking and empty."""
        cb = self._live()
        if self._type != SOCK_STREAM:
            try:
                return self.recv(n if n and n > 0 else 1500)
            except OSError as e:
                if e.args[0] == EAGAIN:
                    return None
                raise
        out = bytearray()
        chunk = bytearray(512)
        while n is None or n < 0 or len(out) < n:
            want = 512 if n is None or n < 0 else min(512, n - len(out))
            try:
                m = self._tcp_recv_into(cb, chunk, want)
            except OSError as e:
                if e.args[0] == EAGAIN:
                    if out:
                        break
                    return None
                raise
            if m == 0:
                break
            out.extend(chunk[:m])
            if self._timeout == 0:
                continue
        return bytes(out)

    def readinto(self, buf, nbytes=0):
        """Stream readinto: fill buf (or nbytes of it) unless the stream ends first;
        None if non-blocking and nothing is there."""
        cb = self._live()
        want = nbytes or len(buf)
        if self._type != SOCK_STREAM:
            try:
                return self.recv_into(buf, nbytes)
            except OSError as e:
                if e.args[0] == EAGAIN:
                    return None
                raise
        mv = memoryview(buf)
        got = 0
        while got < want:
            try:
                m = self._tcp_recv_into(cb, mv[got:], want - got)
            except OSError as e:
                if e.args[0] == EAGAIN:
                    return got if got else None
                raise
            if m == 0:
                break
            got += m
        return got

    def readline(self):
        """Up to and including the next newline (or to the end of the stream)."""
        cb = self._live()
        out = bytearray()
        one = bytearray(1)
        while True:
            rx = cb.rx
            if rx is not None and rx.count:
                k = rx.find(10, rx.count)
                take = k + 1 if k >= 0 else rx.count
                chunk = bytearray(take)
                tcp.app_recv_into(cb, chunk, take, self._nic._now())
                out.extend(chunk)
                if k >= 0:
                    break
                continue
            try:
                m = self._tcp_recv_into(cb, one, 1)
            except OSError as e:
                if e.args[0] == EAGAIN and not out:
                    return None
                if e.args[0] == EAGAIN:
                    break
                raise
            if m == 0:
                break
            out.extend(one)
            if one[0] == 10:
                break
        return bytes(out)

    # --- select.poll ---------------------------------------------------------------------

    def ioctl(self, op, arg):
        if op == _IOCTL_POLL:
            if self._cb is None:
                return _POLL_NVAL
            self._nic.poll()  # polling a socket drives the stack
            return self._ready(arg)
        if op == _IOCTL_CLOSE:
            self.close()
            return 0
        return -1

    def _ready(self, arg):
        """The poll mask for the events in arg (errors and hang-up always), without
        driving the stack (spinet.aio polls once for all its sockets)."""
        cb = self._cb
        if cb is None:
            return _POLL_NVAL
        r = 0
        if self._type == SOCK_DGRAM:
            r = _POLL_WR
            if cb.count:
                r |= _POLL_RD
            if cb.err:
                r |= _POLL_ERR
        else:
            st = cb.state
            if st == tcp.LISTEN:
                if cb.queue:
                    r |= _POLL_RD
            elif st == tcp.CLOSED and cb.rx is None and not cb.err:
                r = _POLL_WR | _POLL_HUP  # a new socket, as lwIP reports it
            else:
                if (cb.rx is not None and cb.rx.count) or cb.fin_rcvd:
                    r |= _POLL_RD
                if (st == tcp.ESTABLISHED or st == tcp.CLOSE_WAIT) and \
                        cb.tx.count < cb.tx.size:
                    r |= _POLL_WR
                if cb.err:
                    r |= _POLL_ERR | _POLL_HUP | _POLL_RD
                elif st == tcp.CLOSED or st >= tcp.CLOSING:
                    r |= _POLL_HUP
        return r & (arg | _POLL_ERR | _POLL_HUP)


def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0):
    """[(family, type, proto, canonname, sockaddr)] as MicroPython returns it: one
    entry. Dotted quads are answered without a query; names go to the resolver of
    the default Interface (spinet.dns), which raises OSError(-2) when a name does
    not exist, -3 when no server answers, -4 on other failures."""
    if af not in (0, AF_INET):
        raise OSError(EAFNOSUPPORT)
    try:
        a = ipv4.ntoa(ipv4.aton(host))
    except (ValueError, AttributeError, TypeError):
        nic = iface.default
        if nic is None or not isinstance(host, str):
            raise OSError(-2)
        from . import dns
        a = ipv4.ntoa(dns.resolve(nic, host))
    return [(AF_INET, type or SOCK_STREAM, proto, "", (a, port))]


def inet_pton(af, txt):
    if af != AF_INET:
        raise OSError(EAFNOSUPPORT)
    return ipv4.aton(txt)


def inet_ntop(af, b):
    if af != AF_INET or len(b) != 4:
        raise OSError(EAFNOSUPPORT)
    return ipv4.ntoa(b)
