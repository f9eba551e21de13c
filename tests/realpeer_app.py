# The spinet side of the real-peer tests (tests/netns.py, tests/cpython/test_realpeer.py):
# sets up an Interface on a host driver and plays one role against the Linux kernel.
# Restricted Python: runs on CPython and on the MicroPython unix port.
#
#   realpeer_app.py DRIVER IFNAME ROLE ARGS... [--rx=N] [--tx=N] [--ip=A]
#
# DRIVER is "tap" (spinet.drivers.tap, CPython) or "packet" (spinet.drivers.packet),
# optionally "+w5500" or "+enc28j60": that link is then the wire side of an emulated
# chip (boards/sim_*.py) driven by the real chip driver over the fake SPI bus.
# Roles (HOST is the kernel's address, sizes in bytes):
#   idle SECONDS              answer ARP/ping; a UDP datagram "quit" to port 9 ends it
#   ping HOST COUNT [SIZE]    nic.ping(): "ping sent=.. received=.. rtts=.."
#   udpecho HOST PORT LO HI   datagrams of every size LO..HI to an echo server, each
#                             checked byte for byte: "udp ok=.. bad=.. lost=.."
#   download HOST PORT N      TCP client, reads to end of stream: "result bytes=.. sha256=.."
#   upload HOST PORT N        TCP client, sends N bytes of the pattern i % 251
#   http PORT MAXREQ          firmware/examples/http_server.serve(), MAXREQ connections
# Every role prints "ready" once the Interface is up, its result lines, then
# "stats name=value ..." (all counters), "netstat ..." per control block left and
# "arp IP MAC STATE" per ARP entry, and exits 0 (1 on an error, with "error ...").

import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT + "/firmware/examples", _ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import hashlib  # noqa: E402

try:
    from binascii import hexlify
except ImportError:  # pragma: no cover
    from ubinascii import hexlify  # type: ignore

import spinet  # noqa: E402
from spinet import socket  # noqa: E402
from spinet.compat import ticks_diff, ticks_ms  # noqa: E402

KERNEL = "192.0.2.1"
MOD = 251  # the pattern: byte i of a stream is i % 251 (as http_server's /bytes/N)
BLOCK = MOD * 16


def pattern_block():
    b = bytearray(BLOCK)
    for i in range(BLOCK):
        b[i] = i % MOD
    return b


def make_nic(kind, ifname, ip):
    chip = None
    if "+" in kind:  # "packet+w5500": an emulated chip whose wire is this link
        kind, chip = kind.split("+", 1)
    if kind == "tap":
        from spinet.drivers.tap import Tap
        drv = Tap(ifname)
    elif kind == "packet":
        from spinet.drivers.packet import PacketSocket
        drv = PacketSocket(ifname)
    else:
        raise ValueError("driver must be tap or packet")
    if chip is not None:
        # The real W5500/ENC28J60 driver on the fake SPI bus, the chip model's wire
        # side on the link; the chip takes the link's MAC (so the AF_PACKET driver
        # still recognises our own outgoing frames).
        if chip == "w5500":
            from boards import sim_w5500 as board
        elif chip == "enc28j60":
            from boards import sim_enc28j60 as board
        else:
            raise ValueError("chip must be w5500 or enc28j60")
        return board.nic(wire=drv, mac=drv.mac, hostname="spinet-realpeer",
                         ifconfig=(ip, "255.255.255.0", KERNEL, KERNEL))
    nic = spinet.Interface(drv, hostname="spinet-realpeer")
    nic.ifconfig((ip, "255.255.255.0", KERNEL, KERNEL))
    nic.active(True)
    return nic


def run_for(nic, ms):
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < ms:
        nic.poll()
        nic.wait(10)


def linger(nic, ms):
    """Run the stack until no control block is left (closing handshakes done)."""
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < ms and nic.netstat():
        nic.poll()
        nic.wait(10)


def role_idle(nic, secs):
    s = nic.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("", 9))
    s.settimeout(0.2)
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < int(secs) * 1000:
        try:
            d = s.recv(64)
        except OSError:
            continue
        if d == b"quit":
            break
    s.close()


def role_ping(nic, host, count, size=56):
    rtts = nic.ping(host, count=int(count), size=int(size))
    got = [r for r in rtts if r is not None]
    print("ping sent=%d received=%d rtts=%s" % (len(rtts), len(got),
                                                ",".join(str(r) for r in rtts)))


