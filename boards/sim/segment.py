# A simulated Ethernet segment on virtual time: a hub that repeats every frame a
# port sends to every other port whose link is up (stacks filter by MAC themselves),
# with seeded per-sender faults (loss, duplication, reordering, corruption, delay).
#
# Scheduling: each receiving port keeps its in-flight frames in two parallel lists
# ordered by due time (insertion scans from the end, so the common in-order case is
# an append and equal due times keep send order). The run loop delivers due frames,
# polls the hosts, then jumps the clock straight to the next event instead of
# stepping millisecond by millisecond.
from boards.sim.rng import XorShift

MAX_FRAME = 1514  # Ethernet frame without FCS
SPIN_LIMIT = 10000  # passes at one instant before time is forced forward (livelock guard)


class SimPort:
    # A LAN driver per the spinet contract: mac, send, recv_into, link_up, wait.

    def __init__(self, seg, index, mac, rx_slots, name):
        self.seg = seg
        self.index = index
        self.mac = bytes(mac)
        self.name = name
        self.rx_slots = rx_slots
        # The hosts that run on the board behind this port (its Interface and the apps
        # using its sockets; see Segment.add_host): one program, so none of them runs
        # while its driver waits.
        self.owners = []
        self._up = True
        self._rx = []  # delivered frames waiting for recv_into, oldest first
        self._due = []  # in-flight frames to this port: due times (absolute ms)...
        self._fly = []  # ...and the frames, same order
        self.stats = {"tx": 0, "rx": 0, "lost": 0, "dup": 0, "corrupt": 0,
                      "reordered": 0, "overflow": 0, "oversize": 0, "down": 0}
        # Reproducible per-port fault stream: derived from segment seed and port index.
        self._rng = XorShift((seg.seed * 0x9E3779B1 + (index + 1) * 0x85EBCA6B) & 0xFFFFFFFF)
        self.faults()

    def __repr__(self):
        return "<SimPort %s>" % self.name

    def faults(self, loss=0.0, dup=0.0, reorder=0.0, corrupt=0.0, delay_ms=0, reorder_ms=5):
        # Faults apply to frames THIS port sends (the this->others direction).
        self.loss = loss
        self.dup = dup
        self.reorder = reorder
        self.corrupt = corrupt
        self.delay_ms = delay_ms
        self.reorder_ms = reorder_ms
        self._faulty = bool(loss or dup or reorder or corrupt or delay_ms)

    def link(self, up=True):
        self._up = bool(up)

    # -- LAN driver contract --
    def link_up(self):
        return self._up

    def send(self, frame):
        st = self.stats
        if not self._up:
            st["down"] += 1
            return
        n = len(frame)
        if n > MAX_FRAME:
            st["oversize"] += 1
            return
        seg = self.seg
        data = bytes(frame)  # the caller reuses its buffer
        now = seg.clock.now
        st["tx"] += 1
        seg._moves += 1
        for w in seg._taps:  # capture what the stack emitted, before faults
            w.write(data, now)
        due = now
        dup = -1
        if self._faulty:
            rng = self._rng
            if self.loss and rng.chance(self.loss):
                st["lost"] += 1
                return
            due += self.delay_ms
            if self.reorder and rng.chance(self.reorder):
                due += self.reorder_ms  # later frames overtake this one
                st["reordered"] += 1
            if self.corrupt and n and rng.chance(self.corrupt):
                b = bytearray(data)
                b[rng.below(n)] ^= 1 << rng.below(8)
                data = bytes(b)
                st["corrupt"] += 1
            if self.dup and rng.chance(self.dup):
                dup = due + rng.below(2)  # second copy 0-1 ms later
                st["dup"] += 1
        for p in seg.ports:
            if p is self:
                continue
            if not p._up:
                p.stats["down"] += 1
                continue
            p._enqueue(due, data)
            if dup >= 0:
                p._enqueue(dup, data)

    def recv_into(self, buf):
        rx = self._rx
        if not rx:
            return 0
        f = rx.pop(0)
        self.seg._moves += 1
        n = len(f)
        if n > len(buf):
            self.stats["oversize"] += 1
            return 0
        buf[:n] = f
        self.stats["rx"] += 1
        return n

    def wait(self, timeout_ms):
        # Block (in virtual time) until a frame is ready for this port, timeout_ms
        # elapsed, or an owner's next timer (poll_at) is due. Other hosts keep
        # running meanwhile; the owners are not polled (their board is the one
        # waiting: a board's program is single-threaded, so its apps cannot run
        # inside its driver).
        if self._rx or timeout_ms <= 0:
            return
        seg = self.seg
        seg._loop(seg.clock.now + timeout_ms, None, self, self.owners)

    # -- segment internals --
    def _enqueue(self, due, data):
        d = self._due
        i = len(d)
        while i and d[i - 1] > due:
            i -= 1
        if i == len(d):
            d.append(due)
            self._fly.append(data)
        else:
            d.insert(i, due)
            self._fly.insert(i, data)

    def _deliver(self, now):
        # Move every frame due by `now` into the rx queue; tail-drop on overflow.
        d = self._due
        k = 0
        nd = len(d)
        while k < nd and d[k] <= now:
            k += 1
        if not k:
            return
        fly = self._fly
        if self._up:
            rx = self._rx
            space = self.rx_slots - len(rx)
            if k > space:
                self.stats["overflow"] += k - space
                rx.extend(fly[:space])
            else:
                rx.extend(fly[:k])
        else:
            self.stats["down"] += k
        del d[:k]
        del fly[:k]
        self.seg._moves += 1


