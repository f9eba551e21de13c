# An MQTT sensor publisher written against plain `import socket`: on a board with
# spinet, /lib/socket.py (firmware/socket.py) makes that spinet's. Every interval_s it
# publishes one reading (the RP2040's temperature sensor through machine.ADC(4) where
# there is one, else a counter) as JSON to topic, QoS 0. When the broker goes away
# (connection closed or reset, or refused) it reconnects with a backoff of 0.5 s
# doubling to 8 s, and goes on counting. A small MQTT 3.1.1 client of its own
# (OASIS MQTT 3.1.1: CONNECT 3.1, CONNACK 3.2, PUBLISH 3.3, PINGREQ 3.12,
# DISCONNECT 3.14); no library needed. Restricted Python.
#
#   import mqtt_sensor
#   mqtt_sensor.main(nic, broker="192.0.2.1", topic="spinet/sensor", interval_s=5)
#
# As a firmware app: config.json {"app": "mqtt_sensor", "app_args": {"broker": ...}}.
# broker may be a name (getaddrinfo asks spinet's resolver). count=N stops after N
# readings (tests); otherwise it runs until Ctrl-C.

import socket
import time

_CONNECT = 0x10
_CONNACK = 0x20
_PUBLISH = 0x30
_PINGREQ = 0xC0
_DISCONNECT = 0xE0
_ETIMEDOUT = 110
_EAGAIN = 11
_BACKOFF_MS = (500, 1000, 2000, 4000, 8000)


def _ticks():
    try:
        return time.ticks_ms()  # type: ignore[attr-defined]
    except AttributeError:  # CPython
        return int(time.monotonic() * 1000)


def _elapsed(t0):
    try:
        return time.ticks_diff(time.ticks_ms(), t0)  # type: ignore[attr-defined]
    except AttributeError:
        return _ticks() - t0


def _sleep_ms(ms):
    try:
        time.sleep_ms(ms)  # type: ignore[attr-defined]
    except AttributeError:
        time.sleep(ms / 1000)


class Sensor:
    """machine.ADC(4), the RP2040's temperature sensor, where it exists; else None."""

    def __init__(self):
        self.adc = None
        try:
            import machine
            self.adc = machine.ADC(4)
        except (ImportError, AttributeError, ValueError, OSError, TypeError):
            pass

    def read(self, seq):
        if self.adc is None:
            return '{"seq": %d, "count": %d}' % (seq, seq)
        v = self.adc.read_u16() * 3.3 / 65535  # RP2040 datasheet 4.9.5
        return '{"seq": %d, "temp_c": %.1f}' % (seq, 27 - (v - 0.706) / 0.001721)


def _packet(kind, body):
    """An MQTT packet: fixed header with the remaining length (1-2 bytes here)."""
    n = len(body)
    if n < 128:
        return bytes((kind, n)) + body
    return bytes((kind, (n & 0x7F) | 0x80, n >> 7)) + body


def _str(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes((len(b) >> 8, len(b) & 0xFF)) + b


def _recv_exact(s, n):
    out = b""
    while len(out) < n:
        d = s.recv(n - len(out))
        if not d:
            raise OSError(104)  # the broker closed the connection
        out += d
    return out


class Client:
    def __init__(self, broker, port, client_id, keepalive_s):
        self.broker = broker
        self.port = port
        self.client_id = client_id
        self.keepalive_s = keepalive_s
        self.sock = None

    def connect(self):
        ai = socket.getaddrinfo(self.broker, self.port, 0, socket.SOCK_STREAM)[0]
        s = socket.socket(ai[0], socket.SOCK_STREAM)
        try:
            s.settimeout(10)
            s.connect(ai[-1])
            ka = self.keepalive_s
            body = _str("MQTT") + bytes((4, 0x02, ka >> 8, ka & 0xFF)) + _str(self.client_id)
            s.write(_packet(_CONNECT, body))
            ack = _recv_exact(s, 4)
            if ack[0] != _CONNACK or ack[3] != 0:
                raise OSError("CONNACK refused: %d" % ack[3])
        except Exception:
            s.close()
            raise
        self.sock = s

    def publish(self, topic, msg):
        self.sock.write(_packet(_PUBLISH, _str(topic) + msg.encode()))

    def ping(self):
        self.sock.write(bytes((_PINGREQ, 0)))

    def wait(self, ms):
        """Wait ms for the next reading by reading from the broker (a blocking socket
        call drives the stack); raises OSError if the broker goes away meanwhile."""
        s = self.sock
        t0 = _ticks()
        while True:
            left = ms - _elapsed(t0)
            if left <= 0:
                return
            s.settimeout(left / 1000)
            try:
                d = s.recv(64)  # PINGRESP and the like: read and dropped
            except OSError as e:
                if e.args[0] in (_ETIMEDOUT, _EAGAIN):
                    return
                raise
            if not d:
                raise OSError(104)  # closed by the broker

    def close(self, polite=True):
        s = self.sock
        self.sock = None
        if s is not None:
            if polite:
                try:
                    s.write(bytes((_DISCONNECT, 0)))
                except OSError:
                    pass
            s.close()


def main(nic=None, broker="192.0.2.1", port=1883, topic="spinet/sensor", interval_s=5,
         count=None, client_id=None, keepalive_s=60, log=print):
    """Publish a reading every interval_s until count readings were published (None:
    forever), reconnecting when the broker goes away. Returns the readings published."""
    if client_id is None:
        mac = nic.config("mac") if nic is not None else b"\x00"
        client_id = "spinet-sensor-" + "".join("%02x" % b for b in mac[-3:])
    sensor = Sensor()
    c = Client(broker, port, client_id, keepalive_s)
    seq = 0
    fails = 0
    reconnects = -1
    ms = int(interval_s * 1000)
    try:
        while count is None or seq < count:
            if c.sock is None:
                try:
                    c.connect()
                except OSError as e:
                    wait = _BACKOFF_MS[fails if fails < len(_BACKOFF_MS) else -1]
                    fails += 1
                    if log:
                        log("mqtt: %s:%d unreachable (%r), retry in %d ms"
                            % (broker, port, e, wait))
                    _sleep_ms(wait)
                    continue
                fails = 0
                reconnects += 1
                if log:
                    log("mqtt: connected to %s:%d as %s (reconnects %d)"
                        % (broker, port, client_id, reconnects))
            try:
                msg = sensor.read(seq)
                c.publish(topic, msg)
                seq += 1
                if log:
                    log("mqtt: %s %s" % (topic, msg))
                c.wait(ms)
                if keepalive_s and ms >= keepalive_s * 500:
                    c.ping()  # readings rarer than half the keepalive: ping too
            except OSError as e:
                if log:
                    log("mqtt: connection lost (%r)" % (e,))
                c.close(polite=False)
    finally:
        c.close()
    return seq
