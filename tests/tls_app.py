# The spinet side of tests/cpython/test_tls_realpeer.py: MicroPython's `ssl` (mbedTLS)
# over a spinet TCP socket on a host link. Restricted Python (MicroPython unix port;
# CPython's ssl cannot wrap a socket that has no file descriptor).
#
#   tls_app.py DRIVER IFNAME ROLE ARGS...
# Roles:
#   get URL CA_DER API [SERVER_HOSTNAME]
#       firmware/examples/https_client.main() (API "ctx": SSLContext; it prints
#       "https STATUS BYTES") or the same through ssl.wrap_socket (API "wrap"), then
#       "status=.. bytes=.. sha256=.."
#   echo PORT CERT_DER KEY_DER NBYTES
#       TLS server (SSLContext(PROTOCOL_TLS_SERVER)): one client, echoes NBYTES back,
#       then closes: "echoed bytes=.. sha256=.."
#   nbget HOST PORT CA_DER SERVER_HOSTNAME PATH
#       the GET on a non-blocking socket, driven by select.poll: "status=.. bytes=.."
# Prints "ready" once the Interface is up; "error EXC" and exit 1 on an exception.
import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT + "/firmware/examples", _ROOT + "/tests"):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import hashlib  # noqa: E402
import ssl  # noqa: E402

from binascii import hexlify  # noqa: E402

import https_client  # noqa: E402
from realpeer_app import linger, make_nic, run  # noqa: E402
from spinet import socket  # noqa: E402
from spinet.compat import ticks_diff, ticks_ms  # noqa: E402


def wrap_open(host, port, cadata, server_hostname, timeout=10):
    """As https_client.open_tls, through the older ssl.wrap_socket()."""
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(ai[-1])
    return ssl.wrap_socket(s, cert_reqs=ssl.CERT_REQUIRED, cadata=cadata,
                           server_hostname=server_hostname or host)


def measured(open_fn):
    """open_fn, printing the heap an open TLS connection holds (after a collection:
    mbedTLS allocates on MicroPython's heap)."""
    import gc

    def opener(*args):
        gc.collect()
        before = gc.mem_alloc()
        t = open_fn(*args)
        gc.collect()
        print("tls heap bytes=%d" % (gc.mem_alloc() - before))
        return t
    return opener


def role_get(url, ca, api, server_hostname=None):
    h = hashlib.sha256()
    opener = wrap_open if api == "wrap" else https_client.open_tls
    https_client.open_tls = measured(opener)  # "wrap": the same GET, the other entry point
    status, n = https_client.main(None, url=url, ca=ca, sink=h.update,
                                  server_hostname=server_hostname)
    print("status=%d bytes=%d sha256=%s" % (status, n, hexlify(h.digest()).decode()))


def role_echo(port, cert, key, nbytes):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(https_client.read_file(cert), https_client.read_file(key))
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(port)))
    ls.listen(1)
    ls.settimeout(30)
    print("listening %s" % port)
    c, addr = ls.accept()
    c.settimeout(30)
    t = ctx.wrap_socket(c, server_side=True)
    h = hashlib.sha256()
    buf = bytearray(2048)
    mv = memoryview(buf)
    left = int(nbytes)
    while left:
        n = t.readinto(mv[:left if left < len(buf) else len(buf)])
        if not n:
            break
        h.update(mv[:n])
        t.write(mv[:n])
        left -= n
    print("echoed bytes=%d sha256=%s" % (int(nbytes) - left, hexlify(h.digest()).decode()))
    t.close()
    ls.close()


def role_nbget(host, port, ca, server_hostname, path):
    """The GET with a non-blocking socket under the TLS layer: reads and writes
    return None while the stack has nothing, select.poll waits (and drives spinet)."""
    import select
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect((host, int(port)))
    except OSError as e:
        if e.args[0] != 115:  # EINPROGRESS
            raise
    p = select.poll()
    p.register(s, select.POLLOUT)
    if not p.poll(10000):
        raise OSError(110)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=https_client.read_file(ca))
    t = ctx.wrap_socket(s, server_hostname=server_hostname, do_handshake_on_connect=False)
    req = b"GET %s HTTP/1.0\r\n\r\n" % path.encode()
    p = select.poll()
    p.register(t, select.POLLIN)
    t0 = ticks_ms()
    sent = 0
    waits = 0
    got = bytearray()
    buf = bytearray(1024)
    while ticks_diff(ticks_ms(), t0) < 20000:
        if sent < len(req):
            n = t.write(req[sent:])  # also moves the handshake on; None: not yet
            if n:
                sent += n
            else:
                waits += 1
                p.poll(50)
            continue
        n = t.readinto(buf)
        if n is None:
            waits += 1
            p.poll(50)
            continue
        if n == 0:
            break
        got.extend(buf[:n])
        end = got.find(b"\r\n\r\n")
        if end >= 0:
            length = https_client._content_length(bytes(got[:end]))
            if 0 <= length <= len(got) - end - 4:
                break  # the whole body is in
    else:
        raise OSError(110)
    t.close()
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    h = hashlib.sha256(body)
    print("status=%s bytes=%d sha256=%s waits=%d" % (head.split(b" ", 2)[1].decode(),
                                                      len(body), hexlify(h.digest()).decode(),
                                                      waits))


def main(argv):
    kind, ifname, role = argv[:3]
    nic = make_nic(kind, ifname, "192.0.2.2")
    print("ready")
    args = argv[3:]
    if role == "get":
        role_get(*args)
    elif role == "echo":
        role_echo(*args)
    elif role == "nbget":
        role_nbget(*args)
    else:
        raise ValueError("unknown role " + role)
    linger(nic, 3000)  # the closing handshakes done before the process goes


run(main, as_repr=True)