def role_udpecho(nic, host, port, lo, hi):
    port = int(port)
    s = nic.socket(socket.AF_INET, socket.SOCK_DGRAM, rx=4096)
    s.settimeout(0.3)
    ok = bad = lost = tries = 0
    buf = bytearray(2048)
    for size in range(int(lo), int(hi) + 1):
        data = bytearray(size)
        for i in range(size):
            data[i] = (i * 7 + size) & 0xFF
        done = False
        for attempt in range(5):
            tries += 1
            s.sendto(data, (host, port))
            while True:
                try:
                    n, addr = s.recvfrom_into(buf)
                except OSError:
                    break  # timeout: send again
                if n != size or addr[1] != port:
                    continue  # a late echo of an earlier size: ignore
                if buf[:n] == data:
                    ok += 1
                    done = True
                    break
                bad += 1
                print("udp bad size=%d got=%d" % (size, n))
                done = True
                break
            if done:
                break
        if not done:
            lost += 1
            print("udp lost size=%d" % size)
    s.close()
    print("udp ok=%d bad=%d lost=%d sends=%d" % (ok, bad, lost, tries))


def _connect(nic, host, port, rx, tx):
    s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
    s.settimeout(30)
    s.connect((host, int(port)))
    return s


def _result(n, h, t0):
    ms = ticks_diff(ticks_ms(), t0)
    print("result bytes=%d sha256=%s ms=%d MBps=%.3f"
          % (n, hexlify(h.digest()).decode(), ms, (n / 1000.0 / ms) if ms else 0.0))


def role_download(nic, host, port, size, rx, tx):
    s = _connect(nic, host, port, rx, tx)
    t0 = ticks_ms()
    buf = bytearray(4096)
    mv = memoryview(buf)
    h = hashlib.sha256()
    n = 0
    want = int(size)
    while True:
        m = s.recv_into(buf)
        if not m:
            break
        h.update(mv[:m])
        n += m
        if n > want + 1000000:
            break
    _result(n, h, t0)
    s.close()
    linger(nic, 5000)


def role_upload(nic, host, port, size, rx, tx):
    s = _connect(nic, host, port, rx, tx)
    t0 = ticks_ms()
    block = pattern_block()
    mv = memoryview(block)
    h = hashlib.sha256()
    left = int(size)
    while left > 0:
        k = left if left < BLOCK else BLOCK
        s.sendall(mv[:k])
        h.update(mv[:k])
        left -= k
    s.close()
    linger(nic, 20000)  # the data still in flight, then the FIN exchange
    _result(int(size), h, t0)


def role_http(nic, port, maxreq, rx, tx):
    import http_server
    n = http_server.serve(nic, port=int(port), max_requests=int(maxreq), rx=rx, tx=tx,
                          log=print)
    print("http served=%d" % n)


def main(argv):
    opts = {"rx": 16384, "tx": 16384, "ip": "192.0.2.2"}
    pos = []
    for a in argv:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            opts[k] = v
        else:
            pos.append(a)
    kind, ifname, role = pos[0], pos[1], pos[2]
    args = pos[3:]
    rx, tx = int(opts["rx"]), int(opts["tx"])
    nic = make_nic(kind, ifname, opts["ip"])
    print("ready %s %s %s" % (sys.implementation.name, kind, role))
    if role == "idle":
        role_idle(nic, *args)
    elif role == "ping":
        role_ping(nic, *args)
    elif role == "udpecho":
        role_udpecho(nic, *args)
    elif role == "download":
        role_download(nic, args[0], args[1], args[2], rx, tx)
    elif role == "upload":
        role_upload(nic, args[0], args[1], args[2], rx, tx)
    elif role == "http":
        role_http(nic, args[0], args[1], rx, tx)
    else:
        raise ValueError("unknown role " + role)
    st = nic.stats()
    print("stats " + " ".join("%s=%d" % (k, st[k]) for k in sorted(st)))
    for ln in nic.netstat():
        print("netstat " + ln)
    for e in nic.arp_table():
        print("arp %s %s %s" % (e[0], e[1], e[2]))


def run(main, as_repr=False):
    """main(sys.argv[1:]); an exception is printed as "error TYPE: MESSAGE" (with
    as_repr, "error " and its repr) with its traceback and ends the process with
    status 1, on both interpreters. For every spinet-side test program."""
    try:
        main(sys.argv[1:])
    except Exception as e:
        if as_repr:
            print("error %r" % (e,))
        else:
            print("error %s: %s" % (type(e).__name__, e))
        if hasattr(sys, "print_exception"):
            sys.print_exception(e)  # type: ignore
        else:
            import traceback
            traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    run(main)
