# The raw-frame ceiling (CPython, inside the lab's namespace): the cheapest possible
# user-space receiver on a TAP -- a bare os.read() loop that only counts frames -- while
# the kernel sends full-size frames into it (host_tools/bench/kpeer.py blast).
#
#   tapread.py IFNAME SECONDS
#
# Prints "ready" once the TAP is operational, then, SECONDS after the first frame,
# "ceiling frames=N bytes=B full=F secs=S cpu_ms=C" (full: frames of 1514 bytes).
import fcntl
import os
import signal
import struct
import sys
import time


class Stop(Exception):
    pass


def main(ifname, secs):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH14s", ifname.encode(), 0x0002 | 0x1000, b""))
    end = time.monotonic() + 3
    while time.monotonic() < end:
        with open("/sys/class/net/%s/operstate" % ifname) as f:
            if f.read().strip() == "up":
                break
        time.sleep(0.01)
    print("ready", flush=True)

    def stop(*_a):
        raise Stop()

    signal.signal(signal.SIGALRM, stop)
    buf = bytearray(2048)
    os.readv(fd, [buf])  # the first frame starts the clock
    frames = full = nbytes = 0
    c0 = os.times()
    t0 = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, secs)
    read = os.readv
    try:
        while True:
            n = read(fd, [buf])
            frames += 1
            nbytes += n
            if n == 1514:
                full += 1
    except Stop:
        pass
    t1 = time.monotonic()
    c1 = os.times()
    cpu = (c1.user + c1.system - c0.user - c0.system) * 1000
    print("ceiling frames=%d bytes=%d full=%d secs=%.3f cpu_ms=%d"
          % (frames, nbytes, full, t1 - t0, cpu), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
