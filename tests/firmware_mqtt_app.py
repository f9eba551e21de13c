# The spinet side of tests/cpython/test_firmware_mqtt.py: a static address on a TAP
# (CPython) or AF_PACKET (MicroPython unix) link, then firmware/examples/mqtt_publish
# with umqtt.simple from UMQTT_DIR. Restricted Python.
#
#   firmware_mqtt_app.py DRIVER IFNAME UMQTT_DIR BROKER TOPIC COUNT QOS
#
# Prints "mqtt TOPIC MSG" per message, then "published N" (exit 0), or "error ..." (1).
import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT + "/firmware/examples", sys.argv[3]):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import mqtt_publish  # noqa: E402
from realpeer_app import linger, make_nic, run  # noqa: E402


def main(argv):
    kind, ifname, _, broker, topic, count, qos = argv[:7]
    nic = make_nic(kind, ifname, "192.0.2.2")
    n = mqtt_publish.main(nic, broker=broker, topic=topic, count=int(count), qos=int(qos),
                          client_id="spinet-test")
    print("published %d" % n)
    linger(nic, 3000)  # the closing handshakes done before the process goes


run(main, as_repr=True)
