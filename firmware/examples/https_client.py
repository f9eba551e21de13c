# An HTTPS client on spinet: TLS from the firmware's `ssl` module (mbedTLS) over a
# spinet TCP socket, the server checked against a CA kept on the board's flash. Needs
# firmware with `ssl` (the unix port; Pico W / WIZnet builds), not the generic Pico
# one. Restricted Python.
#
#   from https_client import main
#   main(nic, url="https://tls.spinet.test:4433/index.txt", ca="/ca.der")
#
# As a firmware app: config.json {"app": "https_client", "app_args": {"url": ...}}.
# Prints "https STATUS BYTES" and returns (status, bytes of body).

import ssl

from spinet import socket


def split_url(url):
    """'https://host[:port]/path' -> (host, port, path)."""
    if not url.startswith("https://"):
        raise ValueError("https:// URLs only")
    rest = url[8:]
    i = rest.find("/")
    hostport, path = (rest, "/") if i < 0 else (rest[:i], rest[i:])
    i = hostport.find(":")
    if i < 0:
        return hostport, 443, path
    return hostport[:i], int(hostport[i + 1:]), path


def read_file(name):
    with open(name, "rb") as f:
        return f.read()


def open_tls(host, port, cadata, server_hostname=None, timeout=10):
    """A TLS stream to host:port, the server's chain checked against cadata (DER) and
    its certificate against server_hostname (default: host)."""
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(ai[-1])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        # MicroPython's client context starts at CERT_NONE (CPython's at REQUIRED):
        # without this line any certificate would do.
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cadata=cadata)
        return ctx.wrap_socket(s, server_hostname=server_hostname or host)
    except Exception:
        s.close()
        raise


def _content_length(head):
    """The Content-Length in a response head (bytes), or -1 if it has none."""
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return -1


def fetch(url, cadata, sink=None, server_hostname=None, timeout=10):
    """GET url over HTTPS. The body ends after Content-Length bytes, or with the
    stream when the server sends none. Each piece of it goes to sink(memoryview) if
    given. Returns (status, body bytes)."""
    host, port, path = split_url(url)
    t = open_tls(host, port, cadata, server_hostname, timeout)
    try:
        t.write(b"GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n"
                % (path.encode(), host.encode()))
        status = 0
        head = b""
        size = 0
        length = -1
        buf = bytearray(1024)
        mv = memoryview(buf)
        while length < 0 or size < length:
            want = len(buf) if length < 0 or status == 0 else min(len(buf), length - size)
            n = t.readinto(mv[:want])
            if not n:
                break
            if status == 0:  # still in the head: collect it up to the blank line
                head += buf[:n]
                end = head.find(b"\r\n\r\n")
                if end < 0:
                    if len(head) > 4096:
                        raise ValueError("response head too long")
                    continue
                status = int(head.split(b" ", 2)[1])
                length = _content_length(head[:end])
                body = head[end + 4:]
                size = len(body)
                if sink and size:
                    sink(memoryview(body))
                head = b""
                continue
            size += n
            if sink:
                sink(mv[:n])
        return status, size
    finally:
        t.close()


def main(nic=None, url="https://tls.spinet.test/", ca="/ca.der", log=print, sink=None,
         server_hostname=None):
    """Fetch url, trusting the CA certificate (DER) in the file ca. nic is unused:
    spinet.socket takes the Interface boot.py activated."""
    status, size = fetch(url, read_file(ca), sink, server_hostname)
    if log:
        log("https %d %d" % (status, size))
    return status, size
