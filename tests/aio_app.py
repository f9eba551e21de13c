# The spinet side of the asyncio real-peer tests (tests/cpython/test_aio_realpeer.py,
# host_tools/bench/aio_latency.py): MicroPython's own asyncio, unchanged, over
# spinet sockets (sys.modules["socket"] is spinet.socket). MicroPython unix port only.
#
#   aio_app.py DRIVER IFNAME ROLE ARGS...
#
# Roles (the kernel is 192.0.2.1, spinet 192.0.2.2):
#   httpd PORT NREQ HBPORT HBMS   firmware/examples/asyncio_http_server.py until NREQ
#                                 requests, while a second task sends the datagram
#                                 "hb SEQ" to the kernel's HBPORT every HBMS ms; ends
#                                 with "hb end COUNT". Prints "served n=.. most=.."
#                                 and "hb sent=.."
#   client PORT NSTREAMS SIZE     NSTREAMS concurrent asyncio.open_connection()s to the
#                                 kernel's PORT (tests/aio_peer.py serve): each writes
#                                 "SIZE TAG\n" + SIZE bytes, checks the readline() and
#                                 readexactly() that come back; "stream TAG ok .."
#   select PORT LPORT             no asyncio: select.poll on raw non-blocking sockets.
#                                 connect() to the kernel's PORT (aio_peer.py serve):
#                                 EINPROGRESS, then POLLOUT; one exchange; then listen
#                                 on LPORT, accept() -> EAGAIN, POLLIN, accept, read a
#                                 line: "select connect=.. accept=.. line=.."
#   refused PORT                  open_connection() to a port nobody listens on: the
#                                 error the first read raises: "refused errno=.."
#   echo PORT MODE                one TCP connection, every line echoed until EOF:
#                                 MODE "blocking" (plain socket calls), "aio" (asyncio
#                                 streams, no pump) or "pump" (asyncio + spinet.start)
# Roles the kernel side waits for print "ready ..." first; every role then prints its
# result lines and "stats ...".

import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT + "/firmware/examples", _ROOT, _ROOT + "/tests"):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import asyncio  # noqa: E402
import hashlib  # noqa: E402
from binascii import hexlify  # noqa: E402

import spinet  # noqa: E402
from spinet import aio  # noqa: E402
from spinet import socket  # noqa: E402

KERNEL = "192.0.2.1"


def make_nic(kind, ifname, sockets=16):
    from spinet.drivers.packet import PacketSocket
    if kind != "packet":
        raise ValueError("aio_app runs on the MicroPython unix port over AF_PACKET")
    nic = spinet.Interface(PacketSocket(ifname), hostname="spinet-aio", sockets=sockets)
    nic.ifconfig(("192.0.2.2", "255.255.255.0", KERNEL, KERNEL))
    nic.active(True)
    return nic


def stream_bytes(tag, n):
    """The bytes stream TAG carries each way: byte i is (i * 7 + tag) % 256."""
    b = bytearray(n)
    for i in range(n):
        b[i] = (i * 7 + tag) & 255
    return b


def sha(b):
    return hexlify(hashlib.sha256(b).digest()).decode()


# --- httpd ------------------------------------------------------------------------------

async def heartbeat(nic, port, every_ms, stop):
    s = nic.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    seq = 0
    try:
        while not stop.is_set():
            s.sendto(b"hb %d" % seq, (KERNEL, port))
            seq += 1
            await asyncio.sleep_ms(every_ms)
        s.sendto(b"hb end %d" % seq, (KERNEL, port))
        await asyncio.sleep_ms(50)  # a pump round: the datagram leaves
    finally:
        s.close()
    return seq


async def httpd(nic, port, nreq, hbport, hbms):
    import asyncio_http_server as app
    stop = asyncio.Event()
    hb = asyncio.create_task(heartbeat(nic, hbport, hbms, stop))
    print("ready httpd", port)
    srv = await app.serve_async(nic, port, max_requests=nreq, log=print)
    stop.set()
    sent = await hb
    print("served n=%d most=%d" % (srv.served, srv.most))
    print("hb sent=%d" % sent)


# --- client -----------------------------------------------------------------------------

async def one_stream(tag, port, size, results):
    reader, writer = await asyncio.open_connection(KERNEL, port)
    data = stream_bytes(tag, size)
    writer.write(b"%d %d\n" % (size, tag))
    mv = memoryview(data)
    off = 0
    while off < size:  # in pieces, so drain() really waits on a full send ring
        k = min(3000, size - off)
        writer.write(mv[off:off + k])
        await writer.drain()
        off += k
    got_line = await reader.readline()  # "SHA-of-what-the-peer-received\n"
    want = sha(data) + "\n"
    back = await reader.readexactly(size)  # the peer's answer: the same bytes, reversed tag
    rest = await reader.read(-1)  # then end of stream
    writer.close()
    await writer.wait_closed()
    ok = (got_line.decode() == want and back == stream_bytes(255 - tag, size) and rest == b"")
    results.append(tag)
    print("stream %d %s line=%s back_sha=%s rest=%d" % (
        tag, "ok" if ok else "BAD", got_line.decode().strip()[:16], sha(back)[:16], len(rest)))


