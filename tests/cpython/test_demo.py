# `make demo` is the project's main job: a virtual board with an emulated W5500 is
# deployed to, connect-tested, booted into its firmware, and serves its status page
# through the host-side peer. These run it the way the Makefile does and check what
# it printed, on the simulated link and (root) against the Linux kernel.
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _demo(*args, timeout=400):
    r = subprocess.run([sys.executable, "-m", "host_tools", "demo"] + list(args), cwd=ROOT,
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def _check(out, gateway, dns):
    steps = re.findall(r"^\[(\d)/5\]", out, re.M)
    assert steps == ["1", "2", "3", "4", "5"], out
    assert re.search(r"^  \| total +\d+ +\d+", out, re.M), out  # deploy's .mpy sizes
    assert "connect-test: PASSED" in out, out
    assert "net: 192.0.2.2/24 gw %s dns %s via dhcp" % (gateway, dns) in out, out
    page = out.split("[5/5]")[1]
    assert "  | spinet http_server" in page, out
    assert "  | ifconfig 192.0.2.2 255.255.255.0 %s %s" % (gateway, dns) in page, out
    assert re.search(r"  \| \d+ tcp ESTABLISHED 192\.0\.2\.2:80 ", page), out
    assert "demo passed" in out, out


@pytest.mark.parametrize("board", ["sim_w5500", "sim_enc28j60"])
def test_demo_on_the_simulated_link(board):
    rc, out = _demo("--board", board)
    assert rc == 0, out
    _check(out, "192.0.2.1", "192.0.2.53")


def test_demo_against_the_kernel_over_tap():
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("demo --link tap needs root, and CI=true forbids skipping")
        pytest.skip("demo --link tap needs root (namespace, TAP)")
    rc, out = _demo("--link", "tap")
    assert rc == 0, out
    _check(out, "192.0.2.1", "192.0.2.1")
    assert "namespace spinet-demo-" in out
    ns = re.search(r"namespace (spinet-demo-\d+)", out).group(1)
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert ns not in left, "the demo left its namespace behind"
