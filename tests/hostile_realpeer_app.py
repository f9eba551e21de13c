# The spinet side of tests/cpython/test_hostile_realpeer.py: a TCP echo server for
# one connection while a scapy attacker in the namespace injects segments and ARP.
# Restricted Python: runs on CPython and on the MicroPython unix port.
#
#   hostile_realpeer_app.py DRIVER IFNAME PORT SECONDS
#
# Prints "ready", then "echoed bytes=N" and "end reason=..." when the connection
# ends (reset, closed or time up), the counters as "stats name=value ...", and
# "arp IP MAC STATE" per ARP entry.
import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT + "/tests", _ROOT):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from realpeer_app import make_nic  # noqa: E402
from spinet import socket  # noqa: E402
from spinet.compat import ticks_diff, ticks_ms  # noqa: E402


def main(argv):
    kind, ifname, port, secs = argv[0], argv[1], int(argv[2]), int(argv[3])
    nic = make_nic(kind, ifname, "192.0.2.2")
    ls = nic.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("", port))
    ls.listen(1)
    print("ready")
    t0 = ticks_ms()
    ls.settimeout(secs)
    c, addr = ls.accept()
    c.settimeout(0.05)
    n = 0
    reason = "time"
    while ticks_diff(ticks_ms(), t0) < secs * 1000:
        try:
            d = c.recv(1024)
        except OSError as e:
            if e.args[0] == 110 or e.args[0] == 11:  # ETIMEDOUT / EAGAIN: nothing yet
                continue
            reason = "errno%d" % e.args[0]
            break
        if not d:
            reason = "closed"
            break
        c.sendall(d)
        n += len(d)
    print("echoed bytes=%d" % n)
    print("end reason=%s" % reason)
    c.close()
    ls.close()
    st = nic.stats()
    print("stats " + " ".join("%s=%d" % (k, st[k]) for k in sorted(st)))
    for e in nic.arp_table():
        print("arp %s %s %s" % (e[0], e[1], e[2]))


main(sys.argv[1:])
