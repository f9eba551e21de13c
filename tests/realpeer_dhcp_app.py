# The spinet side of the DHCP/DNS real-peer test (tests/cpython/test_dhcp_realpeer.py):
# gets its address from dnsmasq, resolves names dnsmasq serves, connects by name to
# a kernel-side TCP server, forces a renew, and releases the lease on the way out.
# Restricted Python: runs on CPython and on the MicroPython unix port.
#
#   realpeer_dhcp_app.py DRIVER IFNAME HOSTNAME NAME PORT [RENEW_DELAY_S [HOLD_S]]
#
# Prints, in order:
#   "bound addr=A mask=M gw=G dns=D lease=S t1=S t2=S"
#   "resolved name=NAME addr=A"
#   "aresolved name=async.lab.test addr=A ticks=N"  (await spinet.dns.getaddrinfo)
#   "aerror name=nothing.lab.test errno=E"
#   "tcp sent=N"
#   "renewed acks=N lease=S elapsed=S"     (after RENEW_DELAY_S seconds, default 3)
#   "stats name=value ..."                  then keeps the lease HOLD_S seconds (default
#                                           0), releases it and exits 0 (1 with "error ...")

import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import spinet  # noqa: E402
from spinet import socket  # noqa: E402
from spinet.compat import sleep_ms, ticks_diff, ticks_ms  # noqa: E402


def run_until(nic, pred, ms):
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < ms:
        nic.poll()
        if pred():
            return True
        nic.wait(20)
    return pred()


def aresolve(nic):
    """`await spinet.dns.getaddrinfo()` for a name not yet cached while another task
    keeps ticking: prints "aresolved name=... addr=... ticks=N" (N: the other task's
    turns while the query was out) and "aerror name=... errno=N" for a name that does
    not exist."""
    import asyncio
    from spinet import dns
    state = {"ticks": 0, "done": False}

    async def ticker():
        while not state["done"]:
            state["ticks"] += 1
            await asyncio.sleep(0.001)

    async def resolve():
        t = asyncio.create_task(ticker())
        r = await dns.getaddrinfo("async.lab.test", 80)
        state["done"] = True
        await t
        print("aresolved name=async.lab.test addr=%s ticks=%d" % (r[0][-1][0], state["ticks"]))
        try:
            await dns.getaddrinfo("nothing.lab.test", 80)
            print("aerror name=nothing.lab.test errno=0")
        except OSError as e:
            print("aerror name=nothing.lab.test errno=%d" % e.args[0])

    asyncio.run(resolve())


def main(argv):
    kind, ifname, hostname, name, port = argv[0], argv[1], argv[2], argv[3], int(argv[4])
    delay = int(argv[5]) if len(argv) > 5 else 3
    hold = int(argv[6]) if len(argv) > 6 else 0
    if kind == "tap":
        from spinet.drivers.tap import Tap
        drv = Tap(ifname)
    else:
        from spinet.drivers.packet import PacketSocket
        drv = PacketSocket(ifname)
    nic = spinet.Interface(drv, hostname=hostname)
    nic.ipconfig(dhcp4=True)
    nic.active(True)
    if not run_until(nic, lambda: nic.ipconfig("has_dhcp4"), 30000):
        raise OSError("no lease: %s" % (nic.dhcp_info(),))
    a, m = nic.ipconfig("addr4")
    info = nic.dhcp_info()
    print("bound addr=%s mask=%s gw=%s dns=%s lease=%d t1=%d t2=%d"
          % (a, m, nic.ipconfig("gw4"), nic.ifconfig()[3], info[3], info[4], info[5]))
    ai = socket.getaddrinfo(name, port)[0]
    print("resolved name=%s addr=%s" % (name, ai[-1][0]))
    aresolve(nic)
    s = socket.socket(ai[0], ai[1], ai[2])
    s.settimeout(10)
    s.connect(ai[-1])
    msg = ("hello from %s\n" % hostname).encode()
    s.sendall(msg)
    s.close()
    run_until(nic, lambda: not nic.netstat(), 5000)
    print("tcp sent=%d" % len(msg))
    run_until(nic, lambda: False, delay * 1000)
    acks = nic.stats()["dhcp_ack"]
    if not nic.dhcp_renew():
        raise OSError("dhcp_renew refused in state %s" % nic.dhcp_info()[0])
    if not run_until(nic, lambda: nic.stats()["dhcp_ack"] > acks and
                     nic.ipconfig("has_dhcp4"), 10000):
        raise OSError("renew not ACKed: %s" % (nic.dhcp_info(),))
    info = nic.dhcp_info()
    print("renewed acks=%d lease=%d elapsed=%d" % (nic.stats()["dhcp_ack"], info[3], info[6]))
    st = nic.stats()
    print("stats " + " ".join("%s=%d" % (k, st[k]) for k in sorted(st)))
    run_until(nic, lambda: False, hold * 1000)
    nic.active(False)  # RELEASE
    sleep_ms(300)  # the RELEASE is on the wire before the driver goes away


if __name__ == "__main__":
    from realpeer_app import run

    run(main)
