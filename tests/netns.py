# Real-peer lab (CPython, root): a network namespace with the Linux kernel's TCP/IP on
# one side and a spinet program on the other, for the real-peer tests and benchmarks.
#
#   with Lab(kind="packet") as lab:          # or kind="tap"
#       srv = lab.popen([sys.executable, "-u", "peer.py"])   # kernel side, 192.0.2.1
#       p = lab.run_spinet("micropython", "tests/realpeer_app.py", ["packet", "s0", ...])
#       rc, out, err = p.wait()
#
# Topology (everything inside one freshly created namespace, addresses 192.0.2.0/24):
#
#   kind="packet":  k0 (kernel, 192.0.2.1/24) <-veth-> s0 (spinet over AF_PACKET)
#   kind="tap":     spt0 (kernel, 192.0.2.1/24) = TAP, spinet holds /dev/net/tun
#   relay=dict(...): k0 (kernel, 192.0.2.1/24) <-veth-> r0 ==relay== r1 <-veth-> s0
#                    (packet), or k0 <-veth-> r0 ==relay== spt0 (tap, no address on
#                    the TAP); the relay (tests/fault_relay.py) applies seeded faults.
#
# Checksum offload is switched off on every device (a veth otherwise hands over
# TCP/UDP with unfinished checksums); IPv6 is off in the namespace (no stray router
# solicitations in captures). Teardown kills only the processes this Lab started
# (by PID), then anything left inside its own namespace, then deletes the links and
# the namespace, also after an exception or a timeout.
#
# Without root (or without `ip`) the lab cannot be built: tests skip with the reason,
# except under CI=true, where that is a failure (see require()).

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")
KERNEL_IP = "192.0.2.1"
SPINET_IP = "192.0.2.2"
NETMASK = "255.255.255.0"
TAP_IF = "spt0"

_seq = itertools.count(1)


class LabError(Exception):
    pass


def problem(kind="packet", interp=None):
    """Why a lab of this kind cannot run here (a str), or None if it can."""
    if os.geteuid() != 0:
        return "real-peer tests need root (network namespaces, veth, TAP, AF_PACKET)"
    for tool in ("ip", "ethtool"):
        if shutil.which(tool) is None:
            return "%s not installed (apt-get install iproute2 ethtool)" % tool
    if kind == "tap" and not os.path.exists("/dev/net/tun"):
        return "/dev/net/tun missing (no TUN/TAP support)"
    if interp == "micropython" and not os.access(MICROPYTHON, os.X_OK):
        return "MicroPython unix port not found at %s (make venv)" % MICROPYTHON
    return None


def require(kind="packet", interp=None, tools=()):
    """Skip the calling test when the lab cannot run here; fail instead under CI=true."""
    import pytest

    why = problem(kind, interp)
    if why is None:
        for t in tools:
            if shutil.which(t) is None:
                why = "%s not installed (see .ci/run)" % t
                break
    if why is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("real-peer lab unavailable and CI=true forbids skipping: " + why)
    pytest.skip(why)


def _run(cmd, timeout=20, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                       check=False)
    if check and r.returncode != 0:
        raise LabError("%s -> %d: %s" % (" ".join(cmd), r.returncode,
                                         r.stderr.decode(errors="replace").strip()))
    return r