class Segment:
    def __init__(self, clock, seed=1):
        self.clock = clock
        self.seed = seed
        self.ports = []
        self.hosts = []
        self._taps = []
        self._moves = 0  # bumped by every send/deliver/receive: "something happened"

    def port(self, mac, rx_slots=64, name=None):
        i = len(self.ports)
        p = SimPort(self, i, mac, rx_slots, name if name is not None else "p%d" % i)
        self.ports.append(p)
        return p

    def add_host(self, obj, port=None):
        # obj has poll() (never blocks) and poll_at() -> ticks or None. Passing the
        # port of the board obj runs on (the Interface that drives it, or an app using
        # that Interface's sockets) lets that port's wait() skip polling it.
        if obj not in self.hosts:
            self.hosts.append(obj)
        if port is not None and obj not in port.owners:
            port.owners.append(obj)

    def remove_host(self, obj):
        if obj in self.hosts:
            self.hosts.remove(obj)
        for p in self.ports:
            if obj in p.owners:
                p.owners.remove(obj)

    def tap(self, writer):
        self._taps.append(writer)

    def run(self, ms):
        self._loop(self.clock.now + ms, None, None, None)

    def run_until(self, pred, timeout_ms):
        if pred():
            return True
        return self._loop(self.clock.now + timeout_ms, pred, None, None)

    def _deliver(self, now):
        for p in self.ports:
            if p._due and p._due[0] <= now:
                p._deliver(now)

    def _loop(self, end, pred, port, skip):
        # Returns True when stopped by pred() or a frame for `port`, else False.
        # skip: hosts not polled (the waiting board's), or None.
        clock = self.clock
        spins = 0
        while True:
            now = clock.now
            self._deliver(now)
            if port is not None and port._rx:
                return True
            moves = self._moves
            for h in self.hosts:
                if skip is None or h not in skip:
                    h.poll()
            self._deliver(now)  # zero-delay frames the hosts just sent
            if port is not None and port._rx:
                return True
            if pred is not None and pred():
                return True
            if self._moves != moves and spins < SPIN_LIMIT:
                # Hosts did work at this instant and may have more (bounded poll()):
                # poll again before letting time move.
                spins += 1
                continue
            spins = 0
            if now >= end:
                return False
            # Next event: earliest in-flight frame, earliest host timer, or end.
            t = end
            for p in self.ports:
                if p._due and p._due[0] < t:
                    t = p._due[0]
            for h in self.hosts:
                pa = h.poll_at()
                if pa is None:
                    continue
                a = clock.until(pa)
                if skip is not None and h in skip:
                    if a <= now:
                        return False  # the waiting board has a timer due: let it run
                elif a <= now:
                    a = now + 1  # already polled at this instant: don't spin on it
                if a < t:
                    t = a
            if t <= now:
                t = now + 1
            clock.set(t)
