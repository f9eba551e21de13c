# The board side of `python -m host_tools connect-test` (host_tools/connect_test.py).
# Restricted Python: it runs on the board (MicroPython), sent as source text through
# the raw REPL, one section per raw-REPL run. Sections start at a `# @@ NAME` line;
# "prelude" is sent once, before the first step, after the host's parameter line
#   _ct_p = {...}     (mode, static, gw, name, echo, bytes, budget_ms)
# Each step prints one result line the host parses:
#   @@step NAME ok|fail TEXT
# and figures as `@@val KEY VALUE`. Step bodies live in functions so their locals
# are freed; what later steps need is kept in the dict _ct. Steps give up by
# themselves before the host's deadline (budget_ms), so a failure names its step.

# @@ prelude
import gc
import sys
import time

_ct = {}


def _ct_say(step, ok, text):
    print("@@step %s %s %s" % (step, "ok" if ok else "fail", text))


def _ct_val(key, value):
    print("@@val %s %s" % (key, value))


def _ct_left(t0):
    return _ct_p["budget_ms"] - time.ticks_diff(time.ticks_ms(), t0)


def _ct_err(e):
    # "OSError 113 EHOSTUNREACH": the number as MicroPython raises it, and its name.
    n = e.args[0] if e.args else e
    try:
        import errno
        return "OSError %s %s" % (n, errno.errorcode.get(n, ""))
    except (ImportError, AttributeError):
        return "OSError %s" % (n,)


def _ct_gai_error(e):
    # spinet.socket.getaddrinfo raises OSError(-2/-3/-4) as the unix port does.
    n = e.args[0] if e.args else 0
    return {-2: "no such name", -3: "no DNS server answered",
            -4: "lookup failed"}.get(n, "OSError %r" % (n,))

# @@ import
def _ct_import():
    had = "spinet" in sys.modules
    gc.collect()
    before = gc.mem_free()
    import spinet
    gc.collect()
    after = gc.mem_free()
    _ct["free0"] = before
    _ct["free1"] = after
    path = getattr(spinet, "__file__", "") or "(frozen or built in)"
    kind = "mpy" if path.endswith(".mpy") else ("py" if path.endswith(".py") else "?")
    _ct_val("spinet_file", path)
    _ct_val("spinet_kind", kind)
    _ct_val("free_before_import", before)
    _ct_val("free_after_import", after)
    _ct_val("import_cost", before - after)
    note = " (already imported)" if had else ""
    _ct_say("import", True, "spinet %s from %s (%s); heap free %d -> %d, import took %d "
            "bytes%s" % (getattr(spinet, "__version__", "?"), path, kind, before, after,
                         before - after, note))


_ct_import()

# @@ nic
def _ct_nic():
    global nic
    t0 = time.ticks_ms()
    # boot.py may have left the nic it brought up (or None, if it could not).
    if globals().get("nic") is not None:
        how = "reused the nic already in the REPL"
        nic.active(True)
    else:
        import board
        nic = board.nic()
        how = "board.nic()"
    mode = _ct_p["mode"]
    if mode == "static":
        nic.ifconfig(_ct_p["static"])
    elif nic.ipconfig("has_dhcp4"):
        how += ", DHCP lease already held"
    else:
        nic.ipconfig(dhcp4=True)
        wait = getattr(nic, "wait", None)
        while not nic.ipconfig("has_dhcp4") and _ct_left(t0) > 0:
            nic.poll()
            if wait:
                wait(20)
            else:
                time.sleep_ms(20)
    ms = time.ticks_diff(time.ticks_ms(), t0)
    cfg = nic.ifconfig()
    _ct["gw"] = _ct_p["gw"] or cfg[2]
    _ct_val("address", cfg[0])
    _ct_val("up_ms", ms)
    if mode == "dhcp" and not nic.ipconfig("has_dhcp4"):
        _ct_say("nic", False, "no DHCP lease after %d ms (%s; link %s, status %d)"
                % (ms, how, "up" if nic.status() else "down", nic.status()))
        return
    if not nic.isconnected():
        _ct_say("nic", False, "interface not connected after %d ms (%s; status %d: %s)"
                % (ms, how, nic.status(), "link down" if nic.status() == 0
                   else "no address"))
        return
    _ct_say("nic", True, "%s %s mask %s gw %s dns %s in %d ms (%s)"
            % ("DHCP" if mode == "dhcp" else "static", cfg[0], cfg[1], cfg[2], cfg[3],
               ms, how))


_ct_nic()

