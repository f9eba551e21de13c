# The packaging files: package.json + package-<driver>.json (mip) and
# firmware/manifest.py (freezing into a MicroPython build). Both must name files that
# exist, cover every board-side module of spinet between them, and never list a
# host-only one (drivers/tap.py, drivers/packet.py need Linux).
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from host_tools import deploy  # noqa: E402

HOST_ONLY = {"lib/spinet/" + p for p in deploy.HOST_ONLY}
BOARD_SIDE = {"lib/spinet/" + rel for rel, _ in deploy.spinet_sources()}
DRIVERS = ("w5500", "enc28j60")


def version():
    with open(os.path.join(ROOT, "lib", "spinet", "__init__.py")) as f:
        return re.search(r'__version__ = "([^"]+)"', f.read()).group(1)


def load(name):
    with open(os.path.join(ROOT, name)) as f:
        return json.load(f)


def test_mip_packages_cover_the_stack_and_name_real_files():
    assert HOST_ONLY <= {os.path.relpath(os.path.join(d, f), ROOT)
                         for d, _, fs in os.walk(os.path.join(ROOT, "lib", "spinet"))
                         for f in fs}, "host-only modules moved: update deploy.HOST_ONLY"
    srcs = {}
    for name in ["package.json"] + ["package-%s.json" % d for d in DRIVERS]:
        pkg = load(name)
        assert set(pkg) == {"urls", "deps", "version"}, name
        assert pkg["version"] == version(), name
        assert isinstance(pkg["deps"], list)
        got = []
        for dest, src in pkg["urls"]:
            # Relative sources: mip fetches them next to the package file (the repo root).
            assert not src.startswith(("http:", "https:", "github:", "/")), src
            assert os.path.isfile(os.path.join(ROOT, src)), (name, src)
            assert src.startswith("lib/") and dest == src[4:], (name, dest, src)
            got.append(src)
        assert len(got) == len(set(got)), name
        srcs[name] = set(got)
    core = srcs["package.json"]
    assert not any("/drivers/" + d + ".py" in s for s in core for d in DRIVERS)
    for d in DRIVERS:
        assert srcs["package-%s.json" % d] == {"lib/spinet/drivers/%s.py" % d}
    everything = set().union(*srcs.values())
    assert everything == BOARD_SIDE, (BOARD_SIDE - everything, everything - BOARD_SIDE)
    assert not everything & HOST_ONLY


class Options:
    def __init__(self, **given):
        self.__dict__.update(given)

    def defaults(self, **kw):
        for k, v in kw.items():
            self.__dict__.setdefault(k, v)


def run_manifest(**options):
    """Execute firmware/manifest.py with a stand-in for MicroPython's manifest API
    (tools/manifestfile.py): each call is recorded, and every local path it names is
    resolved against the manifest's folder as the real one does."""
    here = os.path.join(ROOT, "firmware")
    calls = []
    frozen = []  # (file on disk, name in the firmware)

    def resolve(p):
        return os.path.normpath(os.path.join(here, p))

    def package(package_path, files=None, base_path=".", opt=None):
        calls.append(("package", package_path, files, base_path))
        assert files is not None, "list the files: a whole-folder package would take tap/packet"
        for f in files:
            frozen.append((resolve(os.path.join(base_path, package_path, f)),
                           package_path + "/" + f))

    def module(module_path, base_path=".", opt=None):
        calls.append(("module", module_path, base_path))
        frozen.append((resolve(os.path.join(base_path, module_path)), module_path))

    def include(path, **kw):
        calls.append(("include", path, kw))

    def require(name, **kw):
        calls.append(("require", name, kw))

    def freeze(path, script=None, opt=None):
        calls.append(("freeze", path, script))

    def metadata(**kw):
        calls.append(("metadata", kw))

    g = {"package": package, "module": module, "include": include, "require": require,
         "freeze": freeze, "metadata": metadata, "options": Options(**options)}
    with open(os.path.join(here, "manifest.py")) as f:
        exec(compile(f.read(), "manifest.py", "exec"), g)
    return calls, frozen


def test_manifest_defaults_freeze_the_whole_stack_and_real_boards():
    calls, frozen = run_manifest()
    for path, name in frozen:
        assert os.path.isfile(path), (path, name)
    spinet = {os.path.relpath(p, ROOT) for p, n in frozen if n.startswith("spinet/")}
    assert spinet == BOARD_SIDE, (BOARD_SIDE - spinet, spinet - BOARD_SIDE)
    for p, n in frozen:  # the name in the firmware is the path under lib/ (or boards)
        assert os.path.relpath(p, ROOT) in ("lib/" + n, n), (p, n)
    boards = {n for _, n in frozen if n.startswith("boards/")}
    assert boards == {"boards/__init__.py", "boards/common.py", "boards/pico_w5500.py",
                      "boards/pico2_w5500.py", "boards/w5500_evb_pico.py",
                      "boards/pico_enc28j60.py"}
    assert ("include", "$(PORT_DIR)/boards/manifest.py", {}) in calls
    assert [c for c in calls if c[0] == "metadata"] == [("metadata", {
        "version": version(), "description": "spinet: a TCP/IP stack for SPI Ethernet chips"})]
    assert not any(c[0] in ("require", "freeze") for c in calls)


def test_manifest_options_one_driver_one_board_apps():
    calls, frozen = run_manifest(drivers="w5500", boards="pico_w5500", apps=True, port=False)
    names = {n for _, n in frozen}
    for path, name in frozen:
        assert os.path.isfile(path), (path, name)
    assert "spinet/drivers/w5500.py" in names and "spinet/drivers/enc28j60.py" not in names
    assert {n for n in names if n.startswith("boards/")} == {
        "boards/__init__.py", "boards/common.py", "boards/pico_w5500.py"}
    assert {"netboot.py", "http_server.py", "udp_echo.py", "mqtt_publish.py"} <= names
    assert ("require", "umqtt.simple", {}) in calls
    assert not any(c[0] == "include" for c in calls)
    assert not any(n.endswith(("tap.py", "packet.py")) for n in names)
