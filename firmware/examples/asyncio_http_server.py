# An HTTP/1.1 server on MicroPython's asyncio over spinet: every connection is its
# own task, so several clients are served at once (restricted Python: a board and
# the MicroPython unix port run it; it needs asyncio's streams).
#
#   from asyncio_http_server import serve
#   serve(nic)                      # nic: an active, configured spinet.Interface
#
# Routes as firmware/examples/http_server.py (GET and HEAD; else 405, unknown 404):
#   /          text/plain: the address and how many requests were served
#   /bytes/N   N bytes (0 <= N <= MAX_BYTES) of the pattern i % 251, Content-Length
#
# It is written for unchanged asyncio: asyncio.start_server does `import socket`,
# which on a board with firmware/socket.py is spinet's; elsewhere serve() puts
# spinet.socket under that name for as long as it runs. spinet.start() keeps the
# stack running while tasks wait (spinet/aio.py says why). The request head is read
# into at most HEAD_MAX bytes (431 past it); a client idle for timeout_s is dropped.

import asyncio

HEAD_MAX = 1024  # request line + headers, bytes
MAX_BYTES = 1 << 30  # largest /bytes/N
PATTERN_MOD = 251
_CHUNK = PATTERN_MOD * 8  # a whole number of periods: every chunk starts at phase 0

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            431: "Request Header Fields Too Large"}


def _pattern(n):
    b = bytearray(n)
    for i in range(n):
        b[i] = i % PATTERN_MOD
    return b


async def _read_head(reader):
    """The request head up to its empty line: bytes; b"" if the client closed first,
    None if it is longer than HEAD_MAX."""
    head = b""
    while True:
        if b"\r\n\r\n" in head or b"\n\n" in head:
            return head
        if len(head) >= HEAD_MAX:
            return None
        part = await reader.read(HEAD_MAX - len(head))
        if not part:
            return b""
        head += part


class Server:
    def __init__(self, nic, max_requests=None, timeout_s=10, log=None):
        self.nic = nic
        self.max_requests = max_requests
        self.timeout_s = timeout_s
        self.log = log
        self.served = 0  # requests answered (any status)
        self.active = 0  # connections being served now
        self.most = 0  # the most served at once
        self.done = asyncio.Event()
        self._block = memoryview(_pattern(_CHUNK))  # shared by every connection

    async def _respond(self, writer, status, length, body, ctype="text/plain", extra=""):
        writer.write(("HTTP/1.1 %d %s\r\nServer: spinet-asyncio\r\nContent-Type: %s\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n%s\r\n"
                      % (status, _REASONS[status], ctype, length, extra)).encode())
        if body:
            writer.write(body)
        await writer.drain()

    async def _simple(self, writer, status, extra=""):
        body = ("%d %s\n" % (status, _REASONS[status])).encode()
        await self._respond(writer, status, len(body), body, extra=extra)
        return status, len(body)

    async def _pattern(self, writer, n):
        await self._respond(writer, 200, n, None, "application/octet-stream")
        mv = self._block
        left = n
        while left > 0:
            k = left if left < _CHUNK else _CHUNK
            writer.write(mv[:k])
            await writer.drain()
            left -= k
        return 200, n

    async def _request(self, reader, writer):
        head = await asyncio.wait_for(_read_head(reader), self.timeout_s)
        if head is None:
            return await self._simple(writer, 431)
        if not head:
            return 0, 0
        try:
            line = head.split(b"\n", 1)[0].decode().strip()
            method, target, version = line.split(" ")
        except (ValueError, UnicodeError):
            return await self._simple(writer, 400)
        if not version.startswith("HTTP/1."):
            return await self._simple(writer, 400)
        if method != "GET" and method != "HEAD":
            return await self._simple(writer, 405, "Allow: GET, HEAD\r\n")
        body = method == "GET"
        q = target.find("?")
        path = target if q < 0 else target[:q]
        if path == "/":
            page = ("spinet asyncio_http_server\naddress %s\nrequests %d\nactive %d\n"
                    % (self.nic.ifconfig()[0], self.served, self.active)).encode()
            await self._respond(writer, 200, len(page), page if body else None)
            return 200, len(page) if body else 0
        if path.startswith("/bytes/"):
            arg = path[7:]
            if arg.isdigit() and len(arg) <= 10 and int(arg) <= MAX_BYTES:
                if body:
                    return await self._pattern(writer, int(arg))
                await self._respond(writer, 200, int(arg), None, "application/octet-stream")
                return 200, 0
        return await self._simple(writer, 404)

    async def handle(self, reader, writer):
        """One connection: one request, then close (asyncio.start_server's callback)."""
        self.active += 1
        if self.active > self.most:
            self.most = self.active
        status, sent = 0, 0
        try:
            status, sent = await self._request(reader, writer)
        except (OSError, asyncio.TimeoutError) as e:
            status = -(e.args[0] if e.args and isinstance(e.args[0], int) else 1)
        finally:
            writer.close()
            await writer.wait_closed()
            self.active -= 1
        self.served += 1
        if self.log:
            try:
                peer = writer.get_extra_info("peername")
                who = "%s:%d" % (peer[0], peer[1])
            except (KeyError, TypeError, IndexError):
                who = "?"
            self.log("http %s %d %d" % (who, status, sent))
        if self.max_requests is not None and self.served >= self.max_requests:
            self.done.set()


async def serve_async(nic, port=80, max_requests=None, timeout_s=10, log=None):
    """Serve until max_requests requests (None: forever); returns the Server. The
    caller may run other tasks alongside (asyncio.create_task before awaiting)."""
    import sys

    import spinet
    from spinet import socket as _spinet_socket
    old = sys.modules.get("socket")
    sys.modules["socket"] = _spinet_socket  # what asyncio.start_server imports
    pump = spinet.start(nic)
    srv = Server(nic, max_requests, timeout_s, log)
    listener = None
    try:
        listener = await asyncio.start_server(srv.handle, "0.0.0.0", port, backlog=4)
        await srv.done.wait()
        # Closing connections finish their handshakes with the pump still running.
        for _ in range(200):
            if srv.active == 0 and not _busy(nic):
                break
            await asyncio.sleep_ms(25)
    finally:
        if listener is not None:
            listener.close()
            await listener.wait_closed()
        pump.stop()
        if old is None:
            del sys.modules["socket"]
        else:
            sys.modules["socket"] = old
    return srv


def _busy(nic):
    """A connection still closing (anything but a listener or UDP socket)."""
    for ln in nic.netstat():
        if "tcp" in ln and "LISTEN" not in ln:
            return True
    return False


def serve(nic, port=80, max_requests=None, timeout_s=10, log=None):
    """serve_async() under asyncio.run; returns the number of requests served."""
    return asyncio.run(serve_async(nic, port, max_requests, timeout_s, log)).served


def main(nic, **kw):
    """The firmware's entry (firmware/main.py via netboot.run_app), keyword
    arguments from config.json's "app_args" (port, max_requests...)."""
    if "log" not in kw:
        kw["log"] = print
    return serve(nic, **kw)
