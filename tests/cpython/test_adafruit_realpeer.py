# Adafruit's CircuitPython network clients (issue 9 item 6), unchanged from PyPI, with
# the spinet.socket module as their socket pool, against kernel-side peers in the
# real-peer ring: adafruit_requests to an HTTP/1.1 server (tests/adafruit_http_peer.py:
# a Content-Length body and a chunked one over one kept-alive connection) and
# adafruit_minimqtt to Debian's mosquitto (publish, checked by mosquitto_sub;
# subscribe, fed by mosquitto_pub). spinet runs on CPython over a TAP and on the
# MicroPython unix port over AF_PACKET.
#
# The packages are installed at test time with pip --no-deps into a temp folder,
# pinned by version and sha256 (their declared dependency Adafruit-Blinka is hardware
# glue they do not need here). What the other interpreter lacks comes from test-only
# stubs written next to them: on CPython a `micropython` module (const), on MicroPython
# `typing`, `types` and `circuitpython_typing.socket` (annotation-only imports).
#
# Without root, mosquitto or the packages the tests skip with the reason; under
# CI=true they fail instead.
import hashlib
import os
import re
import subprocess
import sys

import pytest

import netns
from thirdparty import start_mosquitto, unavailable  # noqa: E402

KERNEL = netns.KERNEL_IP
APP = "tests/adafruit_app.py"
HTTP_PEER = os.path.join(netns.ROOT, "tests", "adafruit_http_peer.py")
PORT = 8080
# name==version --hash=sha256:... (the wheels on PyPI)
PACKAGES = [
    ("adafruit-circuitpython-requests", "4.1.17",
     "4c205188a052f52b3bb8ab4af97798d7d56ae3701857d31f03b164f029fae44f"),
    ("adafruit-circuitpython-minimqtt", "8.1.0",
     "2abfc4ef9a629fc9b43ea85b7afc0a2335c1c0f69fb33a80cb5af18cf494a672"),
    ("adafruit-circuitpython-connectionmanager", "3.1.8",
     "f93e27874a840f728b5cdbb1bcf0aee4e75ed1c0ba46b4562606ac3ac3ea2cca"),
    ("adafruit-circuitpython-ticks", "1.1.7",
     "d6c28f766e40ff12b5791b63824244fa26a6abbd92af22c179c4dae7b54303c5"),
]
# Only CPython imports it for real (MicroPython gets the stub below).
TYPING = ("adafruit-circuitpython-typing", "1.13.0",
          "6bfb25ae818a81d569a0048a179815f5944b846edf8f3a2043a84622d8610434")
RINGS = [pytest.param("cpython", "tap", id="cpython-tap"),
         pytest.param("micropython", "packet", id="micropython-packet")]

# Module-level __getattr__ answers any name (both interpreters support it): enough for
# `from typing import Optional` and friends, which these packages use for annotations.
_ANY_NAME_STUB = "def __getattr__(name):\n    return object\n"


def _pip_install(target, pkgs):
    req = os.path.join(target, "requirements.txt")
    with open(req, "w") as f:
        for name, version, sha in pkgs:
            f.write("%s==%s --hash=sha256:%s\n" % (name, version, sha))
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                        "--only-binary", ":all:", "--require-hashes", "--target", target,
                        "-r", req], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    if r.returncode != 0:
        unavailable("pip could not install %s: %s" % (
            [p[0] for p in pkgs], r.stderr.decode(errors="replace")[-2000:]))


@pytest.fixture(scope="module")
def libdirs(tmp_path_factory):
    """{"cpython": DIR, "micropython": DIR}: the same packages, each interpreter's stubs."""
    dirs = {}
    for interp in ("cpython", "micropython"):
        d = str(tmp_path_factory.mktemp("adafruit-" + interp))
        _pip_install(d, PACKAGES + ([TYPING] if interp == "cpython" else []))
        if interp == "cpython":
            with open(os.path.join(d, "micropython.py"), "w") as f:
                f.write("def const(x):\n    return x\n")
        else:
            for name in ("typing.py", "types.py"):
                with open(os.path.join(d, name), "w") as f:
                    f.write(_ANY_NAME_STUB)
            os.makedirs(os.path.join(d, "circuitpython_typing"))
            for name in ("__init__.py", "socket.py"):
                with open(os.path.join(d, "circuitpython_typing", name), "w") as f:
                    f.write(_ANY_NAME_STUB if name == "socket.py" else "")
        for root, subdirs, files in os.walk(d):
            os.chmod(root, 0o755)
        dirs[interp] = d
    return dirs


def _http_body(n):
    sys.path.insert(0, os.path.dirname(HTTP_PEER))
    try:
        import adafruit_http_peer
    finally:
        sys.path.pop(0)
    return adafruit_http_peer.body(n)


