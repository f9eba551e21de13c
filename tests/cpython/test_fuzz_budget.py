# The bounded fuzz budget CI runs every time (the long campaign is `make fuzz`):
# the seed corpus and every saved crash input replayed through the frame-in world of
# tests/fuzz/world.py, the invariant checker shown to catch a broken table, and the
# atheris harness run for a fixed number of inputs. Any crash fails.
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FUZZ = os.path.join(ROOT, "tests", "fuzz")
SEEDS = os.path.join(ROOT, "tests", "corpus", "frames")
REGRESS = os.path.join(FUZZ, "regress")
sys.path.insert(0, FUZZ)

import world  # noqa: E402

ATHERIS_RUNS = 4000
ATHERIS_SECONDS = 25


def inputs(d):
    out = []
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n), "rb") as f:
            out.append((n, f.read()))
    return out


def test_seed_corpus_reaches_every_protocol():
    seeds = inputs(SEEDS)
    assert len(seeds) >= 40
    total = {}
    live = 0
    for name, data in seeds:
        w = world.fresh(data)
        before = w.nic.stats()
        world.feed(w, data)
        live += world.live(w, data[:8])
        after = w.nic.stats()
        for k in after:
            total[k] = total.get(k, 0) + after[k] - before.get(k, 0)
    # every parser was reached and took something it accepts
    for k in ("arp_rx", "icmp_echo_rx", "icmp_error_rx", "udp_rx", "ip_reasm_ok", "tcp_rx",
              "tcp_ooo", "tcp_rst_rx", "tcp_challenge_ack", "rx_ethertype", "rx_runt",
              "ip_proto", "dns_rx", "dhcp_rx", "dhcp_offer"):
        assert total.get(k, 0) > 0, k
    assert live >= 30  # most seeds leave the connection alive, and it passed data


def test_saved_crash_inputs_replay_clean():
    regress = inputs(REGRESS)
    assert regress
    for name, data in regress:
        world.run(data)


def test_checker_catches_broken_tables():
    w = world.make_world()
    world.check(w)
    w.cb.rx.head = w.cb.rx.size  # ring index out of range
    with pytest.raises(AssertionError):
        world.check(w)
    w = world.make_world()
    w.nic._count[0] -= 1  # a counter going backwards
    with pytest.raises(AssertionError):
        world.check(w)
    w = world.make_world()
    w.cb.asm.n = 1
    w.cb.asm.start[0], w.cb.asm.end[0] = 10, 10 ** 6  # range past the window
    with pytest.raises(AssertionError):
        world.check(w)
    w = world.make_world()
    w.nic._tw.append(None)  # a table grew
    with pytest.raises(AssertionError):
        world.check(w)


def test_liveness_notices_a_dead_connection():
    w = world.make_world()
    w.lan.inject = lambda frame: None  # nothing the peer sends arrives
    with pytest.raises(AssertionError):
        world.live(w, b"dead")
    w = world.make_world()
    w.lan.keep = False  # nothing the stack sends arrives
    with pytest.raises(AssertionError):
        world.live(w, b"dead")
    w = world.make_world()
    assert world.live(w, b"fine")


def have_atheris():
    try:
        import atheris  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            raise
        return False
    return True


@pytest.mark.skipif(not have_atheris(), reason="atheris not installed (requirements-dev.txt)")
def test_atheris_budget():
    work = tempfile.mkdtemp(prefix="spinet-fuzz-")
    try:
        corpus = os.path.join(work, "corpus")
        os.mkdir(corpus)
        p = subprocess.run(
            [sys.executable, os.path.join(FUZZ, "fuzz_frames.py"), "-runs=%d" % ATHERIS_RUNS,
             "-max_total_time=%d" % ATHERIS_SECONDS, "-seed=1", "-print_final_stats=1",
             "-artifact_prefix=" + work + "/", corpus, SEEDS],
            capture_output=True, text=True, timeout=ATHERIS_SECONDS + 30, cwd=ROOT)
        err = p.stderr
        crashes = [n for n in os.listdir(work) if n.startswith(("crash-", "timeout-", "oom-"))]
        assert p.returncode == 0 and not crashes, (crashes, err[-3000:])
        runs = [ln for ln in err.splitlines() if ln.startswith("stat::number_of_executed_units")]
        assert runs, err[-2000:]
        n = int(runs[0].split(":")[-1])
        assert n >= 500, err[-2000:]  # the budget really ran inputs, not just the seeds
        print("atheris inputs run:", n)
    finally:
        shutil.rmtree(work)
