# A tiny HTTP/1.1 server on spinet (restricted Python: a board, the MicroPython unix
# port and CPython run it unchanged).
#
#   from http_server import serve
#   serve(nic)                      # nic: an active, configured spinet.Interface
#
# Routes (GET and HEAD; anything else is 405, an unknown path 404):
#   /          text/plain status page: addresses, nic.stats() (one "name value" line
#              per counter) and nic.netstat() (one line per control block)
#   /bytes/N   N bytes (0 <= N <= MAX_BYTES) of a fixed pattern, streamed with a
#              Content-Length: byte i of the body is i % 251 (251 is prime, so the
#              pattern does not line up with any power-of-two buffer or segment size,
#              and a byte dropped, doubled or reordered anywhere changes the hash)
#
# One connection at a time, blocking sockets, every response "Connection: close".
# The request head is read into one buffer of HEAD_MAX bytes: a request line longer
# than LINE_MAX gets 414, a longer head 431, a malformed one 400; the body of a
# request is never read. A client idle for timeout_s seconds is dropped.

from spinet import socket as _sk

HEAD_MAX = 1024  # request line + headers, bytes
LINE_MAX = 256  # request line, bytes
MAX_BYTES = 1 << 30  # largest /bytes/N
PATTERN_MOD = 251
_CHUNK = PATTERN_MOD * 16  # a whole number of periods: every chunk starts at phase 0

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            414: "URI Too Long", 431: "Request Header Fields Too Large"}


def pattern(n):
    """The first n bytes of the /bytes/N body (for clients and tests)."""
    b = bytearray(n)
    for i in range(n):
        b[i] = i % PATTERN_MOD
    return bytes(b)


def _read_head(c, buf):
    """Read until the empty line that ends the head. Returns the head length, 0 if
    the peer closed first, -1 if it does not fit in buf. Leading empty lines are
    skipped (RFC 9112 2.2); a bare LF ends a line too."""
    mv = memoryview(buf)
    n = 0
    line = 0  # start of the current line
    seen = False  # a non-empty line so far
    while n < len(buf):
        m = c.recv_into(mv[n:])
        if not m:
            return 0
        for i in range(n, n + m):
            ch = buf[i]
            if ch == 10:
                k = i - line
                if k == 0 or (k == 1 and buf[line] == 13):
                    if seen:
                        return i + 1
                line = i + 1
            elif ch != 13:
                seen = True
        n += m
    return -1


def _head(c, status, length, ctype="text/plain", extra=""):
    head = ("HTTP/1.1 %d %s\r\nServer: spinet\r\nContent-Type: %s\r\n"
            "Content-Length: %d\r\nConnection: close\r\n%s\r\n"
            % (status, _REASONS[status], ctype, length, extra))
    c.sendall(head.encode())


def _simple(c, status, send_body, extra=""):
    body = ("%d %s\n" % (status, _REASONS[status])).encode()
    _head(c, status, len(body), extra=extra)
    if send_body:
        c.sendall(body)


def status_page(nic, served):
    ip, mask, gw, dns = nic.ifconfig()
    mac = nic.config("mac")
    out = ["spinet http_server",
           "hostname %s" % nic.hostname,
           "mac %s" % ":".join("%02x" % b for b in mac),
           "ifconfig %s %s %s %s" % (ip, mask, gw, dns),
           "requests %d" % served,
           "",
           "[stats]"]
    st = nic.stats()
    for k in sorted(st):
        out.append("%s %d" % (k, st[k]))
    out.append("")
    out.append("[netstat]")
    for ln in nic.netstat():
        out.append(ln)
    out.append("")
    return "\n".join(out).encode()


def _send_pattern(c, n, block):
    mv = memoryview(block)
    left = n
    while left > 0:
        k = left if left < _CHUNK else _CHUNK
        c.sendall(mv[:k])
        left -= k


def handle(nic, c, buf, block, served):
    """Serve one request on connection c. Returns (status, body bytes)."""
    n = _read_head(c, buf)
    if n == 0:
        return 0, 0
    if n < 0:
        eol = 0
        while eol < len(buf) and buf[eol] != 10:
            eol += 1
        st = 414 if eol > LINE_MAX else 431
        _simple(c, st, True)
        return st, 0
    start = 0
    while buf[start] in (10, 13):
        start += 1
    eol = start
    while buf[eol] != 10:
        eol += 1
    if eol - start > LINE_MAX:
        _simple(c, 414, True)
        return 414, 0
    try:
        line = bytes(buf[start:eol]).decode().strip()
        method, target, version = line.split(" ")
    except (ValueError, UnicodeError):
        _simple(c, 400, True)
        return 400, 0
    if not version.startswith("HTTP/1."):
        _simple(c, 400, True)
        return 400, 0
    body = method == "GET"
    if method != "GET" and method != "HEAD":
        _simple(c, 405, True, "Allow: GET, HEAD\r\n")
        return 405, 0
    q = target.find("?")
    path = target if q < 0 else target[:q]
    if path == "/":
        page = status_page(nic, served)
        _head(c, 200, len(page))
        if body:
            c.sendall(page)
        return 200, len(page) if body else 0
    if path.startswith("/bytes/"):
        arg = path[7:]
        if arg.isdigit() and len(arg) <= 10 and int(arg) <= MAX_BYTES:
            size = int(arg)
            _head(c, 200, size, "application/octet-stream")
            if body:
                _send_pattern(c, size, block)
            return 200, size if body else 0
    _simple(c, 404, body)
    return 404, 0


def _linger(nic, ms):
    """Keep the stack running until every closed connection has finished (or ms)."""
    from spinet.compat import ticks_diff, ticks_ms
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < ms:
        if not nic.netstat():
            return
        nic.poll()
        nic.wait(10)


def serve(nic, port=80, max_requests=None, rx=4096, tx=8192, timeout_s=10, log=None):
    """Serve HTTP on nic:port, one connection at a time, until max_requests
    connections have been handled (None: forever). rx/tx size each connection's
    rings; log(str) gets one line per request. Returns the number handled."""
    ls = nic.socket(_sk.AF_INET, _sk.SOCK_STREAM, rx=rx, tx=tx)
    ls.setsockopt(_sk.SOL_SOCKET, _sk.SO_REUSEADDR, 1)
    ls.bind(("", port))
    ls.listen(2)
    buf = bytearray(HEAD_MAX)
    block = pattern(_CHUNK)
    served = 0
    try:
        while max_requests is None or served < max_requests:
            c, addr = ls.accept()
            c.settimeout(timeout_s)
            status = 0
            sent = 0
            try:
                status, sent = handle(nic, c, buf, block, served)
            except OSError as e:
                if log:
                    log("http %s:%d error %d" % (addr[0], addr[1], e.args[0]))
            c.close()
            served += 1
            if log:
                log("http %s:%d %d %d" % (addr[0], addr[1], status, sent))
    finally:
        ls.close()
    _linger(nic, 5000)
    return served


def main(nic, **kw):
    """The firmware's entry (firmware/main.py via netboot.run_app): serve(nic, **kw)
    with the keyword arguments of config.json's "app_args" (port, max_requests...)."""
    return serve(nic, **kw)
