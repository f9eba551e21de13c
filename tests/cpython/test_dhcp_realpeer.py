# The real-peer ring for DHCP and DNS (CPython, root): spinet gets its address from
# dnsmasq inside a network namespace (tests/netns.py), resolves names dnsmasq serves
# (a --host-record and a --cname to it), connects by name to a kernel-side TCP server,
# and renews its lease with nic.dhcp_renew(). dnsmasq runs with its own empty config
# and a lease file in the lab's temporary folder, and is stopped by PID at teardown.
# Every case runs twice: spinet on CPython over a TAP, and on the MicroPython unix
# port over AF_PACKET on a veth.
#
# Lease expiry and rebinding are tested in the simulation (tests/test_dhcp.py):
# dnsmasq's shortest lease is 2 minutes.
#
# Without root the tests skip with the reason; under CI=true they fail instead.
import os
import re
import time

import pytest

import netns

KERNEL = netns.KERNEL_IP
APP = "tests/realpeer_dhcp_app.py"
PEER = "tests/realpeer_peer.py"
HOSTNAME = "spinet-board"
RINGS = [pytest.param("cpython", "tap", id="cpython-tap"),
         pytest.param("micropython", "packet", id="micropython-packet")]
DNSMASQ = ["--host-record=kernel.lab.test," + KERNEL,
           "--host-record=async.lab.test," + KERNEL,  # asked for only by the async lookup
           "--cname=www.lab.test,kernel.lab.test",
           "--dhcp-option=option:dns-server," + KERNEL,
           "--local=/lab.test/"]  # lab.test is dnsmasq's own: unknown names are NXDOMAIN


def kv(line):
    return dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)


def leases(lab):
    """dnsmasq's lease file: [(expiry epoch s, mac, ip, hostname)]."""
    try:
        with open(lab.dnsmasq_leases) as f:
            text = f.read()
    except FileNotFoundError:
        return []
    out = []
    for ln in text.splitlines():
        p = ln.split()
        if len(p) >= 4:
            out.append((int(p[0]), p[1], p[2], p[3]))
    return out


def wait_lease(lab, pred, timeout=5):
    end = time.monotonic() + timeout
    while True:
        ls = leases(lab)
        if pred(ls) or time.monotonic() > end:
            return ls
        time.sleep(0.05)


