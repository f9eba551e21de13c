# pytest setup for the CPython run of the test suite.
# Same import paths as tests/mprun.py (the MicroPython runner):
#   lib  -> import spinet        repo root -> import boards.sim...
#   tests -> shared helpers (import support)
import os
import sys

_TESTS = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_TESTS)
for _p in (_TESTS, _ROOT, os.path.join(_ROOT, "lib")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# tests/mpy/ holds MicroPython-only tests; only tests/mprun.py runs them.
collect_ignore_glob = ["mpy/*"]
