# Run by tests/cpython/test_shim.py on the MicroPython unix port, with a folder holding
# only firmware/socket.py first on MICROPYPATH: what `import socket` gives, before and
# after an Interface is up, and asyncio streams (which `import socket` themselves)
# between a server and a client in this one program on 127.0.0.1. Restricted Python.
#
#   shim_check_app.py REPO
# Prints one "name value" line per fact, then "done".
import sys

for _p in (sys.argv[1] + "/lib", sys.argv[1]):
    sys.path.append(_p)  # after the shim's folder

import socket  # noqa: E402

import spinet.socket  # noqa: E402

print("is_spinet", socket.socket is spinet.socket.socket)
import usocket  # noqa: E402

print("usocket_is_shim", usocket is socket)
_path = list(sys.path)
sys.path.clear()
import socket as _builtin  # noqa: E402

sys.path.extend(_path)
print("builtin_reachable", _builtin is not socket and hasattr(_builtin, "getaddrinfo"))
import socket as _again  # noqa: E402

print("still_shim", _again is socket)
print("numeric_before_nic", socket.getaddrinfo("192.0.2.7", 80)[0][-1])
try:
    socket.socket()
    print("before_nic", "no error")
except OSError as e:
    print("before_nic", e.args[0])

from boards.sim.mocklan import MockLan  # noqa: E402
import spinet  # noqa: E402

lan = MockLan(b"\x02\x00\x00\x00\x00\x01")
nic = spinet.Interface(lan)
nic.ifconfig(("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1"))
nic.active(True)
lan.take()  # the gratuitous ARP
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("uses_nic", s._nic is nic)
s.close()

import asyncio  # noqa: E402


async def handle(r, w):
    line = await r.readline()
    w.write(b"echo " + line)
    await w.drain()
    w.close()
    await w.wait_closed()


async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 8000)
    got = []
    for i in range(3):
        r, w = await asyncio.open_connection("127.0.0.1", 8000)
        w.write(b"hello %d\n" % i)
        await w.drain()
        got.append(await r.read(100))
        w.close()
        await w.wait_closed()
    srv.close()
    await srv.wait_closed()
    return got


print("asyncio", asyncio.run(main()))
print("frames_to_driver", len(lan.take()))
print("done")
