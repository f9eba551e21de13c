# The bench tool's MicroPython-side sections (host_tools/bench: memory, size, scaling,
# profile) run in --quick mode and return well-formed rows. No figure is asserted: the
# numbers are printed by `python -m host_tools bench`, never judged by tests. The cpu
# section (callgrind) is left to the bench command itself: it takes ~30 s.
import os
import shutil

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MPY = os.path.join(ROOT, ".venv", "bin", "micropython")

pytestmark = pytest.mark.skipif(not os.path.exists(MPY) and not shutil.which("micropython"),
                                reason="no MicroPython unix port")


def _check(rows, section):
    assert rows
    for r in rows:
        assert set(r) == {"section", "name", "value", "unit", "note"}
        assert r["section"] == section
        assert isinstance(r["value"], float) and isinstance(r["name"], str)


@pytest.mark.parametrize("name", ["size", "memory", "scaling", "profile"])
def test_section_runs_quick(name):
    import importlib

    mod = importlib.import_module("host_tools.bench." + name)
    log = []
    rows = mod.run(True, log.append)
    _check(rows, name)
    assert log
    names = [r["name"] for r in rows]
    if name == "memory":
        assert any("received segment" in n for n in names)
        assert any("min heapsize" in n for n in names)
    if name == "scaling":
        assert len(rows) == 14
    if name == "profile":
        assert any(n.startswith("cpython rx:") for n in names)
        assert any(n.startswith("mpy tx:") for n in names)
