# The spinet side of tests/cpython/test_adafruit_realpeer.py: Adafruit's CircuitPython
# clients, unchanged from PyPI (installed into LIBDIR at test time), with the
# spinet.socket module as their socket pool. Runs on CPython and the MicroPython unix
# port.
#
#   adafruit_app.py DRIVER IFNAME LIBDIR ROLE ARGS...
# Roles:
#   requests URL...     adafruit_requests.Session(spinet.socket): GET each URL (one
#                       kept-alive connection), "get URL status=.. bytes=.. sha256=.."
#   requests_tls CA_DER URL...
#                       the same over HTTPS (MicroPython): spinet.tls.SSLContext around
#                       an ssl.SSLContext that checks the server against CA_DER
#   mqtt BROKER PUB_TOPIC COUNT SUB_TOPIC WANT
#                       adafruit_minimqtt: subscribe SUB_TOPIC, publish COUNT messages
#                       to PUB_TOPIC, then loop until WANT messages came in on
#                       SUB_TOPIC: "published N", "got TOPIC MSG" each, then one
#                       loop() with nothing to read: "idle loop returned R after MS ms",
#                       "disconnected"
# Prints "ready" once the Interface is up; "error EXC" and exit 1 on an exception.
import sys

_argv0 = sys.argv[0]
_ROOT = _argv0.rsplit("/", 2)[0] if _argv0.count("/") >= 2 else ".."
for _p in (_ROOT + "/lib", _ROOT + "/tests", sys.argv[3]):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import hashlib  # noqa: E402

from binascii import hexlify  # noqa: E402

from realpeer_app import linger, make_nic, run  # noqa: E402
from spinet import socket as pool  # noqa: E402
from spinet.compat import ticks_diff, ticks_ms  # noqa: E402


def role_requests(urls, ssl_context=None):
    import adafruit_requests
    s = adafruit_requests.Session(pool, ssl_context)
    for url in urls:
        r = s.get(url, timeout=10)
        data = r.content
        print("get %s status=%d bytes=%d sha256=%s" % (
            url, r.status_code, len(data), hexlify(hashlib.sha256(data).digest()).decode()))
        r.close()
    # The Session keeps its connection for the next request; let it go.
    from adafruit_connection_manager import connection_manager_close_all
    connection_manager_close_all(pool)


def role_requests_tls(ca, urls):
    """HTTPS: MicroPython's ssl context, verifying, behind spinet.tls.SSLContext."""
    import ssl
    from spinet import tls
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(ca, "rb") as f:
        ctx.load_verify_locations(cadata=f.read())
    role_requests(urls, tls.SSLContext(ctx))


def role_mqtt(broker, pub_topic, count, sub_topic, want):
    import adafruit_minimqtt.adafruit_minimqtt as MQTT
    got = []

    def on_message(client, topic, message):
        got.append((topic, message))
        print("got %s %s" % (topic, message))

    c = MQTT.MQTT(broker=broker, port=1883, client_id="spinet-ada", socket_pool=pool,
                  is_ssl=False, keep_alive=30, recv_timeout=5, socket_timeout=1)
    c.on_message = on_message
    c.connect()
    c.subscribe(sub_topic, qos=1)
    print("subscribed %s" % sub_topic)
    for i in range(int(count)):
        c.publish(pub_topic, "ada %d from spinet" % i, qos=1)
    print("published %s" % count)
    t0 = ticks_ms()
    while len(got) < int(want) and ticks_diff(ticks_ms(), t0) < 30000:
        c.loop(timeout=1)
    t1 = ticks_ms()
    r = c.loop(timeout=1)  # nothing comes: recv_into times out inside
    print("idle loop returned %r after %d ms" % (r, ticks_diff(ticks_ms(), t1)))
    c.disconnect()
    print("disconnected")


def main(argv):
    kind, ifname, _, role = argv[:4]
    nic = make_nic(kind, ifname, "192.0.2.2")
    print("ready")
    args = argv[4:]
    if role == "requests":
        role_requests(args)
    elif role == "requests_tls":
        role_requests_tls(args[0], args[1:])
    elif role == "mqtt":
        role_mqtt(*args)
    else:
        raise ValueError("unknown role " + role)
    linger(nic, 3000)  # the closing handshakes done before the process goes


run(main, as_repr=True)
