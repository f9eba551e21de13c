# Regenerates the seed corpus for tests/cpython/test_dhcp_dns_fuzz.py from the
# simulation servers (boards/sim/dhcpd.py, dnsd.py): every distinct reply they send
# to a spinet client across a few runs, one hex line per file. Run from the root:
#   .venv/bin/python tests/corpus/make_corpus.py
import sys, binascii
sys.path[:0] = ["tests", ".", "lib"]
from boards.sim.clock import VirtualClock
from boards.sim.segment import Segment
from boards.sim.dhcpd import DhcpServer
from boards.sim.dnsd import DnsServer
import spinet, support
from spinet import socket

class Tap:
    def __init__(s): s.dhcp = []; s.dns = []
    def write(s, f, t):
        d = support.parse(f)
        if d["type"] != 0x800 or d["proto"] != 17: return
        if d["sport"] == 67: s.dhcp.append(bytes(d["data"]))
        if d["sport"] in (53, 5353): s.dns.append(bytes(d["data"]))
tap = Tap()
def run(setup_dhcp=None, setup_dns=None, names=("www.example.test",)):
    clock = VirtualClock(); seg = Segment(clock); seg.tap(tap)
    srv = DhcpServer(seg.port(b"\x02\0\0\0\0\x01"), clock, "192.0.2.1", dns=("192.0.2.53",), t1=100, t2=200, mtu=1400)
    seg.add_host(srv, srv.port)
    if setup_dhcp: setup_dhcp(srv)
    dns = DnsServer(seg.port(b"\x02\0\0\0\0\x53"), clock, "192.0.2.53")
    dns.a["www.example.test"] = ("192.0.2.80", 300); dns.cname["alias.example.test"] = ("mid.example.test", 60); dns.cname["mid.example.test"] = ("www.example.test", 60)
    seg.add_host(dns, dns.port)
    if setup_dns: setup_dns(dns)
    p = seg.port(b"\x02\0\0\0\0\x0a"); nic = spinet.Interface(p, clock=clock.ticks_ms); seg.add_host(nic, p)
    nic.ipconfig(dhcp4=True); nic.active(True)
    seg.run_until(lambda: nic.isconnected(), 20000)
    for n in names:
        try: socket.getaddrinfo(n, 80)
        except OSError: pass
    nic.active(False)
run(names=("www.example.test", "alias.example.test", "nope.example.test"))
run(lambda s: setattr(s, "overload", True), lambda d: setattr(d, "mode", "loop"))
run(lambda s: setattr(s, "extra_opts", b"\x00\x00\xfa\x03abc\x2b\x00"), lambda d: setattr(d, "mode", "truncate"))
run(lambda s: setattr(s, "nak_all", True), lambda d: setattr(d, "chase", False), names=("alias.example.test",))
seen = set()
for kind, lst in (("dhcp", tap.dhcp), ("dns", tap.dns)):
    i = 0
    for b in lst:
        key = (b[:4] + b[8:]) if kind == "dhcp" else b[2:]
        if key in seen: continue
        seen.add(key)
        open("tests/corpus/%s/%02d.hex" % (kind, i), "w").write(binascii.hexlify(b).decode() + "\n")
        i += 1
    print(kind, i)
