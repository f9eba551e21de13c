# The long fuzz campaign behind `make fuzz`: atheris on the frame-in path for
# FUZZ_SECONDS (default 600) with the corpus kept in build/fuzz/corpus between runs,
# then coverage.py over the seeds plus everything the fuzzer kept, on the receive-path
# modules of lib/spinet. Prints inputs run, corpus size, coverage and crashes; exits 1
# if any crash was found (the inputs are in build/fuzz/crashes/).
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SEEDS = os.path.join(ROOT, "tests", "corpus", "frames")
WORK = os.path.join(ROOT, "build", "fuzz")
# The modules a received frame can reach (drivers, aio, the socket API's blocking
# calls and the trace printer are exercised by other tests, not by frames).
RX_PATH = ["lib/spinet/%s.py" % m for m in ("iface", "arp", "ipv4", "icmp", "udp", "tcp",
                                             "dns", "dhcp", "ring")] + ["lib/spinet/wire/*"]


def main():
    seconds = int(os.environ.get("FUZZ_SECONDS", "600"))
    corpus = os.path.join(WORK, "corpus")
    crashes = os.path.join(WORK, "crashes")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(crashes, exist_ok=True)
    before = set(os.listdir(crashes))
    t0 = time.time()
    p = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_frames.py"),
                        "-max_total_time=%d" % seconds, "-print_final_stats=1",
                        "-artifact_prefix=" + crashes + "/", corpus, SEEDS],
                       stderr=subprocess.PIPE, text=True, timeout=seconds + 300, cwd=ROOT)
    wall = time.time() - t0
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", p.stderr)
    runs = int(m.group(1)) if m else 0
    cov = re.findall(r"cov: (\d+) ft: (\d+)", p.stderr)
    new = sorted(set(os.listdir(crashes)) - before)
    if new:
        sys.stderr.write(p.stderr[-4000:])
    data = os.path.join(WORK, "coverage")
    subprocess.run([sys.executable, "-m", "coverage", "run", "--data-file=" + data,
                    "--source=lib/spinet", os.path.join(HERE, "fuzz_frames.py"), "--replay",
                    SEEDS, corpus], check=False, cwd=ROOT, timeout=1800)
    rep = subprocess.run([sys.executable, "-m", "coverage", "report", "--data-file=" + data,
                          "--include=" + ",".join(RX_PATH)], stdout=subprocess.PIPE, text=True,
                         cwd=ROOT)
    print(rep.stdout)
    total = [ln for ln in rep.stdout.splitlines() if ln.startswith("TOTAL")]
    print("fuzz: %d inputs in %.0f s (%.0f/s), corpus %d files, libFuzzer edges %s, "
          "rx-path line coverage %s, crashes %d (rc %d)" % (
              runs, wall, runs / wall if wall else 0, len(os.listdir(corpus)),
              cov[-1][0] if cov else "?", total[0].split()[-1] if total else "?", len(new),
              p.returncode))
    for n in new:
        print("  crash input:", os.path.join(crashes, n))
    return 1 if new or p.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
