# firmware/netboot.py (what /boot.py and /main.py run on a board) on the simulated
# segment, on virtual time: DHCP within the timeout, static fallback, and every way
# the network can fail without taking the REPL with it (no board file, a chip that
# does not answer, a bad config, an app that crashes or is interrupted).
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import os
import sys

from boards.sim.clock import VirtualClock
from boards.sim.dhcpd import DhcpServer
from boards.sim.segment import Segment
import spinet

_fw = None
for _p in list(sys.path):
    try:
        os.stat(_p + "/firmware/netboot.py")
    except OSError:
        continue
    if _p + "/firmware" not in sys.path:
        _fw = _p + "/firmware"
        sys.path.insert(0, _fw)
    break

import netboot  # noqa: E402

# firmware/ also holds socket.py, the board's `import socket` shim: it must not stay
# on the host's path, where it would shadow the interpreter's own socket.
if _fw is not None:
    sys.path.remove(_fw)

MAC_SRV = b"\x02\x00\x00\x00\x00\x01"
MAC_BOARD = b"\x02\x00\x00\x00\x00\x02"


class FakeBoard:
    """Stands in for /board.py: nic() gives an active Interface on the segment."""

    def __init__(self, seg, clock, fail=None):
        self.seg = seg
        self.clock = clock
        self.fail = fail
        self.kw = None

    def nic(self, **kw):
        self.kw = kw
        if self.fail:
            raise self.fail
        p = self.seg.port(MAC_BOARD, name="board")
        n = spinet.Interface(p, clock=self.clock.ticks_ms, **kw)
        self.seg.add_host(n, p)
        n.active(True)
        return n


def lab(silent=False):
    clock = VirtualClock()
    seg = Segment(clock, seed=3)
    srv = DhcpServer(seg.port(MAC_SRV, name="dhcpd"), clock, "192.0.2.1",
                     pool=("192.0.2.100", 4), lease=600, dns=("192.0.2.53",))
    srv.silent = silent
    seg.add_host(srv, srv.port)
    return seg, clock, srv


def config(**kw):
    c = dict(netboot.DEFAULTS)
    c.update(kw)
    return c


def boot(seg, clock, cfg, board=None, fail=None):
    lines = []
    b = board or FakeBoard(seg, clock, fail)
    n = netboot.up(cfg, board=b, log=lines.append, ticks=clock.ticks_ms,
                   step=lambda: seg.run(20))
    return n, lines, b


def test_dhcp_lease_within_the_timeout():
    seg, clock, srv = lab()
    n, lines, b = boot(seg, clock, config(hostname="lab-board", dhcp_timeout_s=10))
    assert n is not None and netboot.nic is n and netboot.how == "dhcp"
    assert b.kw == {"hostname": "lab-board"}
    assert n.ifconfig() == ("192.0.2.100", "255.255.255.0", "192.0.2.1", "192.0.2.53")
    assert lines == ["net: 192.0.2.100/24 gw 192.0.2.1 dns 192.0.2.53 via dhcp"], lines
    assert clock.ticks_ms() < 10000
    assert [m["hostname"] for m in srv.log] == ["lab-board", "lab-board"]


def test_dhcp_timeout_falls_back_to_static():
    seg, clock, srv = lab(silent=True)
    t0 = clock.ticks_ms()
    n, lines, b = boot(seg, clock, config(dhcp_timeout_s=3,
                                          static=["192.0.2.9", "255.255.255.0",
                                                  "192.0.2.1", "192.0.2.1"]))
    waited = clock.ticks_ms() - t0
    assert 3000 <= waited < 3100, waited
    assert netboot.how == "static" and not n.ipconfig("dhcp4")
    assert n.ifconfig() == ("192.0.2.9", "255.255.255.0", "192.0.2.1", "192.0.2.1")
    assert lines == ["net: 192.0.2.9/24 gw 192.0.2.1 dns 192.0.2.1 via static"
                     " (no DHCP lease in 3 s)"], lines
    assert srv.count("DISCOVER") >= 1  # it did try
    assert n.isconnected()


