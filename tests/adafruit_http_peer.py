# The kernel side of tests/cpython/test_adafruit_realpeer.py: an HTTP/1.1 server on
# CPython's http.server (keep-alive), inside the lab's namespace.
#
#   adafruit_http_peer.py PORT
#     GET /length/N    N bytes of body(N) with Content-Length
#     GET /chunked/N   the same bytes, Transfer-Encoding: chunked, chunks of uneven size
# Prints "listening PORT" once bound and "request METHOD PATH port=CLIENTPORT UA" per
# request; ends on
# SIGTERM or after 120 s.
import hashlib
import http.server
import sys
import threading

IP = "192.0.2.1"
CHUNKS = (1, 7, 100, 1000, 4096, 333)  # cycled; a 1-byte chunk is the odd one


def body(n):
    """n bytes no pattern-matching could fake: SHA-256 in counter mode."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"spinet-%d" % i).digest()
        i += 1
    return bytes(out[:n])


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the test reads stdout instead
        pass

    def do_GET(self):
        print("request GET %s port=%d %s" % (self.path, self.client_address[1],
                                             self.headers.get("User-Agent")), flush=True)
        parts = self.path.strip("/").split("/")
        if len(parts) != 2 or parts[0] not in ("length", "chunked") or not parts[1].isdigit():
            self.send_error(404)
            return
        data = body(int(parts[1]))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if parts[0] == "length":
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        off = 0
        k = 0
        while off < len(data):
            piece = data[off:off + CHUNKS[k % len(CHUNKS)]]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            off += len(piece)
            k += 1
        self.wfile.write(b"0\r\n\r\n")


def main(argv):
    port = int(argv[0])
    srv = http.server.ThreadingHTTPServer((IP, port), Handler)
    srv.daemon_threads = True
    t = threading.Timer(120, srv.shutdown)
    t.daemon = True
    t.start()
    print("listening %d" % port, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
