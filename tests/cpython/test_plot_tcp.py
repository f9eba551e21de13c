# `python -m host_tools plot-tcp`: the time-sequence graph and its summary line, on
# captures spinet makes of itself (two stacks on the simulated segment, pcap tap
# before the faults, so a lost segment is in the capture and so is its
# retransmission). tshark is the independent judge of the retransmission count and
# reads the same file; a tshark-written pcapng must give the same summary.
import os
import re
import subprocess
import sys

import pytest

import support
import tcp_apps
import tshark
from boards.sim.pcap import PcapWriter
from host_tools import pcapread, plot_tcp

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIZE = 300 * 1024
SUMMARY = re.compile(r"^(\S+) -> (\S+): (\d+) segments \((\d+) with data\), (\d+) bytes "
                     r"\((\d+) sent\), (\d+) retransmissions, ([\d.]+) s", re.M)


def sim_capture(path, size, loss, seed=3):
    """A `size`-byte upload 192.0.2.10 -> 192.0.2.11:80 with `loss` on both ports;
    returns what the stacks counted."""
    import random

    random.seed(seed)
    seg, clock, a, b, pa, pb = support.pair(seed=seed)
    if loss:
        pa.faults(loss=loss, delay_ms=2)
        pb.faults(loss=loss, delay_ms=2)
    else:
        pa.faults(delay_ms=2)
        pb.faults(delay_ms=2)
    w = PcapWriter(str(path))
    seg.tap(w)
    data = tcp_apps.pattern(size, seed)
    apps = tcp_apps.Apps()
    seg.add_host(apps)
    srv = apps.add(tcp_apps.Server(b, tcp_apps.PORT, tcp_apps.sink))
    cl = apps.add(tcp_apps.Client(a, (support.IP_B, tcp_apps.PORT), data=data, expect=0))
    assert seg.run_until(lambda: cl.done() and srv.conns and srv.conns[0].done(), 600_000)
    seg.run(3000)
    w.close()
    assert srv.conns[0].got == size and srv.conns[0].digest() == tcp_apps.digest(data)
    return a.stats()