async def client(nic, port, nstreams, size):
    pump = spinet.start(nic)
    results = []
    print("ready client")
    tasks = [asyncio.create_task(one_stream(t, port, size, results)) for t in range(nstreams)]
    for t in tasks:
        await t
    pump.stop()
    print("client done=%d" % len(results))


# --- select.poll without asyncio, and a refused open_connection ----------------------

def select_raw(nic, port, lport):
    import select
    from errno import EAGAIN, EINPROGRESS
    p = select.poll()
    s = socket.socket()
    s.setblocking(False)
    first = 0
    try:
        s.connect((KERNEL, port))
    except OSError as e:
        first = e.errno
    before = s.ioctl(3, select.POLLOUT)  # mid-handshake: not writable yet (or just now)
    p.register(s, select.POLLOUT)
    ev = p.poll(5000)
    wrote = s.write(b"5 9\n" + stream_bytes(9, 5))
    p.modify(s, select.POLLIN)
    got = b""
    for _ in range(200):  # the sha line, then 5 bytes, then end of stream
        if not p.poll(5000):
            break
        b = s.read(200)
        if b is None:
            continue
        if not b:
            break
        got += b
    s.close()
    line_ok = got == (sha(stream_bytes(9, 5)) + "\n").encode() + stream_bytes(246, 5)
    print("select connect=%s before=%d after=%s wrote=%s exchange=%s" % (
        "EINPROGRESS" if first == EINPROGRESS else first, before,
        "POLLOUT" if ev and ev[0][1] & select.POLLOUT else ev, wrote, "ok" if line_ok else got))
    ls = socket.socket()
    ls.setblocking(False)
    ls.bind(("0.0.0.0", lport))
    ls.listen(2)
    try:
        ls.accept()
        early = "accepted?"
    except OSError as e:
        early = "EAGAIN" if e.errno == EAGAIN else str(e.errno)
    p2 = select.poll()
    p2.register(ls, select.POLLIN)
    print("ready select listening", lport)
    ev = p2.poll(20000)
    c, addr = ls.accept()
    c.setblocking(False)
    p3 = select.poll()
    p3.register(c, select.POLLIN)
    line = None
    for _ in range(100):
        if p3.poll(5000):
            line = c.readline()
            if line:
                break
    c.write(b"bye\n")
    c.close()
    ls.close()
    for _ in range(100):  # let the FIN exchange finish
        nic.poll()
        nic.wait(10)
        if not nic.netstat():
            break
    print("select accept_early=%s poll=%s line=%s" % (
        early, "POLLIN" if ev and ev[0][1] & select.POLLIN else ev, line))


async def refused(nic, port):
    spinet.start(nic)
    try:
        reader, writer = await asyncio.open_connection(KERNEL, port)
        await reader.read(10)
        print("refused none")
    except OSError as e:
        print("refused errno=%d" % e.errno)


# --- echo (latency) ---------------------------------------------------------------------

def echo_blocking(nic, port):
    ls = nic.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("", port))
    ls.listen(1)
    print("ready echo blocking")
    c, _ = ls.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    n = 0
    while True:
        ln = c.readline()
        if not ln:
            break
        c.write(ln)
        n += 1
    c.close()
    ls.close()
    print("echoed n=%d" % n)


async def echo_aio(nic, port, pump):
    done = asyncio.Event()
    count = [0]

    async def handle(reader, writer):
        while True:
            ln = await reader.readline()
            if not ln:
                break
            writer.write(ln)
            await writer.drain()
            count[0] += 1
        writer.close()
        await writer.wait_closed()
        done.set()

    p = spinet.start(nic) if pump else None
    srv = await asyncio.start_server(handle, "0.0.0.0", port)
    print("ready echo %s" % ("pump" if pump else "aio"))
    await done.wait()
    srv.close()
    await srv.wait_closed()
    for _ in range(40):  # let the FIN exchange finish
        await asyncio.sleep_ms(5)
        nic.poll()
    if p:
        p.stop()
    print("echoed n=%d" % count[0])


def main(argv):
    kind, ifname, role = argv[0], argv[1], argv[2]
    args = [int(a) if a.isdigit() else a for a in argv[3:]]
    nic = make_nic(kind, ifname)
    aio.use_as_socket()  # after the host driver has its own socket module
    if role == "httpd":
        asyncio.run(httpd(nic, *args))
    elif role == "client":
        asyncio.run(client(nic, *args))
    elif role == "select":
        select_raw(nic, *args)
    elif role == "refused":
        asyncio.run(refused(nic, *args))
    elif role == "echo":
        port, mode = args
        if mode == "blocking":
            echo_blocking(nic, port)
        else:
            asyncio.run(echo_aio(nic, port, mode == "pump"))
    else:
        raise ValueError("unknown role " + role)
    st = nic.stats()
    print("stats " + " ".join("%s=%d" % (k, st[k]) for k in sorted(st)))
    for ln in nic.netstat():
        print("netstat " + ln)


if __name__ == "__main__":
    from realpeer_app import run

    run(main)
