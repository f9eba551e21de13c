"""Command line for the spinet host tools: ``python -m host_tools <command>``."""

import argparse
import sys


def cmd_demo(args: argparse.Namespace) -> int:
    print("spinet demo: PLACEHOLDER")
    print("The virtual-board demo (MicroPython unix port on a pseudo-terminal with")
    print("emulated SPI Ethernet hardware) arrives with issue 7.")
    print("This command does nothing else yet.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host_tools", description="spinet host tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("demo", help="virtual-board demo (placeholder until issue 7)")
    p.set_defaults(func=cmd_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