@pytest.mark.parametrize("interp,kind", RINGS)
def test_dnsmasq_lease_dns_tcp_by_name_and_renew(interp, kind):
    netns.require(kind, interp, tools=("dnsmasq",))
    with netns.Lab(kind=kind, dnsmasq=DNSMASQ) as lab:
        assert lab.dnsmasq_leases.startswith(lab.tmp) and os.path.isdir(lab.tmp)
        sink = lab.popen(["python3", "-u", os.path.join(netns.ROOT, PEER), "sink", "7010"],
                         name="sink", timeout=120)
        sink.expect("^listening", timeout=10)
        p = lab.run_spinet(interp, APP, lab.spinet_args() +
                           [HOSTNAME, "www.lab.test", 7010, 3], timeout=90)
        m = p.expect(r"^bound ", timeout=40)
        b = kv(m.string)
        assert re.match(r"192\.0\.2\.1\d\d$", b["addr"]), b  # dnsmasq's range
        assert b["mask"] == "255.255.255.0" and b["gw"] == KERNEL and b["dns"] == KERNEL, b
        assert b["lease"] == "600" and b["t1"] == "300" and b["t2"] == "525", b
        # The lease, with spinet's hostname, is in dnsmasq's lease file.
        ls = wait_lease(lab, lambda ls: any(x[3] == HOSTNAME for x in ls))
        mine = [x for x in ls if x[3] == HOSTNAME]
        assert len(mine) == 1 and mine[0][2] == b["addr"], ls
        expiry0 = mine[0][0]
        # the lease is for spinet's MAC (the veth's, for AF_PACKET)
        mac = lab.mac_of(lab.spinet_if) if kind == "packet" else None
        rc, out, err = p.wait()
        assert rc == 0, "spinet failed\nstdout:\n%s\nstderr:\n%s\ndnsmasq:\n%s" % (
            out, err, lab.dnsmasq.err)
        r = kv([ln for ln in out.splitlines() if ln.startswith("resolved ")][0])
        assert r["addr"] == KERNEL, out
        # The non-blocking resolver against dnsmasq: the answer and NXDOMAIN as
        # OSError(-2), as the blocking one gives them. (That other tasks run while the
        # query is out is tests/test_dns_async.py's, on virtual time: dnsmasq can answer
        # before the first yield.)
        r = kv([ln for ln in out.splitlines() if ln.startswith("aresolved ")][0])
        assert r["addr"] == KERNEL, out
        assert "aerror name=nothing.lab.test errno=-2" in out, out
        # The kernel's TCP server got the bytes, from spinet's leased address.
        rc, pout, perr = sink.wait(timeout=10)
        assert rc == 0 and "sink bytes=%d" % len("hello from %s\n" % HOSTNAME) in pout, \
            pout + perr
        # The forced renew was ACKed and moved the lease's expiry.
        rn = kv([ln for ln in out.splitlines() if ln.startswith("renewed ")][0])
        assert int(rn["acks"]) == 2 and int(rn["elapsed"]) <= 1, out
        st = kv([ln for ln in out.splitlines() if ln.startswith("stats ")][0])
        assert st["dhcp_renew"] == "1" and st["dhcp_nak"] == "0" and st["dns_cname"] == "1"
        assert st["dhcp_bad_xid"] == "0" and st["dns_bad_id"] == "0", st
        log = lab.dnsmasq.err + lab.dnsmasq.out
        assert re.search(r"DHCPACK\(\S+\) %s \S+ %s" % (re.escape(b["addr"]), HOSTNAME), log), log
        acks = re.findall(r"DHCPACK\(\S+\) %s" % re.escape(b["addr"]), log)
        assert len(acks) >= 2, log
        # RELEASE at active(False): dnsmasq dropped the lease.
        ls = wait_lease(lab, lambda ls: not any(x[3] == HOSTNAME for x in ls), timeout=5)
        released = not any(x[3] == HOSTNAME for x in ls)
        assert released, ls
        assert re.search(r"DHCPRELEASE\(\S+\) %s" % re.escape(b["addr"]), log), log
        if mac:
            assert mac in log.lower(), log
        assert expiry0 > time.time()  # the lease's expiry was in the future


@pytest.mark.parametrize("interp,kind", RINGS)
def test_renew_moves_the_lease_file_expiry(interp, kind):
    """Read the lease file between the ACK of the first REQUEST and the ACK of the
    forced renew: the expiry must move forward by about the renew delay."""
    netns.require(kind, interp, tools=("dnsmasq",))
    with netns.Lab(kind=kind, dnsmasq=DNSMASQ) as lab:
        sink = lab.popen(["python3", "-u", os.path.join(netns.ROOT, PEER), "sink", "7010"],
                         name="sink", timeout=120)
        sink.expect("^listening", timeout=10)
        p = lab.run_spinet(interp, APP, lab.spinet_args() +
                           [HOSTNAME, "kernel.lab.test", 7010, 4, 5], timeout=90)
        p.expect(r"^bound ", timeout=40)
        ls = wait_lease(lab, lambda ls: any(x[3] == HOSTNAME for x in ls))
        before = [x[0] for x in ls if x[3] == HOSTNAME][0]
        m = p.expect(r"^renewed ", timeout=30)
        assert m
        # (spinet holds the lease 5 s before its RELEASE; dnsmasq rewrites the file in
        # place, so a read may catch it empty: poll briefly.)
        ls = wait_lease(lab, lambda ls: any(x[3] == HOSTNAME and x[0] >= before + 3
                                            for x in ls))
        after = [x[0] for x in ls if x[3] == HOSTNAME]
        assert after and after[0] >= before + 3, (before, after)
        rc, out, err = p.wait()
        assert rc == 0, out + err
        sink.wait(timeout=10)