# @@ ping
def _ct_ping():
    gw = _ct["gw"]
    try:
        rtts = nic.ping(gw, count=3)
    except OSError as e:
        _ct_say("ping", False, "%s: %s" % (gw, _ct_err(e)))
        return
    got = [r for r in rtts if r is not None]
    _ct_val("ping_rtts", ",".join(["-" if r is None else str(r) for r in rtts]))
    if not got:
        _ct_say("ping", False, "no reply from %s (3 echo requests lost)" % gw)
        return
    _ct_say("ping", True, "%s answered %d/3, rtt min/avg/max %d/%d/%d ms"
            % (gw, len(got), min(got), sum(got) // len(got), max(got)))


_ct_ping()

# @@ resolve
def _ct_resolve():
    from spinet import socket
    name = _ct_p["name"]
    t0 = time.ticks_ms()
    try:
        addr = socket.getaddrinfo(name, 0)[0][-1][0]
    except OSError as e:
        _ct_say("resolve", False, "%s: %s (dns server %s)"
                % (name, _ct_gai_error(e), nic.ifconfig()[3]))
        return
    ms = time.ticks_diff(time.ticks_ms(), t0)
    _ct["addr"] = addr
    _ct_val("resolved", addr)
    how = "a dotted quad, no query" if addr == name else "via %s" % nic.ifconfig()[3]
    _ct_say("resolve", True, "%s -> %s in %d ms (%s)" % (name, addr, ms, how))


_ct_resolve()

# @@ echo
def _ct_echo():
    from spinet import socket
    host, port = _ct_p["echo"]
    if not host:
        host = _ct["addr"]
    n = _ct_p["bytes"]
    t0 = time.ticks_ms()
    try:
        host = socket.getaddrinfo(host, port)[0][-1][0]
    except OSError as e:
        _ct_say("echo", False, "%s: %s" % (host, _ct_gai_error(e)))
        return
    # A known pattern with a period (251) prime to the chunk size, so a lost, doubled
    # or misplaced chunk shows; sent and checked in 512-byte slices of pat.
    pat = bytes([(i * 7 + 11) & 255 for i in range(251)]) * 4
    buf = bytearray(512)
    s = socket.socket()
    sent = got = 0
    try:
        s.settimeout(max(_ct_left(t0), 1) / 1000)
        s.connect((host, port))
        while got < n:
            if _ct_left(t0) <= 0:
                raise OSError(110)  # ETIMEDOUT
            s.settimeout(max(_ct_left(t0), 1) / 1000)
            # At most 2 KB in flight (the default receive ring): the echo can
            # always be taken in, so sender and echo never wait on each other.
            if sent < n and sent - got <= 1536:
                k = min(512, n - sent)
                o = sent % 251
                s.sendall(pat[o:o + k])
                sent += k
                continue
            k = s.recv_into(buf, min(512, n - got))
            if not k:
                _ct_say("echo", False, "%s:%d closed the connection after %d of %d bytes"
                        % (host, port, got, n))
                return
            o = got % 251
            if buf[:k] != pat[o:o + k]:
                for i in range(k):
                    if buf[i] != pat[o + i]:
                        break
                _ct_say("echo", False, "%s:%d echoed wrong data at byte %d of %d"
                        % (host, port, got + i, n))
                return
            got += k
    except OSError as e:
        ms = time.ticks_diff(time.ticks_ms(), t0)
        _ct_say("echo", False, "%s:%d after %d ms, %d sent, %d of %d echoed: %s"
                % (host, port, ms, sent, got, n, _ct_err(e)))
        return
    finally:
        s.close()
    ms = time.ticks_diff(time.ticks_ms(), t0)
    rate = n * 1000 // max(ms, 1)
    _ct_val("echo_ms", ms)
    _ct_val("echo_bytes_per_s", rate)
    _ct_say("echo", True, "%s:%d echoed %d bytes intact in %d ms (%.1f KB/s each way)"
            % (host, port, n, ms, rate / 1024))


_ct_echo()

# @@ memory
def _ct_memory():
    gc.collect()
    free = gc.mem_free()
    _ct_val("free_after", free)
    base = _ct.get("free1")
    if base is None:
        _ct_say("memory", True, "heap free %d" % free)
        return
    _ct_val("free_delta", base - free)
    _ct_say("memory", True, "heap free %d, %d bytes less than after importing spinet "
            "(the interface, its buffers and the loaded modules)" % (free, base - free))


_ct_memory()
for _ct_k in [k for k in globals() if k.startswith("_ct")]:
    del globals()[_ct_k]
del _ct_k
