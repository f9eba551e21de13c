# firmware/examples/mqtt_sensor.py as a firmware app on the virtual board: deployed with
# `python -m host_tools deploy` (which also puts the `import socket` shim in /lib),
# DHCP and DNS from the board's peer, and the peer relaying the board's connection to
# peer.vboard.test:1883 on to Debian's mosquitto on the host's loopback
# (VBoard(reverse=...)). mosquitto_sub on the host must see every reading the board
# says it published, in order.
import json
import os
import shutil
import subprocess
import time

import pytest

from host_tools.vboard import VBoard
from test_firmware_vboard import Term, deploy_to, free_port
from test_vboard import need_tools

NAME = "peer.vboard.test"
COUNT = 5


def _need_mosquitto():
    missing = [t for t in ("mosquitto", "mosquitto_sub") if shutil.which(t) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail("missing %s (see .ci/run)" % ", ".join(missing))
        pytest.skip("missing %s (apt-get install mosquitto mosquitto-clients)" % missing)


def _wait_port(port, proc, timeout=10):
    import socket

    end = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc.poll() is None and time.monotonic() < end, "mosquitto did not start"
            time.sleep(0.05)


def test_mqtt_sensor_app_on_the_virtual_board(tmp_path):
    need_tools()
    _need_mosquitto()
    hport = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % hport)
    broker = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    sub = None
    try:
        _wait_port(hport, broker)
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(hport), "-t",
                                "spinet/vboard", "-C", str(COUNT), "-W", "90"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # subscribed before the first reading
        flash = tmp_path / "flash"
        with VBoard(flash=str(flash), board="sim_w5500", reverse=[(1883, hport)]) as vb:
            deploy_to(vb, tmp_path, {"dhcp": True, "dhcp_timeout_s": 20, "app": "mqtt_sensor",
                                     "app_args": {"broker": NAME, "topic": "spinet/vboard",
                                                  "interval_s": 0.2, "count": COUNT}})
            assert (flash / "lib" / "socket.py").exists()  # the shim the app imports
            t = Term(vb.device)
            try:
                t.sync()
                t.write(b"\x04")  # soft reset: boot.py, then main.py runs the app
                out = t.read_until(b">>> ", timeout=60)  # count readings, then the REPL
            finally:
                t.close()
            assert "app: mqtt_sensor" in out, out
            assert "mqtt: connected to %s:1883" % NAME in out, out
            board = [line.split(" ", 2)[2] for line in out.replace("\r", "").split("\n")
                     if line.startswith("mqtt: spinet/vboard ")]
            assert len(board) == COUNT, out
        got, err = sub.communicate(timeout=60)
        assert sub.returncode == 0, err
        got = got.strip().split("\n")
        assert got == board, (got, board)
        for i, m in enumerate(got):
            assert json.loads(m)["seq"] == i, m
    finally:
        for p in (sub, broker):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
