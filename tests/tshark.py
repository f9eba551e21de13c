# Wireshark's tshark as an independent judge of captures (CPython, host side): the
# helpers the pcap tests share. Checksum validation is off in tshark by default;
# every call here switches it on for IP, UDP and TCP (ICMP is always checked).
#
# Without tshark a test skips, except under CI=true, where it fails.
import os
import shutil
import subprocess

# Wireshark's checksum status values (epan/proto.h PROTO_CHECKSUM_E_*)
BAD, GOOD, UNVERIFIED, NOT_PRESENT = "0", "1", "2", "3"
# _ws.expert.severity: chat 0x200000 < note 0x400000 < warn 0x600000 < error 0x800000
SEV_NOTE = 0x00400000
SEV_WARN = 0x00600000
CHECK = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
         "-o", "tcp.check_checksum:TRUE"]
# Malformed, a warning or worse, or a bad checksum at any layer.
PROBLEMS = ("_ws.malformed || _ws.expert.severity >= 0x%x || ip.checksum.status == 0 || "
            "udp.checksum.status == 0 || tcp.checksum.status == 0 || "
            "icmp.checksum.status == 0" % SEV_WARN)
# What TCP analysis marks as sent again (any kind).
RETRANSMISSIONS = ("tcp.analysis.retransmission || tcp.analysis.fast_retransmission || "
                   "tcp.analysis.spurious_retransmission")


def path():
    """tshark's path; skips the calling test without it (fails under CI=true)."""
    import pytest

    p = shutil.which("tshark")
    if p is None:
        if os.environ.get("CI") == "true":
            pytest.fail("tshark not installed, and CI=true forbids skipping "
                        "(apt-get install tshark)")
        pytest.skip("tshark not installed (apt-get install tshark)")
    return p


def run(args, timeout=300):
    r = subprocess.run([path()] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout, check=False)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return r.stdout.decode()


def lines(pcap, *args):
    out = run(["-r", str(pcap)] + CHECK + list(args))
    return [ln for ln in out.splitlines() if ln.strip()]


def fields(pcap, *names, display_filter=None):
    """One row per frame: a list per field, of its values (a field may repeat)."""
    args = ["-T", "fields", "-E", "separator=|"]
    if display_filter:
        args += ["-Y", display_filter]
    for n in names:
        args += ["-e", n]
    rows = []
    for ln in lines(pcap, *args):
        rows.append([c.split(",") if c else [] for c in ln.split("|")])
    return rows


def count(pcap, display_filter):
    return len(lines(pcap, "-Y", display_filter))


def expert(pcap):
    """tshark's expert summary (-z expert); empty for a capture without items."""
    return run(["-r", str(pcap), "-q", "-z", "expert"] + CHECK)
