"""PyTCP for the throughput comparison, in a temporary venv (never committed: GPL-3.0).

PyTCP 3.0.9 declares Python >= 3.14 and uses PEP 758 ``except A, B:``; no 3.14 can be
installed here, so it runs on pyenv's CPython 3.13.0 after two mechanical back-ports
applied to the installed copy (not to any file of ours):

* ``except A, B:`` -> ``except (A, B):`` (17 places in 3.0.9);
* ``from __future__ import annotations`` in every module (3.14 evaluates annotations
  lazily, PEP 649; 3.13 needs the future import for the forward references).

The wheels come from PyPI through pip (``--python-version 3.14 --only-binary=:all:``)
and are installed with ``--ignore-requires-python``.
"""

import ast
import os
import re
import shutil
import subprocess

VERSION = "3.0.9"
DISTS = ["pytcp==" + VERSION, "pytcp-net_addr==" + VERSION, "pytcp-net_proto==" + VERSION]
DEFAULT_DIR = os.environ.get("SPINET_PYTCP_VENV", "/tmp/spinet-bench-pytcp")
_EXCEPT = re.compile(r"^(\s*except\s+)([^():\n]+,[^():\n]+?)(\s*(?:as\s+\w+\s*)?:)", re.M)


def base_python():
    """pyenv's CPython 3.13.0, or None."""
    try:
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        root = os.path.expanduser("~/.pyenv")
    exe = os.path.join(root or os.path.expanduser("~/.pyenv"), "versions", "3.13.0", "bin",
                       "python3")
    return exe if os.access(exe, os.X_OK) else None


def _backport_file(path):
    """Apply both back-ports to one module; returns the number of except clauses fixed."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    src, n = _EXCEPT.subn(lambda m: "%s(%s)%s" % (m.group(1), m.group(2).strip(), m.group(3)),
                          src)
    if "from __future__ import annotations" not in src:
        tree = ast.parse(src)
        body = tree.body
        line = 0  # insert after the docstring and any existing __future__ imports
        i = 0
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None),
                                                                 ast.Constant) \
                and isinstance(body[0].value.value, str):
            line = body[0].end_lineno
            i = 1
        while i < len(body) and isinstance(body[i], ast.ImportFrom) and \
                body[i].module == "__future__":
            line = body[i].end_lineno
            i += 1
        lines = src.splitlines(True)
        lines.insert(line, "from __future__ import annotations\n")
        src = "".join(lines)
    with open(path, "w", encoding="utf-8") as f:
        f.write(src)
    return n


def site_packages(venv):
    lib = os.path.join(venv, "lib")
    for d in sorted(os.listdir(lib)):
        sp = os.path.join(lib, d, "site-packages")
        if os.path.isdir(sp):
            return sp
    raise RuntimeError("no site-packages in " + venv)


def ensure(log, venv=DEFAULT_DIR):
    """Build (once) the patched PyTCP venv; returns its python, or raises RuntimeError
    saying what is missing."""
    py = os.path.join(venv, "bin", "python")
    stamp = os.path.join(venv, ".spinet-backported-" + VERSION)
    if os.path.exists(stamp) and os.access(py, os.X_OK):
        return py
    base = base_python()
    if base is None:
        raise RuntimeError("pyenv CPython 3.13.0 not found ($(pyenv root)/versions/3.13.0)")
    shutil.rmtree(venv, ignore_errors=True)
    log("pytcp: creating %s on %s" % (venv, base))
    subprocess.run([base, "-m", "venv", venv], check=True, timeout=300)
    wheels = os.path.join(venv, "wheels")
    log("pytcp: pip download %s (wheels for 3.14)" % " ".join(DISTS))
    subprocess.run([py, "-m", "pip", "download", "-q", "-d", wheels, "--python-version", "3.14",
                    "--only-binary=:all:"] + DISTS, check=True, timeout=600)
    whl = sorted(os.path.join(wheels, w) for w in os.listdir(wheels) if w.endswith(".whl"))
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
                    "--ignore-requires-python"] + whl, check=True, timeout=600)
    # Patched by the venv's own 3.13 (PyTCP uses 3.12+ syntax our ast cannot parse).
    r = subprocess.run([py, os.path.abspath(__file__), site_packages(venv)], check=True,
                       timeout=300, stdout=subprocess.PIPE, text=True)
    fixed, files = (int(x) for x in r.stdout.split())
    log("pytcp: back-ported %d except clauses, future import in %d modules" % (fixed, files))
    subprocess.run([py, "-c", "import pytcp.daemon.__main__, pytcp.client, pytcp.socket"],
                   check=True, timeout=120)
    with open(stamp, "w") as f:
        f.write("%d %d\n" % (fixed, files))
    return py


def backport_tree(sp):
    fixed = files = 0
    for pkg in ("pytcp", "net_addr", "net_proto"):
        for dirpath, _dirs, names in os.walk(os.path.join(sp, pkg)):
            for name in names:
                if name.endswith(".py"):
                    fixed += _backport_file(os.path.join(dirpath, name))
                    files += 1
    return fixed, files


if __name__ == "__main__":  # run by ensure() under the venv's python: patch a site-packages
    import sys

    print("%d %d" % backport_tree(sys.argv[1]))
