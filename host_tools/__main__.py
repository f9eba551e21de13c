"""Command line for the spinet host tools: ``python -m host_tools <command>``."""

import argparse
import sys


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the simulated-segment demo on CPython, then on the MicroPython unix port.
    (The virtual-board demo with emulated SPI chips comes with the host tools.)"""
    import os
    import shutil
    import subprocess

    here = os.path.dirname(os.path.abspath(__file__))
    script = os.path.join(here, "simdemo.py")
    root = os.path.dirname(here)
    runs = [("CPython", [sys.executable, script])]
    mpy = os.path.join(root, ".venv", "bin", "micropython")
    if not os.path.exists(mpy):
        mpy = shutil.which("micropython") or ""
    if mpy:
        runs.append(("MicroPython unix port", [mpy, script]))
    else:
        print("note: no `micropython` command; run `make demo` to install it")
    for name, cmd in runs:
        print("\n######## %s ########" % name, flush=True)
        r = subprocess.run(cmd, cwd=root, timeout=300)
        if r.returncode:
            print("demo failed on %s (exit %d)" % (name, r.returncode))
            return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host_tools", description="spinet host tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("demo", help="two spinet stacks on a simulated segment, on CPython and MicroPython")
    p.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