def plot_cmd(pcap, png, *extra):
    r = subprocess.run([sys.executable, "-m", "host_tools", "plot-tcp", str(pcap), "-o",
                        str(png)] + list(extra), cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout + r.stderr


def summary(out):
    m = SUMMARY.search(out)
    assert m, out
    return m


def check_png(png):
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (w, h) == (1100, 650), (w, h)
    # a drawn graph, not a blank canvas: thousands of bars and lines compress worse
    assert 20_000 < len(data) < 5_000_000, len(data)


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    lossy = d / "loss5.pcap"
    clean = d / "clean.pcap"
    return {"lossy": (lossy, sim_capture(lossy, SIZE, 0.05)),
            "clean": (clean, sim_capture(clean, SIZE, 0.0))}


def test_lossy_capture_shows_retransmissions(captures, tmp_path):
    pcap, stats = captures["lossy"]
    png = tmp_path / "seq.png"
    rc, out = plot_cmd(pcap, png)
    assert rc == 0, out
    check_png(png)
    m = summary(out)
    print(out)
    assert m.group(1) == "192.0.2.10:%s" % m.group(1).split(":")[1]
    assert m.group(2) == "192.0.2.11:80"
    assert int(m.group(5)) == SIZE  # every byte once
    retx = int(m.group(7))
    assert retx > 0 and int(m.group(6)) > SIZE
    # the sender's own count of segments it sent again, and tshark's analysis
    assert retx == stats["tcp_retransmit"], (retx, stats)
    want = tshark.count(pcap, "tcp.srcport == %s && (%s)" % (m.group(1).split(":")[1],
                                                             tshark.RETRANSMISSIONS))
    assert retx == want, (retx, want)


def test_clean_capture_has_no_retransmissions(captures, tmp_path):
    pcap, stats = captures["clean"]
    png = tmp_path / "clean.png"
    rc, out = plot_cmd(pcap, png)
    assert rc == 0, out
    check_png(png)
    m = summary(out)
    assert int(m.group(5)) == SIZE and int(m.group(6)) == SIZE
    assert int(m.group(7)) == 0 and stats["tcp_retransmit"] == 0
    assert int(m.group(4)) >= SIZE // 1460


def test_flow_option_and_pcapng(captures, tmp_path):
    pcap, _ = captures["lossy"]
    f = plot_tcp.analyse(pcapread.tcp_segments(str(pcap)))
    # the reverse direction carries only ACKs: chosen by --flow, it has no data
    rc, out = plot_cmd(pcap, tmp_path / "rev.png", "--flow", "%s-%s" % (f.receiver, f.sender))
    assert rc == 0, out
    assert summary(out).group(4) == "0"
    rc, out = plot_cmd(pcap, tmp_path / "x.png", "--flow", "192.0.2.99:1-192.0.2.11:80")
    assert rc == 1 and "error: no flow 192.0.2.99:1-192.0.2.11:80" in out, out
    rc, out = plot_cmd(pcap, tmp_path / "x.png", "--flow", "nonsense")
    assert rc == 1 and "want IP:PORT-IP:PORT" in out, out
    # the same capture rewritten by tshark as pcapng (nanosecond stamps): same summary
    ng = tmp_path / "loss5.pcapng"
    tshark.run(["-r", str(pcap), "-F", "pcapng", "-w", str(ng)])
    assert ng.read_bytes()[:4] == b"\x0a\x0d\x0d\x0a"
    rc, out_ng = plot_cmd(ng, tmp_path / "ng.png")
    rc2, out_pc = plot_cmd(pcap, tmp_path / "pc.png")
    assert rc == 0 and rc2 == 0
    assert summary(out_ng).group(0) == summary(out_pc).group(0)


def test_window_line_uses_negotiated_scale():
    # Hand-made flow: SYNs with window scale 7 (receiver) and 2 (sender); the
    # receiver's later window 100 means 12800 bytes.
    S = pcapread.Segment
    segs = [
        S(0.0, "198.51.100.1", 5000, "198.51.100.2", 80, 1000, 0, 0x02, 64240, 0, 2, 1460),
        S(0.1, "198.51.100.2", 80, "198.51.100.1", 5000, 7000, 1001, 0x12, 65535, 0, 7, 1460),
        S(0.2, "198.51.100.1", 5000, "198.51.100.2", 80, 1001, 7001, 0x10, 500, 1000, None, None),
        S(0.3, "198.51.100.2", 80, "198.51.100.1", 5000, 7001, 2001, 0x10, 100, 0, None, None),
        S(0.4, "198.51.100.1", 5000, "198.51.100.2", 80, 1001, 7001, 0x10, 500, 1000, None, None),
        S(0.5, "198.51.100.1", 5000, "198.51.100.2", 80, 2001, 7001, 0x11, 500, 0, None, None),
    ]
    f = plot_tcp.analyse(segs)
    assert f.wscale == 7
    assert [(round(t, 3), w) for t, w in f.windows] == [(0.1, 1 + 65535), (0.3, 1001 + 12800)]
    assert f.retransmissions == 1 and f.new_bytes == 1000 and f.sent_bytes == 2000
    assert f.syns == [(0.0, 0)] and f.fins == [(0.5, 1001)]
    # sequence numbers that wrap past 2**32 keep counting up
    u = plot_tcp.Unwrap(0xFFFFFF00)
    assert (u(0xFFFFFF00), u(0xFFFFFFFF), u(0x00000100), u(0x000000F0)) == (0, 0xFF, 0x200, 0x1F0)


# --- the reader, on hand-built files of every supported shape ----------------------------

def _tcp_ip(seq, payload=b"ab"):
    seg = support.tcp(support.IP_A, support.IP_B, 1234, 80, seq, 0, support.TCP_ACK,
                      data=payload)
    return support.ipv4(support.IP_A, support.IP_B, 6, seg)


def _classic(order, magic, linktype, frames):
    import struct

    out = struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for sec, sub, f in frames:
        out += struct.pack(order + "IIII", sec, sub, len(f), len(f)) + f
    return out


def test_reader_classic_variants(tmp_path):
    import struct

    ip = _tcp_ip(77)
    eth = support.eth(support.MAC_B, support.MAC_A, 0x0800, ip)
    vlan = eth[:12] + b"\x81\x00\x00\x05" + eth[12:]
    sll = struct.pack(">HHH8sH", 0, 1, 6, support.MAC_A + b"\0\0", 0x0800) + ip
    sll2 = struct.pack(">HHIHBB8s", 0x0800, 0, 2, 1, 0, 6, support.MAC_A + b"\0\0") + ip
    cases = [
        (">", 0xA1B2C3D4, pcapread.LINKTYPE_ETHERNET, eth, 500000, 2.5),  # big-endian usec
        ("<", 0xA1B23C4D, pcapread.LINKTYPE_ETHERNET, vlan, 250000000, 2.25),  # nsec, VLAN
        ("<", 0xA1B2C3D4, pcapread.LINKTYPE_LINUX_SLL, sll, 0, 2.0),
        ("<", 0xA1B2C3D4, pcapread.LINKTYPE_LINUX_SLL2, sll2, 0, 2.0),
        ("<", 0xA1B2C3D4, pcapread.LINKTYPE_RAW, ip, 0, 2.0),
    ]
    for i, (order, magic, lt, frame, sub, t) in enumerate(cases):
        p = tmp_path / ("c%d.pcap" % i)
        p.write_bytes(_classic(order, magic, lt, [(2, sub, frame)]))
        segs = pcapread.tcp_segments(str(p))
        assert len(segs) == 1, i
        s = segs[0]
        assert (s.src, s.sport, s.dst, s.dport, s.seq, s.length) == (
            support.IP_A, 1234, support.IP_B, 80, 77, 2), i
        assert abs(s.t - t) < 1e-9, (i, s.t)
    # a capture cut off inside its last packet keeps the whole ones
    p = tmp_path / "cut.pcap"
    p.write_bytes(_classic("<", 0xA1B2C3D4, 1, [(1, 0, eth), (2, 0, eth)])[:-10])
    assert len(pcapread.packets(str(p))) == 1
    p.write_bytes(b"GIF89a......")
    with pytest.raises(pcapread.PcapError):
        pcapread.packets(str(p))


def test_reader_pcapng_with_tsresol(tmp_path):
    import struct

    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)

    eth = support.eth(support.MAC_B, support.MAC_A, 0x0800, _tcp_ip(5, b"xyz"))
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    # interface 0: microseconds (default); interface 1: if_tsresol 2**-10
    idb0 = block(1, struct.pack("<HHI", 1, 0, 65535))
    idb1 = block(1, struct.pack("<HHI", 1, 0, 65535) + struct.pack("<HHB3x", 9, 1, 0x8A)
                 + struct.pack("<HH", 0, 0))
    epb0 = block(6, struct.pack("<IIIII", 0, 0, 3_000_000, len(eth), len(eth)) + eth)
    epb1 = block(6, struct.pack("<IIIII", 1, 0, 1024 * 7, len(eth), len(eth)) + eth)
    p = tmp_path / "x.pcapng"
    p.write_bytes(shb + idb0 + idb1 + epb0 + epb1)
    segs = pcapread.tcp_segments(str(p))
    assert [(round(s.t, 6), s.seq, s.length) for s in segs] == [(3.0, 5, 3), (7.0, 5, 3)]
