# An MQTT publisher on spinet, written for micropython-lib's umqtt.simple (get it on
# a board with `mpremote mip install umqtt.simple`). Restricted Python: a board, the
# unix port and CPython run it.
#
#   from mqtt_publish import main
#   main(nic, broker="192.0.2.1", topic="spinet/test", count=3, qos=1)
#
# As a firmware app: config.json {"app": "mqtt_publish", "app_args": {"broker": ...}}.
# broker may be a name: spinet's getaddrinfo asks the DNS server from DHCP.

import sys


def _umqtt():
    """umqtt.simple.MQTTClient, bound to spinet's sockets.

    umqtt.simple does `import socket` (releases before 1.4: `import usocket`) and uses
    getaddrinfo, socket(), connect, write, read and setblocking. Until spinet ships
    its `socket` shim for the filesystem (a later issue), spinet.socket is put into
    sys.modules under those names while umqtt.simple is imported, so its module-level
    `socket` is spinet's; the previous entries are put back afterwards."""
    from spinet import socket as sk
    names = ("socket", "usocket")
    saved = {}
    for n in names:
        saved[n] = sys.modules.get(n)
        sys.modules[n] = sk
    # CPython has no ustruct/ubinascii, which older umqtt.simple releases import.
    for u, std in (("ustruct", "struct"), ("ubinascii", "binascii")):
        if u not in sys.modules:
            try:
                __import__(u)
            except ImportError:
                sys.modules[u] = __import__(std)
    try:
        from umqtt.simple import MQTTClient
        import umqtt.simple as mod
        mod.socket = sk  # also when it had been imported before, with another socket
    finally:
        for n in names:
            if saved[n] is None:
                del sys.modules[n]
            else:
                sys.modules[n] = saved[n]
    return MQTTClient


def main(nic, broker="192.0.2.1", port=1883, topic="spinet/test", count=3,
         message="hello %d from spinet", qos=1, client_id=None, keepalive=0, log=print):
    """Connect to broker:port, publish count messages (message % i) to topic with
    qos (0, or 1: each waits for its PUBACK), disconnect. Returns count."""
    MQTTClient = _umqtt()
    if client_id is None:
        client_id = "spinet-" + "".join("%02x" % b for b in nic.config("mac"))
    c = MQTTClient(client_id, broker, port=port, keepalive=keepalive)
    c.connect()
    try:
        for i in range(count):
            msg = message % i if "%" in message else message
            c.publish(topic.encode(), msg.encode(), qos=qos)
            if log:
                log("mqtt %s %s" % (topic, msg))
    finally:
        c.disconnect()
    return count
