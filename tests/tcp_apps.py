# Non-blocking TCP applications for the simulated segment, and transfer().
#
# Restricted Python (runs on CPython under pytest and on the MicroPython unix port
# under tests/mprun.py). Every app here is a segment host: poll() never blocks (all
# its sockets are non-blocking) and poll_at() returns None (its timers live in the
# Interface, which is a host of its own). Register with seg.add_host(app).
#
#   Stream   one connection end: sends `data`, hashes what it receives, closes by a
#            policy (after sending / after EOF / after `expect` bytes), or echoes.
#   Server   a listener that wraps every accepted connection in a Stream made by a
#            factory (sink, source, echo, swap...).
#   Client   a Stream that connects first (non-blocking connect, EINPROGRESS).
#   transfer(size, seed, faults, direction) runs one whole transfer on a fresh
#            pair of stacks and returns a result dict (see there).

import hashlib
import random
import struct

import support
from spinet import config, socket, tcp

EAGAIN = 11
EINPROGRESS = 115
PORT = 80
PORT2 = 81
CHUNK = 4096  # bytes offered to send() at a time


def pattern(n, seed):
    """n bytes of non-repeating data for this seed: SHA-256 of (seed, block index)
    blocks, so a byte landing at the wrong offset changes the digest."""
    out = bytearray(n + 32)
    i = 0
    k = 0
    pre = struct.pack(">I", seed & 0xFFFFFFFF)
    while k < n:
        out[k:k + 32] = hashlib.sha256(pre + struct.pack(">I", i)).digest()
        k += 32
        i += 1
    return bytes(memoryview(out)[:n])


def digest(data):
    return hashlib.sha256(data).digest()


class Stream:
    """One end of a connection, driven by poll().

    data    bytes to send (None: nothing)
    expect  close once this many bytes arrived (None: read until EOF; 0: don't read)
    echo    send back whatever arrives; close after EOF once all is echoed
    """

    def __init__(self, sock, data=None, expect=None, echo=False):
        sock.setblocking(False)
        self.s = sock
        self.data = data
        self.mv = memoryview(data) if data else None
        self.n_send = len(data) if data else 0
        self.sent = 0
        self.expect = expect
        self.echo = echo
        self.pending = bytearray()  # echo: received, not yet sent back
        self.h = hashlib.sha256()
        self.got = 0
        self.eof = False
        self.closed = False
        self.err = 0
        self.buf = bytearray(1460)
        self.bmv = memoryview(self.buf)

    def done(self):
        return self.closed

    def digest(self):
        return self.h.digest()

    def _fail(self, e):
        self.err = e.args[0] if e.args else -1
        self.closed = True
        try:
            self.s.close()
        except OSError:
            pass

    def _send(self):
        s = self.s
        while self.sent < self.n_send:
            end = self.sent + CHUNK
            if end > self.n_send:
                end = self.n_send
            try:
                m = s.send(self.mv[self.sent:end])
            except OSError as e:
                if e.args[0] == EAGAIN:
                    return True
                self._fail(e)
                return False
            if not m:
                return True
            self.sent += m
        if self.echo:
            while self.pending:
                try:
                    m = s.send(self.pending)
                except OSError as e:
                    if e.args[0] == EAGAIN:
                        return True
                    self._fail(e)
                    return False
                if not m:
                    return True
                self.pending = self.pending[m:]
        return True

    def _recv(self):
        s = self.s
        while not self.eof:
            if self.expect is not None and self.got >= self.expect:
                return True
            if self.echo and len(self.pending) >= 8192:
                return True  # let the echo drain first (bounded memory)
            try:
                n = s.recv_into(self.buf)
            except OSError as e:
                if e.args[0] == EAGAIN:
                    return True
                self._fail(e)
                return False
            if n == 0:
                self.eof = True
                return True
            chunk = self.bmv[:n]
            self.h.update(chunk)
            self.got += n
            if self.echo:
                self.pending.extend(chunk)
        return True

    def poll(self):
        if self.closed:
            return
        if not self._send():
            return
        if not self._recv():
            return
        if not self._send():  # echo what just came in
            return
        if self.sent < self.n_send or self.pending:
            return
        if self.expect is None or self.echo:
            if not self.eof:
                return
        elif self.got < self.expect:
            return
        self.closed = True
        self.s.close()

    def poll_at(self):
        return None


class Server:
    """A listener on nic:port; make(sock) -> Stream for each accepted connection."""

    def __init__(self, nic, port, make, rx=None, tx=None, backlog=4, reuse=False):
        ls = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
        if reuse:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("", port))
        ls.listen(backlog)
        ls.setblocking(False)
        self.ls = ls
        self.make = make
        self.conns = []

    def poll(self):
        ls = self.ls
        while ls is not None:
            try:
                c, _ = ls.accept()
            except OSError as e:
                if e.args[0] == EAGAIN:
                    break
                raise
            self.conns.append(self.make(c))
        for st in self.conns:
            st.poll()

    def poll_at(self):
        return None

    def close(self):
        if self.ls is not None:
            self.ls.close()
            self.ls = None