class Proc:
    """A process started inside the lab: stdout/stderr collected by threads, lines
    available while it runs, a deadline for wait()."""

    def __init__(self, lab, name, argv, timeout, stdin=None):
        self.lab = lab
        self.name = name
        self.argv = argv
        self.timeout = timeout
        self.started = time.monotonic()
        self.p = subprocess.Popen(argv, stdin=stdin or subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.p.pid
        self._out = []
        self._err = []
        self._cv = threading.Condition()
        self._threads = [threading.Thread(target=self._pump, args=(self.p.stdout, self._out),
                                          daemon=True),
                         threading.Thread(target=self._pump, args=(self.p.stderr, self._err),
                                          daemon=True)]
        for t in self._threads:
            t.start()

    def _pump(self, f, into):
        for raw in iter(f.readline, b""):
            with self._cv:
                into.append(raw.decode(errors="replace").rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    @property
    def out(self):
        with self._cv:
            return "\n".join(self._out)

    @property
    def err(self):
        with self._cv:
            return "\n".join(self._err)

    def expect(self, pattern, timeout=10, stream="out"):
        """Wait until a line of stdout (or stderr) matches the regex; the match."""
        rx = re.compile(pattern)
        lines = self._out if stream == "out" else self._err
        end = time.monotonic() + timeout
        i = 0
        with self._cv:
            while True:
                while i < len(lines):
                    m = rx.search(lines[i])
                    i += 1
                    if m:
                        return m
                if self.p.poll() is not None and all(not t.is_alive() for t in self._threads):
                    raise LabError("%s exited (%s) before printing %r\nstdout:\n%s\nstderr:\n%s"
                                   % (self.name, self.p.returncode, pattern,
                                      "\n".join(self._out), "\n".join(self._err)))
                left = end - time.monotonic()
                if left <= 0:
                    raise LabError("%s: no %r within %ss\nstdout:\n%s\nstderr:\n%s"
                                   % (self.name, pattern, timeout, "\n".join(self._out),
                                      "\n".join(self._err)))
                self._cv.wait(min(left, 0.2))

    def wait(self, timeout=None):
        """Wait for exit within the deadline given at start (or timeout); returns
        (returncode, stdout, stderr). On expiry the process is killed and LabError
        raised with what it printed."""
        if timeout is None:
            timeout = max(0.1, self.timeout - (time.monotonic() - self.started))
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise LabError("%s timed out after %.0fs\nstdout:\n%s\nstderr:\n%s"
                           % (self.name, time.monotonic() - self.started, self.out, self.err))
        for t in self._threads:
            t.join(5)
        return self.p.returncode, self.out, self.err

    def stop(self, sig=signal.SIGTERM, grace=5):
        """Signal the process (if still running) and reap it; returns its returncode."""
        if self.p.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        for t in self._threads:
            t.join(5)
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def running(self):
        return self.p.poll() is None


class Lab:
    def __init__(self, kind="packet", relay=None, dnsmasq=False, capture=None, name=None,
                 tap_if=TAP_IF):
        if kind not in ("packet", "tap"):
            raise ValueError("kind is 'packet' or 'tap'")
        self.kind = kind
        self.tap_if = tap_if  # the TAP's name (PyTCP, in the benchmarks, wants "tap*")
        self.relay_opts = relay
        self.want_dnsmasq = dnsmasq
        self.capture_file = capture
        self.ns = name or "spinet-%d-%d" % (os.getpid(), next(_seq))
        self.procs = []  # every Proc started, for teardown
        self.relay = None
        self.relay_counters = None
        self.dnsmasq = None
        self.tcpdump = None
        self.tmp = None
        self.kernel_if = "k0" if (kind == "packet" or relay is not None) else tap_if
        self.spinet_if = "s0" if kind == "packet" else tap_if
        self._created = False

    # --- helpers ---------------------------------------------------------------------

    def ns_argv(self, argv):
        return ["ip", "netns", "exec", self.ns] + list(argv)

    def sh(self, cmd, timeout=20, check=True):
        """Run a shell command inside the namespace (kernel side); CompletedProcess
        with decoded stdout/stderr."""
        r = _run(self.ns_argv(["sh", "-c", cmd]), timeout=timeout, check=False)
        out = r.stdout.decode(errors="replace")
        err = r.stderr.decode(errors="replace")
        if check and r.returncode != 0:
            raise LabError("[%s] %s -> %d\n%s%s" % (self.ns, cmd, r.returncode, out, err))
        return subprocess.CompletedProcess(cmd, r.returncode, out, err)

    def popen(self, argv, name=None, timeout=120, stdin=None):
        """Start a kernel-side program inside the namespace (tracked, killed at
        teardown)."""
        p = Proc(self, name or os.path.basename(argv[0]), self.ns_argv(argv), timeout, stdin)
        self.procs.append(p)
        return p

    def run_spinet(self, interp, script, args=(), timeout=60, heap="8M"):
        """Start a spinet program inside the namespace under "cpython" (this
        interpreter) or "micropython" (the unix port). Returns a Proc; call .wait()."""
        script = os.path.join(ROOT, script) if not os.path.isabs(script) else script
        if interp == "cpython":
            argv = [sys.executable, "-u", script]
        elif interp == "micropython":
            argv = [MICROPYTHON, "-X", "heapsize=" + heap, script]
        else:
            raise ValueError("interp is 'cpython' or 'micropython'")
        return self.popen(argv + [str(a) for a in args],
                          name="spinet/%s %s" % (interp, " ".join(str(a) for a in args[:3])),
                          timeout=timeout)

    def spinet_args(self):
        """Driver arguments for tests/realpeer_app.py: kind, interface name."""
        return [self.kind, self.spinet_if]

    # --- set-up -----------------------------------------------------------------------

    def __enter__(self):
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _offloads_off(self, dev):
        # Not every feature exists on every device: set them one by one, ignore refusals.
        for feat in ("tx", "rx", "tso", "gso", "gro", "lro", "sg"):
            self.sh("ethtool -K %s %s off" % (dev, feat), check=False)

    def _setup(self):
        why = problem(self.kind)
        if why:
            raise LabError(why)
        _run(["ip", "netns", "add", self.ns])
        self._created = True
        self.sh("ip link set lo up; "
                "sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        kif = self.kernel_if
        if self.kind == "tap":
            self.sh("ip tuntap add dev %s mode tap" % self.tap_if)
        if self.kind == "packet" or self.relay_opts is not None:
            if self.relay_opts is None:
                self.sh("ip link add k0 type veth peer name s0")
            else:
                self.sh("ip link add k0 type veth peer name r0")
                if self.kind == "packet":
                    self.sh("ip link add r1 type veth peer name s0")
        self.sh("ip addr add %s/24 dev %s" % (KERNEL_IP, kif))
        for dev in self._devices():
            self._offloads_off(dev)
            if dev != kif:
                # Only the kernel's own port speaks for 192.0.2.1. Linux answers ARP
                # for any local address on any interface (weak host model): without
                # this, r1 (or a relayed TAP) would answer spinet's ARP request with
                # its own MAC, and spinet's frames would reach the kernel's TCP/IP
                # directly, around the fault relay.
                self.sh("sysctl -qw net.ipv4.conf.%s.arp_ignore=8" % dev)
            self.sh("ip link set %s up" % dev)
        if self.relay_opts is not None:
            for dev in self._relay_ports():
                self.sh("ip link set %s promisc on" % dev)
        self.tmp = tempfile.mkdtemp(prefix=self.ns + "-")
        if self.capture_file:
            self._start_capture()
        if self.relay_opts is not None:
            self._start_relay()
        if self.want_dnsmasq:
            self._start_dnsmasq()

    def _devices(self):
        devs = [self.kernel_if]
        if self.relay_opts is not None:
            devs += ["r0"]
            devs += ["r1", "s0"] if self.kind == "packet" else [self.tap_if]
        elif self.kind == "packet":
            devs += ["s0"]
        return devs

    def _relay_ports(self):
        return ("r0", "r1") if self.kind == "packet" else ("r0", self.tap_if)

    def _start_capture(self):
        if shutil.which("tcpdump") is None:
            raise LabError("tcpdump not installed")
        # -U: write each packet at once, so stopping with SIGTERM loses nothing.
        # -B: a 64 MB kernel buffer, so a 15 MB/s transfer loses no frame to the
        # capture. --immediate-mode: hand over each frame at once; by default libpcap
        # holds frames in its ring for up to a second, and they are lost if the TAP
        # goes down (when spinet closes it) before that.
        self.tcpdump = self.popen(["tcpdump", "-i", self.kernel_if, "-s", "0", "-U", "-n",
                                   "--immediate-mode", "-B", "65536",
                                   "-w", str(self.capture_file)],
                                  name="tcpdump", timeout=3600)
        self.tcpdump.expect("listening on", timeout=10, stream="err")

    def _start_relay(self):
        a, b = self._relay_ports()
        o = dict(self.relay_opts)
        argv = [sys.executable, "-u", os.path.join(ROOT, "tests", "fault_relay.py"), a, b]
        for k in ("seed", "loss", "dup", "reorder", "corrupt", "delay_ms"):
            if k in o:
                argv += ["--" + k.replace("_", "-"), str(o.pop(k))]
        if o:
            raise ValueError("unknown relay options: %s" % sorted(o))
        self.relay = self.popen(argv, name="fault_relay", timeout=3600)
        self.relay.expect("^relay ready", timeout=10)

    def stop_capture(self):
        """Stop tcpdump (SIGTERM: it flushes and closes the file) and return what it
        said of drops; a capture that lost frames would judge nothing, so raise."""
        if self.tcpdump is None:
            return
        self.tcpdump.stop(signal.SIGTERM)
        err = self.tcpdump.err
        self.tcpdump = None
        m = re.search(r"(\d+) packets dropped by kernel", err)
        if m is None or int(m.group(1)) != 0:
            raise LabError("tcpdump dropped frames or did not report:\n" + err)

    def mac_of(self, dev):
        """The MAC address of a device in the namespace, as "aa:bb:..."."""
        return self.sh("cat /sys/class/net/%s/address" % dev).stdout.strip()

    def stop_relay(self):
        """Stop the relay (SIGTERM) and return its counters: {direction: {name: n}}."""
        if self.relay is None:
            return self.relay_counters
        self.relay.stop(signal.SIGTERM)
        counters = {}
        for line in self.relay.out.splitlines():
            if line.startswith("relay counters "):
                parts = line.split()
                counters[parts[2]] = dict((k, int(v)) for k, v in
                                          (p.split("=") for p in parts[3:]))
        self.relay_counters = counters
        self.relay = None
        return counters

    def _start_dnsmasq(self):
        exe = shutil.which("dnsmasq")
        if exe is None:
            raise LabError("dnsmasq not installed (apt-get install dnsmasq-base)")
        self.dnsmasq_leases = os.path.join(self.tmp, "dnsmasq.leases")
        argv = [exe, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
                "--no-hosts", "--no-poll", "--pid-file=", "--user=root", "--group=root",
                "--log-facility=-", "--log-dhcp",
                "--interface=" + self.kernel_if, "--bind-interfaces",
                "--listen-address=" + KERNEL_IP, "--except-interface=lo",
                "--dhcp-range=192.0.2.100,192.0.2.199,255.255.255.0,10m",
                "--dhcp-leasefile=" + self.dnsmasq_leases, "--dhcp-authoritative",
                "--dhcp-option=option:router," + KERNEL_IP,
                "--dhcp-option=option:dns-server," + KERNEL_IP,
                "--domain=spinet.test", "--address=/spinet.test/" + KERNEL_IP]
        if isinstance(self.want_dnsmasq, (list, tuple)):
            argv += list(self.want_dnsmasq)  # dnsmasq=[extra options]: host records etc.
        self.dnsmasq = self.popen(argv, name="dnsmasq", timeout=3600)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if not self.dnsmasq.running():
                raise LabError("dnsmasq exited: %s" % self.dnsmasq.err)
            r = self.sh("ss -Hlnu '( sport = :53 or sport = :67 )'", check=False)
            if len(r.stdout.strip().splitlines()) >= 2:  # DNS on 192.0.2.1, DHCP
                return
            time.sleep(0.05)
        raise LabError("dnsmasq did not start listening: %s" % self.dnsmasq.err)

    # --- teardown -----------------------------------------------------------------------

    def close(self):
        errors = []
        try:
            if self.relay is not None:
                self.stop_relay()
        except Exception as e:  # keep tearing down
            errors.append("relay: %s" % e)
        # Our own processes, newest first (spinet and servers before tcpdump).
        for p in reversed(self.procs):
            try:
                p.stop(signal.SIGTERM, grace=3)
            except Exception as e:
                errors.append("%s: %s" % (p.name, e))
        if self._created:
            # Anything still inside our namespace was started by us (it is new and
            # private): end it by PID, then remove links and the namespace.
            try:
                r = _run(["ip", "netns", "pids", self.ns], check=False)
                for tok in r.stdout.split():
                    try:
                        os.kill(int(tok), signal.SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
            except Exception as e:
                errors.append("pids: %s" % e)
            for dev in ("k0", "r1", self.tap_if):
                _run(self.ns_argv(["ip", "link", "del", dev]), check=False)
            r = _run(["ip", "netns", "del", self.ns], check=False)
            if r.returncode != 0:
                errors.append("netns del: %s" % r.stderr.decode(errors="replace"))
            self._created = False
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        if errors:
            sys.stderr.write("netns.Lab teardown: %s\n" % "; ".join(errors))


def kernel_snmp(lab):
    """The namespace's /proc/net/snmp as {"Tcp": {"InCsumErrors": n, ...}, ...}."""
    text = lab.sh("cat /proc/net/snmp").stdout
    out = {}
    lines = text.splitlines()
    for i in range(0, len(lines) - 1, 2):
        k1, *names = lines[i].split()
        k2, *vals = lines[i + 1].split()
        out[k1.rstrip(":")] = dict(zip(names, (int(v) for v in vals)))
    return out


if __name__ == "__main__":  # a manual smoke test: build, show, tear down
    for kind in ("packet", "tap"):
        with Lab(kind=kind, relay=dict(seed=1) if "--relay" in sys.argv else None,
                 dnsmasq="--dnsmasq" in sys.argv) as lab:
            print(lab.ns, kind)
            print(lab.sh("ip -br addr; ip -br link").stdout)
            print(lab.sh("ping -c 1 -W 1 %s || true" % KERNEL_IP).stdout)
