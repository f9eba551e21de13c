# spinet.aio — spinet under MicroPython's asyncio, unchanged user code.
#
#   import asyncio, sys, spinet
#   from spinet import socket
#   sys.modules["socket"] = socket   # asyncio's open_connection/start_server import it
#   async def main():
#       spinet.start(nic)            # this module's start()
#       srv = await asyncio.start_server(handler, "0.0.0.0", 80)
#       ...
#
# What stock asyncio does with spinet sockets. asyncio waits on streams through
# select.poll; a spinet socket is an io.IOBase whose ioctl(POLL) drives the stack
# (nic.poll()) before it answers, so that works without help. But:
# - On the unix port select.poll sleeps in the kernel's poll() for 1 ms before it
#   asks any non-fd object (MICROPY_PY_SELECT_IOCTL_CALL_PERIOD_MS, extmod/modselect.c),
#   even with a zero timeout: while one spinet socket is registered, every pass of
#   asyncio's scheduler costs 1 ms (a sleep_ms(0), a drain(), a wake-up). Measured:
#   3.6 us per task switch with nothing registered, 1140 us with one such object.
# - On a board select.poll asks every object once, then waits for an event (an
#   interrupt) or the timeout; a polled SPI chip raises none.
# - When no socket is registered (every task sleeping), nothing calls nic.poll():
#   ARP, ping, TCP retransmissions, delayed ACKs and TIME_WAIT stall.
#
# start() replaces asyncio's I/O queue (asyncio.core._io_queue, the object its
# streams and scheduler use to wait) by IOQueue below. It keeps spinet sockets out
# of select.poll and answers for them itself: each scheduler pass runs nic.poll()
# once and wakes the tasks whose sockets are ready. Then it waits until the next
# task is due, but no longer than the stack's next timer (nic.poll_at()):
# - with a driver that has a file descriptor (drv.fileno(): AF_PACKET, TAP), in
#   select.poll on that fd together with any other streams (real fds, TLS objects),
#   so the kernel wakes the loop the moment a frame arrives: wake-up latency is the
#   kernel's, not a poll period;
# - otherwise (an SPI chip) in the driver's own wait(): its INT pin or its polling
#   of the chip, or, when other streams are waiting too, in select.poll 1 ms at a time.
#
# Needed whenever a program uses asyncio with spinet. Call it after any
# asyncio.new_event_loop() (which makes a new queue); stop() puts the old one back.

import select

try:
    from asyncio import core  # type: ignore[attr-defined]
except ImportError:  # firmware before 1.21 names it uasyncio
    from uasyncio import core  # type: ignore

from . import iface
from .compat import const, ticks_diff
from .socket import socket as _Socket

_RD = const(0x01)  # select.POLLIN etc., as MicroPython's streams define them
_WR = const(0x04)
_ERR = const(0x08)
_HUP = const(0x10)
_ENODEV = const(19)

IDLE_MS = const(1000)  # longest wait with no task and no stack timer due


def _driver_fd(nic):
    f = getattr(nic._drv, "fileno", None)
    if f is None:
        return -1
    try:
        fd = f()
    except OSError:
        return -1
    return fd if isinstance(fd, int) and fd >= 0 else -1


def _mask(sm):
    m = 0
    if sm[0] is not None:
        m |= _RD
    if sm[1] is not None:
        m |= _WR
    return m


