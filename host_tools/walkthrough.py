"""``python -m host_tools walkthrough``: the listings of docs/WALKTHROUGH.md, made
fresh. Starts a virtual board with the emulated W5500 on the simulated link,
capturing its wire; puts spinet (source) on its flash; runs
host_tools/walkthrough_board.py on it with mpremote (the board prints its control
blocks, frame trace and SPI transactions); then lists the capture with tshark."""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


def put_spinet(flash):
    """spinet's source into the board's /lib (what `deploy --source` would copy)."""
    dst = os.path.join(flash, "lib", "spinet")
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(os.path.join(REPO, "lib", "spinet"), dst,
                    ignore=shutil.ignore_patterns("__pycache__"))


def tshark_listing(pcap):
    exe = shutil.which("tshark")
    if not exe:
        return "(tshark is not installed: `apt-get install tshark` to list the capture)"
    # The echo dissector would hide the TCP fields of the data segments.
    r = subprocess.run([exe, "-r", pcap, "--disable-protocol", "echo",
                        "-o", "tcp.relative_sequence_numbers:TRUE",
                        "-T", "fields", "-E", "separator=\t", "-e", "frame.number",
                        "-e", "frame.time_relative", "-e", "_ws.col.Source",
                        "-e", "_ws.col.Destination", "-e", "_ws.col.Protocol",
                        "-e", "_ws.col.Info"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode:
        return "tshark failed: " + r.stderr.strip()
    rows = []
    for ln in r.stdout.splitlines():
        f = ln.split("\t")
        if len(f) == 6:
            rows.append("%3s %8.3f  %-10s -> %-10s %-5s %s" % (
                f[0], float(f[1]), f[2], f[3], f[4], f[5]))
    return "\n".join(rows)


def run(out_dir=None, mpremote=None):
    from host_tools.vboard import VBoard

    mpremote = mpremote or os.path.join(os.path.dirname(sys.executable), "mpremote")
    work = out_dir or tempfile.mkdtemp(prefix="spinet-walk-")
    os.makedirs(work, exist_ok=True)
    flash = os.path.join(work, "flash")
    os.makedirs(os.path.join(flash, "lib"), exist_ok=True)
    put_spinet(flash)
    pcap = os.path.join(work, "walkthrough.pcap")
    with VBoard(flash=flash, board="sim_w5500", capture=pcap) as vb:
        print("$ python -m host_tools vboard --board sim_w5500 --capture %s" % pcap)
        print(vb.device)
        print("$ mpremote connect %s run host_tools/walkthrough_board.py" % vb.device,
              flush=True)
        r = subprocess.run([mpremote, "connect", vb.device, "run",
                            os.path.join(HERE, "walkthrough_board.py")],
                           capture_output=True, text=True, timeout=120)
        sys.stdout.write(r.stdout.replace("\r\n", "\n"))
        if r.returncode:
            sys.stdout.write(r.stderr)
            return 1
    print("\n== 8. the same connection in the capture")
    print("$ tshark -r %s" % pcap)
    print(tshark_listing(pcap))
    return 0


def main(args):
    return run(args.out)
