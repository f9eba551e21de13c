# firmware/examples/mqtt_publish.py with micropython-lib's umqtt.simple (fetched from
# PyPI at test time, never kept in the repository) against a real broker: Debian's
# mosquitto inside a network namespace of the real-peer ring (tests/netns.py).
# mosquitto_sub, subscribed before the publisher starts, says which messages arrived.
# spinet runs on CPython over a TAP and on the MicroPython unix port over AF_PACKET.
#
# Without root, mosquitto or the package, the tests skip with the reason; under
# CI=true they fail instead.
import os
import re

import pytest

import netns
from thirdparty import sdist_file, start_mosquitto  # noqa: E402

KERNEL = netns.KERNEL_IP
APP = "tests/firmware_mqtt_app.py"
TOPIC = "spinet/test"
COUNT = 5
# micropython-umqtt.simple on PyPI, pinned by version and sha256 (from PyPI's index).
UMQTT = "micropython-umqtt.simple"
UMQTT_VERSION = "1.3.4"
UMQTT_SHA256 = "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f"
INDEX = "https://pypi.org/simple/micropython-umqtt-simple/"
RINGS = [pytest.param("cpython", "tap", 1, id="cpython-tap-qos1"),
         pytest.param("micropython", "packet", 1, id="micropython-packet-qos1"),
         pytest.param("micropython", "packet", 0, id="micropython-packet-qos0")]


@pytest.fixture(scope="module")
def umqtt_dir(tmp_path_factory):
    """umqtt/simple.py from the PyPI sdist (pinned by sha256), in a temp folder."""
    src = sdist_file(INDEX, "%s-%s.tar.gz" % (UMQTT, UMQTT_VERSION), UMQTT_SHA256,
                     "%s-%s/umqtt/simple.py" % (UMQTT, UMQTT_VERSION))
    out = tmp_path_factory.mktemp("umqtt")
    (out / "umqtt").mkdir()
    (out / "umqtt" / "__init__.py").write_text("")
    (out / "umqtt" / "simple.py").write_bytes(src)
    os.chmod(str(out), 0o755)
    return str(out)


@pytest.mark.parametrize("interp,kind,qos", RINGS)
def test_umqtt_publishes_through_spinet_to_mosquitto(interp, kind, qos, umqtt_dir):
    netns.require(kind, interp, tools=("mosquitto", "mosquitto_sub"))
    with netns.Lab(kind=kind) as lab:
        broker = start_mosquitto(lab)
        sub = lab.popen(["mosquitto_sub", "-h", KERNEL, "-t", TOPIC, "-v", "-q", "1",
                         "-C", str(COUNT), "-W", "60"], name="mosquitto_sub", timeout=90)
        # Subscribed before anything is published (the broker says so; the client's
        # stdout is a pipe, so block-buffered).
        broker.expect(r"Sending SUBACK to", timeout=10, stream="err")
        p = lab.run_spinet(interp, APP, lab.spinet_args() +
                           [umqtt_dir, KERNEL, TOPIC, COUNT, qos], timeout=60)
        rc, out, err = p.wait()
        assert rc == 0 and "published %d" % COUNT in out, out + err
        rc, sout, serr = sub.wait(30)
        assert rc == 0, sout + serr
        want = ["%s hello %d from spinet" % (TOPIC, i) for i in range(COUNT)]
        got = [ln for ln in sout.splitlines() if ln.startswith(TOPIC + " ")]
        assert got == want, sout
        log = broker.err
        assert re.search(r"New client connected from 192\.0\.2\.2:\d+ as spinet-test", log), log
        # QoS 1: the broker acknowledged every PUBLISH (umqtt waited for each PUBACK).
        sent_acks = len(re.findall(r"Sending PUBACK to spinet-test", log))
        assert sent_acks == (COUNT if qos else 0), log
        assert "Received DISCONNECT from spinet-test" in log, log
        broker.stop()
