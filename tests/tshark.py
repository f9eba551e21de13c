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
# Wireshark warns when a sender fills the receiver's window or the window reaches
# zero. Against a receiver with a small ring buffer that is flow control working as
# designed (RFC 9293 3.8.6), not a fault, so these two are the only warnings allowed.
FLOW_CONTROL = "tcp.analysis.window_full || tcp.analysis.zero_window"
FLOW_CONTROL_WARNINGS = (
    "TCP window specified by the receiver is now completely full",
    "TCP Zero Window segment",
)
# Malformed, any other warning or worse, or a bad checksum at any layer.
PROBLEMS = ("_ws.malformed || (_ws.expert.severity >= 0x%x && !(%s)) || "
            "ip.checksum.status == 0 || udp.checksum.status == 0 || "
            "tcp.checksum.status == 0 || icmp.checksum.status == 0" % (SEV_WARN, FLOW_CONTROL))
# Linux fills in a checksum left to offload in software (skb_checksum_help), and
# writes 0xFFFF where the result is 0 (CSUM_MANGLED_0) for TCP too. The sum still
# verifies (0xFFFF is the other zero of one's complement), but Wireshark flags it
# (RFC 1624 prefers 0x0000). About one kernel segment in 65536 carries it, so a
# 10 MB transfer often has one. Frames from the kernel with that field are exempt.


def kernel_mangled(kernel_ip):
    return "(ip.src == %s && (tcp.checksum == 0xffff || udp.checksum == 0xffff))" % kernel_ip


def problems(kernel_ip=None):
    """PROBLEMS, less the kernel's 0xFFFF checksums when kernel_ip is given."""
    if kernel_ip is None:
        return PROBLEMS
    return "(%s) && !%s" % (PROBLEMS, kernel_mangled(kernel_ip))
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


def warnings(pcap, kernel_ip=None):
    """The summaries of tshark's expert items of warning severity or worse, except
    the flow-control ones (FLOW_CONTROL_WARNINGS) and, when kernel_ip is given, the
    kernel's 0xFFFF checksums: [(severity, protocol, summary)]."""
    out = []
    sev = None
    stat = "expert,warn"
    if kernel_ip is not None:
        stat += ",!" + kernel_mangled(kernel_ip)
    for ln in run(["-r", str(pcap), "-q", "-z", stat] + CHECK).splitlines():
        head = ln.split(" (")[0].strip()
        if head in ("Errors", "Warns"):
            sev = head
            continue
        if head in ("Notes", "Chats", "Comments"):
            sev = None
            continue
        cols = ln.split(None, 3)
        if sev and len(cols) == 4 and cols[0].isdigit():
            if cols[3].strip() not in FLOW_CONTROL_WARNINGS:
                out.append((sev, cols[2], cols[3].strip()))
    return out