def sink(sock):
    """Read everything, hash it, close at EOF."""
    return Stream(sock)


def source(data):
    """Send data, then close (reads nothing)."""
    def make(sock):
        return Stream(sock, data=data, expect=0)
    return make


def echo(sock):
    return Stream(sock, echo=True)


def swap(data):
    """Send data while reading to EOF; close after both."""
    def make(sock):
        return Stream(sock, data=data)
    return make


class Client(Stream):
    """A Stream on a non-blocking connect()."""

    def __init__(self, nic, addr, data=None, expect=None, rx=None, tx=None):
        s = nic.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
        Stream.__init__(self, s, data=data, expect=expect)
        try:
            s.connect(addr)
        except OSError as e:
            if e.args[0] != EINPROGRESS:
                raise


class Apps:
    """Several apps as one segment host."""

    def __init__(self):
        self.apps = []

    def add(self, app):
        self.apps.append(app)
        return app

    def poll(self):
        for a in self.apps:
            a.poll()

    def poll_at(self):
        return None


# --- checks -------------------------------------------------------------------------

def blocks(nic):
    """Control blocks in use that are not listeners (TCP) - should end up empty."""
    out = []
    for s in nic._socks:
        if s is not None and not (s.kind == tcp.SOCK_STREAM and s.state == tcp.LISTEN):
            out.append(s)
    return out


def tw_used(nic):
    n = 0
    for e in nic._tw:
        if e is not None:
            n += 1
    return n


def settle(seg, nics, limit_ms=600_000):
    """Run until no connection block is left on any nic (listeners excepted), then
    TCP_TIME_WAIT_MS more. Returns (blocks_left, time_wait_left) as lists of
    netstat-style strings / counts."""
    def quiet():
        for n in nics:
            if blocks(n):
                return False
        return True
    seg.run_until(quiet, limit_ms)
    left = []
    for n in nics:
        for b in blocks(n):
            left.append(b.describe() if b.kind == tcp.SOCK_STREAM else repr(b))
    seg.run(config.TCP_TIME_WAIT_MS + 1)
    tw = 0
    for n in nics:
        tw += tw_used(n)
    return left, tw


def all_free(nic):
    for s in nic._socks:
        if s is not None:
            return False
    for e in nic._tw:
        if e is not None:
            return False
    return True


# --- a whole transfer -----------------------------------------------------------------

DIRECTIONS = ("upload", "download", "both", "both2")


