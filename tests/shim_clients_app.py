# The spinet side of tests/cpython/test_shim_clients.py, on the MicroPython unix port
# with firmware/socket.py found first on MICROPYPATH: third-party clients written for
# MicroPython's own sockets (umqtt.simple, urequests), fetched at test time into
# CLIENT_DIR, are imported and used unchanged. Restricted Python.
#
#   shim_clients_app.py DRIVER IFNAME CLIENT_DIR ROLE ARGS...
# Roles:
#   mqtt BROKER COUNT   subscribe to spinet/in, publish COUNT messages "reading N" to
#                       spinet/out (QoS 1), then wait for one message on spinet/in:
#                       "subscribed", "published N", "got TOPIC MSG"
#   http URL...         GET each URL: "http URL STATUS LENGTH SHA256" or
#                       "http URL error REPR"
#   sensor BROKER COUNT INTERVAL_MS   firmware/examples/mqtt_sensor.main (CLIENT_DIR
#                       is firmware/examples): its log lines, then "published N"
# Then "done" (exit 0), or "error ..." (exit 1).
import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", sys.argv[3]):
    if _p not in sys.path:
        sys.path.append(_p)  # after the shim's folder

import socket  # noqa: E402  # the shim: spinet's, before any client is imported
import hashlib  # noqa: E402
from binascii import hexlify  # noqa: E402

import spinet  # noqa: E402
import spinet.socket  # noqa: E402
from realpeer_app import linger, make_nic, run  # noqa: E402


def hexdigest(data):
    return hexlify(hashlib.sha256(data).digest()).decode()


def mqtt(nic, broker, count):
    from umqtt.simple import MQTTClient  # unchanged, from PyPI
    got = []

    def on_msg(topic, msg):
        got.append((topic, msg))

    c = MQTTClient("spinet-shim", broker, port=1883, keepalive=30)
    c.set_callback(on_msg)
    c.connect()
    c.subscribe(b"spinet/in", qos=1)
    print("subscribed")
    for i in range(count):
        c.publish(b"spinet/out", b"reading %d" % i, qos=1)
    print("published %d" % count)
    c.sock.settimeout(20)  # umqtt's wait_msg blocks on the socket
    while not got:
        c.wait_msg()
    for topic, msg in got:
        print("got %s %s" % (topic.decode(), msg.decode()))
    c.disconnect()


def http(urls):
    import urequests  # unchanged, from PyPI
    for url in urls:
        try:
            r = urequests.get(url)
            body = r.content
            print("http %s %d %d %s" % (url, r.status_code, len(body), hexdigest(body)))
            r.close()
        except Exception as e:  # noqa: BLE001 - the test reads what the client raised
            print("http %s error %r" % (url, e))


def main(argv):
    assert socket.socket is spinet.socket.socket, "import socket is not the shim"
    import usocket
    assert usocket is socket, "usocket is not the shim"
    kind, ifname, _, role = argv[:4]
    nic = make_nic(kind, ifname, "192.0.2.2")
    if role == "mqtt":
        mqtt(nic, argv[4], int(argv[5]))
    elif role == "http":
        http(argv[4:])
    elif role == "sensor":  # CLIENT_DIR: firmware/examples
        import mqtt_sensor
        n = mqtt_sensor.main(nic, broker=argv[4], count=int(argv[5]),
                             interval_s=int(argv[6]) / 1000, client_id="spinet-sensor")
        print("published %d" % n)
    else:
        raise ValueError(role)
    linger(nic, 3000)  # the closing handshakes done before the process goes
    print("done")


run(main, as_repr=True)