class IOQueue:
    """asyncio's I/O queue with spinet sockets answered directly. Same interface
    and map layout as asyncio.core.IOQueue: map[id(stream)] = [reader, writer,
    stream]; a waiting task's .data is this queue (so cancel() can remove it)."""

    def __init__(self, nic):
        self.nic = nic
        self.map = {}
        self.poller = select.poll()
        self._others = 0  # streams registered in poller (not spinet sockets)
        self._fd = _driver_fd(nic)
        if self._fd >= 0:
            self.poller.register(self._fd, _RD)

    def _add(self, s, idx, task):
        sm = self.map.get(id(s))
        ours = isinstance(s, _Socket)
        if sm is None:
            sm = [None, None, s]
            sm[idx] = task
            self.map[id(s)] = sm
            if not ours:
                self.poller.register(s, _mask(sm))
                self._others += 1
        else:
            sm[idx] = task
            if not ours:
                self.poller.modify(s, _mask(sm))
        task.data = self

    def _dequeue(self, s):
        del self.map[id(s)]
        if not isinstance(s, _Socket):
            self.poller.unregister(s)
            self._others -= 1

    def queue_read(self, s):
        self._add(s, 0, core.cur_task)

    def queue_write(self, s):
        self._add(s, 1, core.cur_task)

    def remove(self, task):
        while True:
            found = None
            for k in self.map:
                sm = self.map[k]
                if sm[0] is task or sm[1] is task:
                    found = sm[2]
                    break
            if found is None:
                return
            self._dequeue(found)

    def _wake(self, sm, ev):
        """Schedule the tasks of entry sm that event mask ev satisfies."""
        if ev & (_RD | _ERR | _HUP) and sm[0] is not None:
            core._task_queue.push(sm[0])
            sm[0] = None
        if ev & (_WR | _ERR | _HUP) and sm[1] is not None:
            core._task_queue.push(sm[1])
            sm[1] = None
        if sm[0] is None and sm[1] is None:
            self._dequeue(sm[2])
        elif not isinstance(sm[2], _Socket):
            self.poller.modify(sm[2], _mask(sm))

    def _ours(self):
        """Drive the stack once, then wake every task whose spinet socket is ready.
        True if any was woken."""
        self.nic.poll()
        woke = False
        while True:  # rescan after each wake: _wake() may delete from the map
            hit = None
            ev = 0
            for k in self.map:
                sm = self.map[k]
                s = sm[2]
                if isinstance(s, _Socket):
                    ev = s._ready(_mask(sm))
                    if ev:
                        hit = sm
                        break
            if hit is None:
                return woke
            self._wake(hit, ev)
            woke = True

    def wait_io_event(self, dt):
        """Wait up to dt ms (-1: until some task is woken), as asyncio's own does."""
        if dt >= 0:
            self._pass(dt)
            return
        while not self._pass(-1):
            pass

    def _pass(self, dt):
        """One wait of at most dt ms (-1: up to the next stack timer or IDLE_MS);
        True if a task was woken."""
        nic = self.nic
        if self._ours():
            return True
        due = nic.poll_at() if nic.active() else None  # inactive: no timers run
        if due is not None:
            d = ticks_diff(due, nic._now())
            if d < 0:
                d = 0
            if dt < 0 or d < dt:
                dt = d
        if dt < 0 or dt > IDLE_MS:
            dt = IDLE_MS
        woke = False
        if self._others or self._fd >= 0:
            if self._fd < 0 and dt > 1:
                dt = 1  # nothing else would tell us of a frame: look again each ms
            for s, ev in self.poller.ipoll(dt):
                if isinstance(s, int):
                    continue  # the driver's fd: the frames are taken below
                sm = self.map.get(id(s))
                if sm is not None:
                    self._wake(sm, ev)
                    woke = True
        elif dt > 0:
            nic.wait(dt)
        return self._ours() or woke


class Pump:
    """What start() returns: stop() gives asyncio back the queue it had."""

    def __init__(self, nic):
        self.nic = nic
        self.queue = IOQueue(nic)
        self.fd = self.queue._fd
        self._old = core._io_queue
        _move(self._old, self.queue)
        core._io_queue = self.queue

    def stop(self):
        if core._io_queue is self.queue:
            _move(self.queue, self._old)
            core._io_queue = self._old


def _move(src, dst):
    """Hand every waiting task from one I/O queue to the other."""
    for k in list(src.map):
        sm = src.map[k]
        # [reader, writer, stream] here and in 1.2x asyncio; newer asyncio has
        # [reader, pri, writer, stream]: the reader is first, the writer and the
        # stream last.
        s = sm[-1]
        waiting = (sm[0], sm[-2])
        src._dequeue(s)
        for idx in (0, 1):
            task = waiting[idx]
            if task is not None:
                if isinstance(dst, IOQueue):
                    dst._add(s, idx, task)
                else:  # asyncio's own queue files the current task
                    saved = core.cur_task
                    core.cur_task = task
                    (dst.queue_read if idx == 0 else dst.queue_write)(s)
                    core.cur_task = saved


def start(nic=None):
    """Run nic (default: the most recently activated Interface) inside asyncio's
    scheduler from now on, before or inside asyncio.run(); returns a Pump
    (pump.stop() undoes it)."""
    nic = nic or iface.default
    if nic is None:
        raise OSError(_ENODEV)
    return Pump(nic)


def use_as_socket():
    """Make `import socket` give spinet.socket (what asyncio's streams import), the
    way firmware/socket.py does on a board. Returns the module it replaced (or
    None). Import other socket users (host drivers) before calling it."""
    import sys

    from . import socket as _spinet_socket
    old = sys.modules.get("socket")
    sys.modules["socket"] = _spinet_socket
    return old