def transfer(size, seed, faults=None, direction="upload", rx=None, tx=None,
             timeout_ms=3_600_000, check_clean=True, blocking=False):
    """One transfer of `size` bytes on a fresh pair (A client, B server):
    "upload" A->B, "download" B->A, "both" both ways at once on one connection,
    "both2" both ways at once on two connections. faults: SimPort.faults() keywords,
    applied to both ports. rx/tx size the rings on both ends. blocking: the client
    uses blocking calls (connect, sendall, read) instead of a Stream (not "both2").

    Returns a dict: ok (all data arrived intact, no error), bytes (received, all
    directions), sha (every digest matched), ms (virtual time to completion),
    retransmits, timeouts, fast_retransmits, dupacks (both stacks), frames (sent by
    both ports), lost/dup/reordered/corrupt (what the segment did), errors, and, if
    check_clean, left (connection blocks left after settling) and tw_left (TIME-WAIT
    entries left TCP_TIME_WAIT_MS later), clean (no block and nothing at all once
    listeners are closed)."""
    random.seed(seed)  # ISN secrets and ephemeral ports too: a seed replays exactly
    seg, clock, a, b, pa, pb = support.pair(seed=seed)
    if faults:
        pa.faults(**faults)
        pb.faults(**faults)
    up = pattern(size, seed)
    down = pattern(size, seed + 1000003)
    apps = Apps()
    seg.add_host(apps)
    servers = []
    checks = []  # (stream, expected digest, expected count) for received data
    streams = []
    addr = (support.IP_B, PORT)
    if direction == "upload":
        servers.append(Server(b, PORT, sink, rx=rx, tx=tx))
    elif direction == "download":
        servers.append(Server(b, PORT, source(down), rx=rx, tx=tx))
    elif direction == "both":
        servers.append(Server(b, PORT, swap(down), rx=rx, tx=tx))
    elif direction == "both2":
        servers.append(Server(b, PORT, sink, rx=rx, tx=tx))
        servers.append(Server(b, PORT2, source(down), rx=rx, tx=tx))
    else:
        raise ValueError("direction")
    for s in servers:
        apps.add(s)
    t0 = clock.now
    result = {"errors": []}
    if blocking:
        c = a.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
        got = b""
        try:
            c.connect(addr)
            if direction != "download":
                c.sendall(up)
            if direction != "upload":
                got = c.read(size) if direction == "both" else c.read()
        except OSError as e:
            result["errors"].append(e.args[0])
        c.close()
        if direction != "upload":
            result["client_bytes"] = len(got)
            client_ok = got == down
        else:
            client_ok = True
        done = seg.run_until(lambda: servers[0].conns and servers[0].conns[0].done(),
                             timeout_ms)
        srv = servers[0].conns[0] if servers[0].conns else None
        ok = bool(done) and client_ok and srv is not None and not srv.err
        n = len(got)
        sha = client_ok
        if srv is not None and direction != "download":
            n += srv.got
            sha = sha and srv.digest() == digest(up) and srv.got == size
            ok = ok and srv.got == size
        if srv is not None and srv.err:
            result["errors"].append(srv.err)
    else:
        if direction == "upload":
            streams.append(apps.add(Client(a, addr, data=up, expect=0, rx=rx, tx=tx)))
        elif direction == "download":
            cl = apps.add(Client(a, addr, rx=rx, tx=tx))
            streams.append(cl)
            checks.append((cl, digest(down), size))
        elif direction == "both":
            cl = apps.add(Client(a, addr, data=up, expect=size, rx=rx, tx=tx))
            streams.append(cl)
            checks.append((cl, digest(down), size))
        else:
            streams.append(apps.add(Client(a, addr, data=up, expect=0, rx=rx, tx=tx)))
            cl = apps.add(Client(a, (support.IP_B, PORT2), rx=rx, tx=tx))
            streams.append(cl)
            checks.append((cl, digest(down), size))
        n_srv = len(servers)

        def finished():
            for st in streams:
                if not st.done():
                    return False
            k = 0
            for sv in servers:
                if not sv.conns:
                    return False
                for st in sv.conns:
                    if not st.done():
                        return False
                    k += 1
            return k >= n_srv

        done = seg.run_until(finished, timeout_ms)
        if direction != "download":  # the server on PORT receives `up`
            if servers[0].conns:
                checks.append((servers[0].conns[0], digest(up), size))
            else:
                result["errors"].append("not accepted")
        allst = list(streams)
        for sv in servers:
            allst.extend(sv.conns)
        for st in allst:
            if st.err:
                result["errors"].append(st.err)
        ok = bool(done) and not result["errors"]
        sha = True
        n = 0
        for st, d, k in checks:
            n += st.got
            if st.got != k:
                ok = False
            if st.digest() != d:
                sha = False
        ok = ok and sha
    result["ok"] = ok
    result["done"] = bool(done)
    result["bytes"] = n
    result["sha"] = sha
    result["ms"] = clock.now - t0
    sa = a.stats()
    sb = b.stats()
    for key, name in (("retransmits", "tcp_retransmit"), ("timeouts", "tcp_timeout"),
                      ("fast_retransmits", "tcp_fast_retransmit"), ("dupacks", "tcp_dupack"),
                      ("resets", "tcp_rst_tx"), ("ooo_drops", "tcp_ooo_drop"),
                      ("bad_checksum", "tcp_bad_checksum")):
        result[key] = sa[name] + sb[name]
    for k in ("lost", "dup", "reordered", "corrupt"):
        result[k] = pa.stats[k] + pb.stats[k]
    result["frames"] = pa.stats["tx"] + pb.stats["tx"]
    result["seg"] = seg
    result["nics"] = (a, b)
    if check_clean:
        left, tw = settle(seg, (a, b))
        result["left"] = left
        result["tw_left"] = tw
        for sv in servers:
            sv.close()
        result["clean"] = not left and tw == 0 and all_free(a) and all_free(b)
    return result


def summary(r):
    """A one-line account of a transfer result (for assertion messages)."""
    keys = ("ok", "done", "bytes", "sha", "ms", "retransmits", "timeouts",
            "fast_retransmits", "dupacks", "resets", "ooo_drops", "lost", "dup",
            "reordered", "corrupt", "frames", "errors", "left", "tw_left", "clean")
    out = []
    for k in keys:
        if k in r:
            out.append("%s=%r" % (k, r[k]))
    return " ".join(out)


# --- a connected pair of sockets ----------------------------------------------------------

def tcp_pair(seed=1, rx=None, tx=None, port=PORT, sockets=8, srx=None, stx=None):
    """A fresh pair of stacks with one established connection, both ends blocking:
    (seg, clock, a, b, client, server, listener). rx/tx size the client's rings,
    srx/stx the server's."""
    seg, clock, a, b, pa, pb = support.pair(seed=seed, sockets=sockets)
    ls = b.socket(socket.AF_INET, socket.SOCK_STREAM, rx=srx, tx=stx)
    ls.bind(("", port))
    ls.listen(2)
    c = a.socket(socket.AF_INET, socket.SOCK_STREAM, rx=rx, tx=tx)
    c.connect((support.IP_B, port))
    s, _ = ls.accept()
    return seg, clock, a, b, c, s, ls