def test_static_only_sends_no_dhcp():
    seg, clock, srv = lab()
    n, lines, b = boot(seg, clock, config(dhcp=False))
    assert n.ifconfig() == ("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1")
    assert lines == ["net: 192.0.2.2/24 gw 192.0.2.1 dns 192.0.2.1 via static"]
    seg.run(5000)
    assert srv.log == []


def test_link_down_is_said():
    seg, clock, srv = lab()
    b = FakeBoard(seg, clock)
    real = b.nic

    def unplugged(**kw):
        n = real(**kw)
        seg.ports[-1].link(False)
        return n

    b.nic = unplugged
    n, lines, _ = boot(seg, clock, config(dhcp_timeout_s=1), board=b)
    assert n is not None and lines[0].endswith("via static (no DHCP lease in 1 s), link down"), lines


def test_no_board_file_leaves_the_network_down():
    # No `board` module anywhere on sys.path (a board without /board.py).
    lines = []
    assert "board" not in sys.modules
    n = netboot.up(config(), log=lines.append)
    assert n is None and netboot.nic is None and netboot.how == ""
    assert len(lines) == 1 and lines[0].startswith("net: down: no board file"), lines


def test_chip_not_answering_leaves_the_network_down():
    seg, clock, srv = lab()
    n, lines, b = boot(seg, clock, config(), fail=OSError(19))
    assert n is None and lines[-1].startswith("net: down: the Ethernet chip did not come up"), lines


def test_config_file_defaults_bad_json_and_unknown_keys():
    path = "netboot-test-config.json"
    lines = []
    try:
        assert netboot.load_config("no-such-config.json", lines.append) == netboot.DEFAULTS
        with open(path, "w") as f:
            f.write('{"dhcp": false, "hostname": "x", "colour": "red"}')
        c = netboot.load_config(path, lines.append)
        assert c["dhcp"] is False and c["hostname"] == "x" and "colour" not in c
        assert c["static"] == netboot.DEFAULTS["static"]
        assert lines == ["netboot: unknown key 'colour' in %s (ignored)" % path], lines
        with open(path, "w") as f:
            f.write('{"dhcp": fal')
        del lines[:]
        assert netboot.load_config(path, lines.append) == netboot.DEFAULTS
        assert len(lines) == 1 and "not valid JSON" in lines[0], lines
    finally:
        try:
            os.remove(path)
        except OSError:
            pass


class _App:
    def __init__(self, exc=None):
        self.exc = exc
        self.calls = []

    def main(self, nic, **kw):
        self.calls.append((nic, kw))
        if self.exc:
            raise self.exc
        return 42


def test_run_app_passes_args_and_survives_ctrl_c_and_crashes():
    seg, clock, srv = lab()
    n, lines, b = boot(seg, clock, config(dhcp=False))
    for name, app, want_ret, want_log in (
            ("fw_app_ok", _App(), 42, "app: fw_app_ok (Ctrl-C stops it)"),
            ("fw_app_int", _App(KeyboardInterrupt()), None, "app: fw_app_int stopped (Ctrl-C)"),
            ("fw_app_bad", _App(ValueError("boom")), None, "app: fw_app_bad failed (boom)")):
        sys.modules[name] = app
        try:
            out = []
            ret = netboot.run_app(n, config(app=name, app_args={"port": 8080}), out.append)
        finally:
            del sys.modules[name]
        assert ret == want_ret and app.calls == [(n, {"port": 8080})], (name, ret, app.calls)
        assert out[-1] == want_log, (name, out)
    out = []
    netboot.nic = None  # as after a boot whose network did not come up
    assert netboot.run_app(config=config(app="fw_app_ok"), log=out.append) is None
    assert out == ["app: fw_app_ok not started: no network"]
    assert netboot.run_app(n, config(app=""), out.append) is None  # no app: nothing


def test_prefix_len():
    assert netboot.prefix_len("255.255.255.0") == 24
    assert netboot.prefix_len("255.255.254.0") == 23
    assert netboot.prefix_len("0.0.0.0") == 0
    assert netboot.prefix_len("255.255.255.255") == 32
