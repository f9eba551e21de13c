# The frame fuzzer's seed corpus and saved crash inputs replayed on the MicroPython
# unix port, where the per-segment functions run as @micropython.native code (the
# atheris campaign and the property tests run the same inputs on CPython). Every
# frame goes through the invariant checker of tests/fuzz/world.py, and the live
# connection must still carry data both ways afterwards.
import os
import sys

_HERE = __file__[:__file__.rfind("/")] if "/" in __file__ else "."
_TESTS = _HERE[:_HERE.rfind("/")] if "/" in _HERE else ".."
if _TESTS + "/fuzz" not in sys.path:
    sys.path.insert(0, _TESTS + "/fuzz")

import world  # noqa: E402
from spinet import tcp  # noqa: E402


def _replay(d):
    n = 0
    live = 0
    try:
        for name in sorted(os.listdir(d)):
            with open(d + "/" + name, "rb") as f:
                data = f.read()
            w = world.fresh(data)
            world.feed(w, data)
            live += world.live(w, data[:8])
            n += 1
    finally:
        tcp.DEBUG_RANGE = False  # the heap_lock tests that run later must not allocate
    return n, live


def test_seed_corpus_native():
    n, live = _replay(_TESTS + "/corpus/frames")
    assert n >= 40 and live >= 30, (n, live)


def test_saved_crash_inputs_native():
    n, live = _replay(_TESTS + "/fuzz/regress")
    assert n >= 1
