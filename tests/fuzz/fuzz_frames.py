# Coverage-guided fuzzing (atheris / libFuzzer) of spinet's frame-in path: each input
# is a sequence of frames (record format in tests/fuzz/world.py) fed to a fresh stack
# holding a listener, connections in SYN_RCVD, ESTABLISHED (data in flight) and
# FIN_WAIT_1, a TIME-WAIT entry, a UDP socket and a DNS query. After every frame the
# invariant checker runs; after the input the live connection must still carry data
# both ways. Any exception is a crash (libFuzzer writes it as crash-<sha1>).
#   .venv/bin/python tests/fuzz/fuzz_frames.py -max_total_time=600 CORPUS_DIR tests/corpus/frames
# With --replay FILE|DIR... it runs inputs without atheris (regressions, coverage runs).
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def replay(paths):
    import world
    n = 0
    for p in paths:
        files = [os.path.join(p, f) for f in sorted(os.listdir(p))] if os.path.isdir(p) else [p]
        for f in files:
            with open(f, "rb") as fh:
                world.run(fh.read())
            n += 1
    print("replayed", n, "inputs")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        replay(sys.argv[2:])
        return
    import atheris
    with atheris.instrument_imports(include=["spinet", "world", "support"]):
        import world
        import spinet.socket  # noqa: F401  (loaded lazily by the stack otherwise)
        import spinet.dhcp  # noqa: F401

    def one(data):
        world.run(data)

    atheris.Setup(sys.argv, one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
