# A scripted LAN driver for byte-exact packet-trace tests: the test injects the
# frames the stack receives and inspects the frames it sent. No segment, no faults.
#
# preload()/keep=False turn it into a replay source for allocation measurements:
# recv_into() copies one preallocated frame and send() only counts, so under
# micropython.heap_lock() any MemoryError comes from the stack, not from here.


class MockLan:
    def __init__(self, mac, clock=None, keep=True):
        self.mac = bytes(mac)
        self.clock = clock
        self.up = True
        self.keep = keep  # False: send() only counts (no storage, no allocation)
        self.sent = []
        self.n_sent = 0  # frames passed to send()
        self.n_bytes = 0  # bytes passed to send()
        self.rx = []  # injected frames, oldest first
        self.oversize = 0  # frames dropped by recv_into() because buf was too small
        self._pre = None  # preloaded frame (bytearray, allocated once)
        self._pre_len = 0
        self.replay_left = 0
        self.replayed = 0

    # -- test side --
    def inject(self, frame):
        self.rx.append(bytes(frame))

    def take(self):
        s = self.sent
        self.sent = []
        return s

    def preload(self, frame, count=1):
        # Replay `frame` on the next `count` recv_into() calls (after injected frames).
        # Exactly len(frame) bytes, so recv_into copies it whole without slicing it.
        self._pre = bytearray(frame)
        self._pre_len = len(frame)
        self.replay_left = count
        self.replayed = 0

    # -- driver side --
    def send(self, frame):
        self.n_sent += 1
        self.n_bytes += len(frame)
        if self.keep:
            self.sent.append(bytes(frame))

    def recv_into(self, buf):
        if self.rx:
            f = self.rx.pop(0)
            n = len(f)
        elif self.replay_left > 0:
            self.replay_left -= 1
            self.replayed += 1
            f = self._pre
            n = self._pre_len
        else:
            return 0
        if n > len(buf):
            self.oversize += 1
            return 0
        buf[:n] = f  # slice assignment into bytearray/memoryview does not allocate
        return n

    def link_up(self):
        return self.up

    def wait(self, timeout_ms):
        if self.rx or self.replay_left > 0:
            return
        if self.clock is not None and timeout_ms > 0:
            self.clock.advance(timeout_ms)
