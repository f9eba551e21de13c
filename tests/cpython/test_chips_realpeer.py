# The real-peer ring over the emulated chips (CPython, root): the real W5500 and
# ENC28J60 drivers on the fake SPI bus, the chip models' wire side on the namespace's
# TAP (spinet on CPython) or veth via AF_PACKET (spinet on the MicroPython unix port),
# and the Linux kernel's own TCP/IP on the other side. From the kernel side, `ping`
# (small and full-size, payload pattern checked) and `curl` against
# firmware/examples/http_server.py must succeed.
#
# Without root the tests skip with the reason; under CI=true they fail instead.
import hashlib

import pytest

import netns

SPINET = netns.SPINET_IP
APP = "tests/realpeer_app.py"

CASES = [pytest.param(i, k, c, id="%s-%s-%s" % (i, k, c))
         for c in ("w5500", "enc28j60")
         for i, k in (("cpython", "tap"), ("micropython", "packet"))]


def _pattern_sha(n):
    return hashlib.sha256(bytes(i % 251 for i in range(n))).hexdigest()


@pytest.mark.parametrize("interp,kind,chip", CASES)
def test_ping_and_curl_over_emulated_chip(interp, kind, chip):
    netns.require(kind, interp, tools=("ping", "curl"))
    with netns.Lab(kind=kind) as lab:
        args = [kind + "+" + chip, lab.spinet_if, "http", 80, 2]
        p = lab.run_spinet(interp, APP, args, timeout=180)
        p.expect("^ready", timeout=30)
        r = lab.sh("ping -n -c 20 -i 0.05 -W 2 %s" % SPINET, timeout=60, check=False)
        assert "20 packets transmitted, 20 received" in r.stdout, r.stdout + r.stderr
        r = lab.sh("ping -n -c 5 -i 0.1 -W 2 -s 1472 -p 5a3c %s" % SPINET, timeout=60,
                   check=False)
        assert "5 packets transmitted, 5 received" in r.stdout, r.stdout + r.stderr
        assert "wrong data" not in r.stdout and "corrupted" not in r.stdout, r.stdout
        page = lab.sh("curl -sS --max-time 60 -i http://%s/" % SPINET, timeout=90).stdout
        n = 300000
        r = lab.sh("curl -sS --max-time 120 http://%s/bytes/%d | sha256sum" % (SPINET, n),
                   timeout=150, check=False)
        rc, out, err = p.wait()
        assert rc == 0, out + err
    assert page.startswith("HTTP/1.1 200 OK"), page
    assert r.stdout.split()[0] == _pattern_sha(n), r.stdout + r.stderr
    assert "http served=2" in out, out
