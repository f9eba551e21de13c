# spinet.tls — an SSL context for socket-pool clients (Adafruit's connection manager)
# over spinet sockets, where the firmware has MicroPython's `ssl`.
#
# Heads up: adafruit_connection_manager wraps a socket *before* connecting it, then
# calls settimeout() and connect() on what wrap_socket returned. MicroPython's
# SSLContext.wrap_socket handshakes at once and its SSLSocket has neither method. So
# wrap_socket here returns a socket that connects the spinet socket first and wraps
# it then (resolving a host name first); everything else goes to MicroPython's
# SSLSocket.
#
#   ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.verify_mode = ssl.CERT_REQUIRED
#   ctx.load_verify_locations(cadata=ca_der)
#   session = adafruit_requests.Session(spinet.socket, spinet.tls.SSLContext(ctx))


try:
    from typing import Any  # noqa: F401  (annotations only; none on a board)
except ImportError:
    pass


class SSLContext:
    def __init__(self, context):
        self.context = context  # a MicroPython ssl.SSLContext, set up by the caller

    def wrap_socket(self, sock, server_hostname=None):
        return _TlsOnConnect(self.context, sock, server_hostname)


class _TlsOnConnect:
    def __init__(self, context, sock, server_hostname):
        self._ctx = context
        self._sock = sock
        self._name = server_hostname
        self._tls = None  # type: Any  # MicroPython's SSLSocket once connected

    def settimeout(self, t):
        self._sock.settimeout(t)  # the TLS socket reads and writes through it

    def connect(self, addr):
        # The connection manager passes the host name here (CPython's sockets take
        # names); spinet's connect takes addresses, as MicroPython's does.
        from . import socket
        self._sock.connect(socket.getaddrinfo(addr[0], addr[1])[0][-1])
        self._tls = self._ctx.wrap_socket(self._sock, server_hostname=self._name)

    def send(self, data):
        return self._tls.write(data)

    def recv(self, n):
        return self._tls.read(n)

    def recv_into(self, buf, n=0):
        return self._tls.recv_into(buf, n) if n else self._tls.readinto(buf)

    def close(self):
        if self._tls is not None:
            self._tls.close()  # closes the spinet socket too
            self._tls = None
        else:
            self._sock.close()