@pytest.mark.parametrize("interp,kind", RINGS)
def test_adafruit_requests_through_spinet(interp, kind, libdirs):
    netns.require(kind, interp)
    sizes = {"length": 30000, "chunked": 20011}
    urls = ["http://%s:%d/%s/%d" % (KERNEL, PORT, k, n) for k, n in sizes.items()]
    with netns.Lab(kind=kind) as lab:
        srv = lab.popen([sys.executable, "-u", HTTP_PEER, str(PORT)], name="http_peer")
        srv.expect(r"^listening", timeout=10)
        p = lab.run_spinet(interp, APP, lab.spinet_args() +
                           [libdirs[interp], "requests"] + urls, timeout=90)
        rc, out, err = p.wait()
        assert rc == 0, out + err
        for url, (k, n) in zip(urls, sizes.items()):
            want = "get %s status=200 bytes=%d sha256=%s" % (
                url, n, hashlib.sha256(_http_body(n)).hexdigest())
            assert want in out, out + err
        reqs = [ln for ln in srv.out.splitlines() if ln.startswith("request ")]
        # adafruit_requests names itself; both came over spinet.
        assert [ln.split()[2] for ln in reqs] == ["/%s/%d" % kv for kv in sizes.items()], reqs
        assert all("Adafruit CircuitPython" in ln for ln in reqs), reqs
        # The Session kept its connection: the second request came on the same one.
        assert len(set(ln.split()[3] for ln in reqs)) == 1, reqs


def test_adafruit_requests_over_tls_on_micropython(libdirs, tmp_path):
    """HTTPS with adafruit_requests: MicroPython's ssl over spinet, through the small
    spinet.tls.SSLContext (the connection manager wraps before it connects)."""
    from test_tls_realpeer import HOST, _s_server, _sha, make_pki
    netns.require("packet", "micropython", tools=("openssl", "dnsmasq"))
    pki = make_pki(str(tmp_path))
    with netns.Lab(kind="packet", dnsmasq=True) as lab:
        _s_server(lab, pki)
        url = "https://%s:4433/blob.http" % HOST
        p = lab.run_spinet("micropython", APP, lab.spinet_args() +
                           [libdirs["micropython"], "requests_tls",
                            os.path.join(pki, "ca.der"), url], timeout=90)
        rc, out, err = p.wait()
        assert rc == 0, out + err
        n, sha = _sha(pki, "blob.bin")
        assert "get %s status=200 bytes=%d sha256=%s" % (url, n, sha) in out, out + err


@pytest.mark.parametrize("interp,kind", RINGS)
def test_adafruit_minimqtt_publishes_and_subscribes_through_spinet(interp, kind, libdirs):
    netns.require(kind, interp, tools=("mosquitto", "mosquitto_sub", "mosquitto_pub"))
    count = 4
    with netns.Lab(kind=kind) as lab:
        broker = start_mosquitto(lab)
        sub = lab.popen(["mosquitto_sub", "-h", KERNEL, "-t", "spinet/up", "-v", "-q", "1",
                         "-C", str(count), "-W", "60"], name="mosquitto_sub", timeout=90)
        broker.expect(r"Sending SUBACK to", timeout=10, stream="err")
        p = lab.run_spinet(interp, APP, lab.spinet_args() +
                           [libdirs[interp], "mqtt", KERNEL, "spinet/up", count,
                            "spinet/down", 3], timeout=90)
        p.expect(r"^subscribed spinet/down", timeout=30)
        # spinet's SUBSCRIBE is in; what mosquitto_pub sends now must reach it.
        for i in range(3):
            lab.sh("mosquitto_pub -h %s -t spinet/down -q 1 -m 'down %d: \u00e9t\u00e9'"
                   % (KERNEL, i), timeout=20)
        rc, out, err = p.wait()
        assert rc == 0, out + err
        assert "published %d" % count in out and "disconnected" in out, out + err
        # With nothing to read, loop() sees spinet's OSError(ETIMEDOUT) from recv_into
        # after socket_timeout and returns, as it does over CircuitPython's socketpool.
        m = re.search(r"idle loop returned None after (\d+) ms", out)
        assert m and 900 <= int(m.group(1)) <= 3500, out
        got = [ln for ln in out.splitlines() if ln.startswith("got ")]
        assert got == ["got spinet/down down %d: \u00e9t\u00e9" % i for i in range(3)], out
        rc, sout, serr = sub.wait(30)
        assert rc == 0, sout + serr
        want = ["spinet/up ada %d from spinet" % i for i in range(count)]
        assert [ln for ln in sout.splitlines() if ln.startswith("spinet/up ")] == want, sout
        log = broker.err
        assert re.search(r"New client connected from 192\.0\.2\.2:\d+ as spinet-ada", log), log
        assert len(re.findall(r"Sending PUBACK to spinet-ada", log)) == count, log
        assert "Received DISCONNECT from spinet-ada" in log, log
        broker.stop()
