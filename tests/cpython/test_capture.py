# `python -m host_tools capture`: a pcap of the virtual board's wire while the board
# (spinet on its flash, an emulated chip on its SPI bus) runs a TCP echo transfer or
# a given script. tshark judges the capture; plot-tcp reads it.
import os
import re
import subprocess
import sys

import pytest

import tshark
from host_tools import pcapread, plot_tcp
from test_vboard import need_tools

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N = 65536


def run(*args, timeout=200):
    r = subprocess.run([sys.executable, "-m", "host_tools"] + [str(a) for a in args],
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def board_port(pcap):
    """The board's ephemeral port of its connection to the echo server."""
    have = plot_tcp.flows(pcapread.tcp_segments(str(pcap)))
    ports = {s.split(":")[1] for s, d in have if s.startswith("192.0.2.2:") and d == "192.0.2.1:7"}
    assert len(ports) == 1, have
    return ports.pop()


def new_payload(pcap, src):
    """Bytes tshark counts as sent by src, leaving out what it calls retransmitted."""
    rows = tshark.fields(pcap, "tcp.len", display_filter="ip.src == %s && tcp.len > 0 && !(%s)"
                         % (src, tshark.RETRANSMISSIONS))
    return sum(int(r[0][0]) for r in rows)


@pytest.mark.parametrize("chip", ["sim_w5500", "sim_enc28j60"])
def test_capture_of_a_clean_transfer(tmp_path, chip):
    need_tools()
    pcap = tmp_path / "wire.pcap"
    rc, out = run("capture", "-o", pcap, "--board", chip, "--bytes", N)
    assert rc == 0, out
    assert "capture: sent %d, echoed %d, intact" % (N, N) in out, out
    m = re.search(r"capture: (\S+), (\d+) frames", out)
    assert m and m.group(1) == str(pcap), out
    assert int(m.group(2)) == len(pcapread.packets(str(pcap))) > N // 1460
    # tshark: one TCP conversation, board to the echo port, N bytes each way, and
    # nothing malformed or with a bad checksum.
    conv = tshark.run(["-r", str(pcap), "-q", "-z", "conv,tcp"])
    port = board_port(pcap)
    rows = [ln for ln in conv.splitlines() if "<->" in ln]
    assert len(rows) == 1 and rows[0].split()[:3] == ["192.0.2.2:%s" % port, "<->",
                                                      "192.0.2.1:7"], conv
    assert new_payload(pcap, "192.0.2.2") == N
    assert new_payload(pcap, "192.0.2.1") == N
    assert tshark.count(pcap, tshark.PROBLEMS) == 0
    assert tshark.count(pcap, "tcp.flags.syn == 1") == 2
    assert tshark.count(pcap, "tcp.flags.fin == 1") == 2


def test_capture_with_loss_shows_retransmissions_in_plot(tmp_path):
    need_tools()
    pcap = tmp_path / "loss.pcap"
    rc, out = run("capture", "-o", pcap, "--bytes", N, "--loss", 0.05, "--seed", 3)
    assert rc == 0, out
    assert "echoed %d, intact" % N in out, out
    board_retx = int(re.search(r"retransmits (\d+)", out).group(1))
    png = tmp_path / "seq.png"
    port = board_port(pcap)
    rc, plot = run("plot-tcp", pcap, "-o", png, "--flow", "192.0.2.2:%s-192.0.2.1:7" % port)
    assert rc == 0, plot
    m = re.search(r"(\d+) bytes \((\d+) sent\), (\d+) retransmissions", plot)
    assert m, plot
    assert int(m.group(1)) == N
    retx = int(m.group(3))
    # The capture is taken at the board's side: every segment it sent is there, so
    # the graph's count is the board's own.
    assert retx > 0 and retx == board_retx, (plot, out)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert tshark.count(pcap, "ip.src == 192.0.2.2 && (%s)" % tshark.RETRANSMISSIONS) == retx


def test_capture_runs_a_given_script(tmp_path):
    need_tools()
    script = tmp_path / "ping.py"
    script.write_text(
        "from board import nic\n"
        "n = nic(ifconfig=('192.0.2.2', '255.255.255.0', '192.0.2.1', '192.0.2.1'))\n"
        "print('rtts', n.ping('192.0.2.1', count=3))\n")
    pcap = tmp_path / "ping.pcap"
    rc, out = run("capture", "-o", pcap, "--run", script)
    assert rc == 0, out
    assert "rtts [" in out and "None" not in out, out
    assert tshark.count(pcap, "icmp.type == 8 && ip.src == 192.0.2.2") == 3
    assert tshark.count(pcap, "icmp.type == 0 && ip.src == 192.0.2.1") == 3
    assert tshark.count(pcap, "tcp") == 0


def test_capture_reports_a_failing_script(tmp_path):
    need_tools()
    script = tmp_path / "bad.py"
    script.write_text("raise ValueError('no such thing')\n")
    rc, out = run("capture", "-o", tmp_path / "x.pcap", "--run", script, timeout=60)
    assert rc == 1 and "error: the board's run failed" in out and "no such thing" in out, out
    rc, out = run("capture", "-o", tmp_path / "x.pcap", "--run", tmp_path / "missing.py")
    assert rc == 2 and "error: no script" in out, out
