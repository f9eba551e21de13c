# firmware/socket.py, the `import socket` shim: never on CPython's path; on the
# MicroPython unix port, with a folder holding only the shim first on MICROPYPATH,
# `import socket` (and `usocket`) is spinet's, the port's own stays reachable, sockets
# take the Interface activated after the import, and asyncio streams (which do
# `import socket`) run over it between a server and a client on 127.0.0.1.
import os
import shutil
import socket
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def test_the_shim_is_not_on_the_host_path():
    assert os.path.isfile(os.path.join(ROOT, "firmware", "socket.py"))
    assert hasattr(socket, "AF_PACKET") and "firmware" not in socket.__file__
    fw = os.path.join(ROOT, "firmware")
    assert not [p for p in sys.path if os.path.abspath(p or ".") == fw]


def test_import_socket_is_spinet_on_micropython(tmp_path):
    if not os.access(MICROPYTHON, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail("MicroPython unix port missing at %s" % MICROPYTHON)
        pytest.skip("MicroPython unix port missing at %s (make venv)" % MICROPYTHON)
    shim = tmp_path / "shim"
    shim.mkdir()
    shutil.copy(os.path.join(ROOT, "firmware", "socket.py"), str(shim / "socket.py"))
    env = dict(os.environ, MICROPYPATH="%s:.frozen" % shim)
    r = subprocess.run([MICROPYTHON, os.path.join(ROOT, "tests", "shim_check_app.py"), ROOT],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=60)
    out = r.stdout.decode()
    assert r.returncode == 0 and out.endswith("done\n"), out
    facts = dict(ln.split(" ", 1) for ln in out.splitlines() if " " in ln)
    assert facts["is_spinet"] == "True", out
    assert facts["usocket_is_shim"] == "True", out
    assert facts["builtin_reachable"] == "True" and facts["still_shim"] == "True", out
    assert facts["numeric_before_nic"] == "('192.0.2.7', 80)", out
    assert facts["before_nic"] == "19", out  # ENODEV: no Interface active yet
    assert facts["uses_nic"] == "True", out  # the Interface activated after the import
    assert facts["asyncio"] == "[b'echo hello 0\\n', b'echo hello 1\\n', b'echo hello 2\\n']", out
    assert facts["frames_to_driver"] == "0", out  # loopback: nothing reached the driver
