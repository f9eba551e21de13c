# Minimal test runner for the MicroPython unix port (also runs on CPython).
#
#   micropython tests/mprun.py [-k SUBSTR] [FILE_OR_DIR ...]
#
# With no paths it runs tests/test_*.py (top level only, not tests/cpython/ etc.)
# and tests/mpy/test_*.py (MicroPython-only tests, which pytest ignores).
# Every module-level callable named test_* is called with no arguments, in
# definition order. Prints PASS/FAIL per test, a time per file, and a final line
# "N passed, N failed"; exit status 1 if anything failed.
# Restricted Python only: no pytest, pathlib, os.path, traceback, argparse.

import gc
import os
import sys

try:
    from time import ticks_diff, ticks_ms
except ImportError:  # CPython
    from time import monotonic

    def ticks_ms():
        return int(monotonic() * 1000)

    def ticks_diff(a, b):
        return a - b


def _print_exc(e):
    if hasattr(sys, "print_exception"):
        sys.print_exception(e)
    else:  # CPython
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__)


def _dirname(path):
    i = path.rfind("/")
    if i < 0:
        return "."
    if i == 0:
        return "/"
    return path[:i]


def _is_dir(path):
    try:
        return os.stat(path)[0] & 0x4000 != 0
    except OSError:
        return False


def _abspath(path):
    if path.startswith("/"):
        return path
    cwd = os.getcwd()
    if path == ".":
        return cwd
    if path.startswith("./"):
        path = path[2:]
    return cwd.rstrip("/") + "/" + path


TESTS = _abspath(_dirname(__file__))
ROOT = _dirname(TESTS)
LIB = ROOT + "/lib"

# lib -> `import spinet`; root -> `import boards.sim...`; tests -> `import support`
for _p in (TESTS, ROOT, LIB):
    if _p not in sys.path:
        sys.path.insert(0, _p)


def _discover(folder):
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    out = []
    for n in sorted(names):
        if n.startswith("test_") and n.endswith(".py"):
            out.append(folder + "/" + n)
    return out


def _display(path):
    if path.startswith(ROOT + "/"):
        return path[len(ROOT) + 1 :]
    return path


def _test_order(path, mod):
    # Definition order from the source ("def test_x(" at column 0); anything
    # else named test_* (assigned, imported) follows sorted by name.
    found = []
    try:
        f = open(path)
    except OSError:
        f = None
    if f is not None:
        with f:
            for line in f:
                if line.startswith("def test_"):
                    name = line[4:].split("(")[0].strip()
                    if name not in found:
                        found.append(name)
    names = []
    for n in found:
        if callable(getattr(mod, n, None)):
            names.append(n)
    rest = []
    for n in dir(mod):
        if n.startswith("test_") and n not in names and callable(getattr(mod, n)):
            rest.append(n)
    return names + sorted(rest)


def _import(path):
    folder = _dirname(path)
    name = path[len(folder) + 1 : -3]
    sys.modules.pop(name, None)  # tests/x and tests/mpy/x may share a basename
    sys.path.insert(0, folder)
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


def run_file(path, keyword, counts):
    shown = _display(path)
    t0 = ticks_ms()
    try:
        mod = _import(path)
    except KeyboardInterrupt:
        raise
    except BaseException as e:
        print("FAIL %s::<import> %s: %s" % (shown, type(e).__name__, e))
        _print_exc(e)
        counts[1] += 1
        return
    p = f = 0
    for name in _test_order(path, mod):
        tid = shown + "::" + name
        if keyword is not None and keyword not in tid:
            continue
        gc.collect()
        try:
            getattr(mod, name)()
        except KeyboardInterrupt:
            raise
        except BaseException as e:
            print("FAIL %s %s: %s" % (tid, type(e).__name__, e))
            _print_exc(e)
            f += 1
        else:
            print("PASS " + tid)
            p += 1
    gc.collect()
    if keyword is not None and p + f == 0:
        return  # nothing selected in this file
    print("---- %s: %d passed, %d failed in %d ms" % (shown, p, f, ticks_diff(ticks_ms(), t0)))
    counts[0] += p
    counts[1] += f


def main(argv):
    keyword = None
    paths = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-k":
            if i + 1 >= len(argv):
                print("usage: mprun.py [-k SUBSTR] [FILE_OR_DIR ...]")
                return 2
            keyword = argv[i + 1]
            i += 2
            continue
        if a.startswith("-k") and len(a) > 2:
            keyword = a[2:]
        elif a in ("-h", "--help"):
            print("usage: mprun.py [-k SUBSTR] [FILE_OR_DIR ...]")
            return 0
        else:
            paths.append(a)
        i += 1
    files = []
    if not paths:
        files = _discover(TESTS) + _discover(TESTS + "/mpy")
    for a in paths:
        a = _abspath(a.rstrip("/") or "/")
        if _is_dir(a):
            files += _discover(a)
        else:
            files.append(a)
    counts = [0, 0]
    for path in files:
        run_file(path, keyword, counts)
    print("%d passed, %d failed" % (counts[0], counts[1]))
    return 1 if counts[1] else 0


if __name__ == "__main__":
    _rc = main(sys.argv[1:])
    if _rc:
        sys.exit(_rc)
