# spinet.socket's errors carry their number in e.errno as well as e.args[0], on both
# interpreters (MicroPython's OSError(n) sets errno; CPython's does so only for
# OSError(n, strerror)). Clients written for CPython or CircuitPython sockets, such as
# adafruit_minimqtt, test e.errno against errno.ETIMEDOUT / EAGAIN.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
from support import learn_peer, mock_stack, raises

from spinet import socket as ssocket
from spinet.compat import EAGAIN, EBADF, ETIMEDOUT


def test_timeout_and_eagain_carry_errno():
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    s = nic.socket(ssocket.AF_INET, ssocket.SOCK_DGRAM)
    s.bind(("", 7000))
    s.settimeout(0.2)
    e = raises(ETIMEDOUT, s.recv, 10)
    assert e.errno == ETIMEDOUT and isinstance(e, OSError)
    s.setblocking(False)
    e = raises(EAGAIN, s.recv, 10)
    assert e.errno == EAGAIN and e.args[0] == EAGAIN
    s.close()
    e = raises(EBADF, s.recv, 10)
    assert e.errno == EBADF
    assert isinstance(e, ssocket.error)  # socket.error is the built-in OSError
