# spinet.dns — a stub resolver for A records (what getaddrinfo() calls).
#
# Heads up: read RFC 1035 4.1 (message format, 4.1.4 compression), 7.3 (a resolver
# matches the answer to its question), RFC 2181 5.2/8 (TTLs), RFC 5452 (id and port
# randomisation, accept only an answer from the server asked, on the port asked,
# for the question asked) and RFC 1123 6.1.3.3 (try the servers in turn).
#
# One query is outstanding at a time: a random 16-bit id from a random source port
# (a free ephemeral port, so no socket can take it meanwhile). An answer must come
# from port 53 of the server just asked, carry our id and repeat our question; the
# answer section is walked within bounds (compression pointers only backwards, at
# most wire.dns.PTR_MAX per name). Anything else is counted and ignored, and the
# resolver keeps waiting for the real answer. A CNAME chain is followed through the
# same answer and, when the server did not chase it, by asking for the target, at
# most config.DNS_CNAME_MAX links in all. Truncated answers (TC) fail: there is no
# TCP fallback. After config.DNS_TIMEOUT_MS without an answer the next server is
# asked (up to config.DNS_SERVERS), config.DNS_ROUNDS times round the list.
#
# Errors are OSError with the negative EAI numbers of the unix port's getaddrinfo
# (lwIP raises -2 for every failure; code that catches OSError sees no difference):
#   -2 EAI_NONAME  NXDOMAIN, no A record (NODATA), or a name that cannot be encoded
#   -3 EAI_AGAIN   no server answered, or no server is configured
#   -4 EAI_FAIL    truncated answer, every server refused (SERVFAIL, REFUSED), CNAME
#                  chain too long
#
# The cache holds config.DNS_CACHE_ENTRIES names (least recently used goes first),
# each for its TTL (the smallest along its CNAME chain), cut to config.DNS_TTL_MAX_S.
# The input path (input()) allocates nothing: names are compared in place.

from . import config
from .compat import const, random16, ticks_add, ticks_diff
from .counters import UDP_TX
from .udp import SOCK_DGRAM
from .wire import dns as wdns
from .wire import ipv4
from .wire import udp as wudp

EAI_NONAME = const(-2)
EAI_AGAIN = const(-3)
EAI_FAIL = const(-4)

# results of one query
R_WAIT = const(0)
R_OK = const(1)
R_CNAME = const(2)  # the chain ends in a name the server did not resolve: ask again
R_NXDOMAIN = const(3)
R_NODATA = const(4)
R_FAIL = const(5)  # truncated, or a chain too long
R_REFUSED = const(6)  # SERVFAIL, REFUSED, ...: try the next server
R_UNREACH = const(7)  # could not be sent (no route)

# counters
TX = const(0)
RX = const(1)
BAD_SOURCE = const(2)
BAD_ID = const(3)
MALFORMED = const(4)
UNASKED = const(5)
TRUNCATED = const(6)
NXDOMAIN = const(7)
RCODE = const(8)
TIMEOUT = const(9)
CNAMES = const(10)
CACHE_HIT = const(11)
CACHE_MISS = const(12)
UNASKED_RR = const(13)
LATE = const(14)
NAMES = ("dns_tx", "dns_rx", "dns_bad_source", "dns_bad_id", "dns_malformed",
         "dns_unasked", "dns_truncated", "dns_nxdomain", "dns_rcode", "dns_timeout",
         "dns_cname", "dns_cache_hit", "dns_cache_miss", "dns_unasked_rr", "dns_late")
COUNT = const(15)


class Resolver:
    def __init__(self, nic, entries=config.DNS_CACHE_ENTRIES):
        self._nic = nic
        self.count = [0] * COUNT
        self._q = bytearray(wdns.NAME_MAX)  # the name asked, wire form
        self._qlen = 0
        self._t = bytearray(wdns.NAME_MAX)  # the end of the CNAME chain so far
        self._tlen = 0
        self.port = 0  # source port of the outstanding query; 0: none
        self.busy = False  # a resolution is under way (start() .. step(); one at a time)
        self._name = ""
        self._servers = []  # type: list[bytes]  # the servers it asks, in turn
        self._si = 0  # which of them was asked last
        self._round = 0  # passes over them so far
        self._refused = False  # one said SERVFAIL/REFUSED
        self._ttl = 0  # smallest TTL along the CNAME chain so far
        self._id = 0
        self._srv = bytearray(4)
        self.result = R_WAIT
        self.addr = bytearray(4)
        self.ttl = 0
        self._hops = 0
        self._hit = 0  # offset of the matching record's data (input scratch)
        self._hit_ttl = 0
        self._cn = [None] * entries  # cached names (lower case, no trailing dot)
        self._ca = [None] * entries  # their addresses (4 bytes)
        self._ce = [0] * entries  # expiry (ticks)
        self._cu = [0] * entries  # last use (ticks), for LRU

    # --- cache ------------------------------------------------------------------------

    def cached(self, name, now):
        for i in range(len(self._cn)):
            if self._cn[i] == name:
                if ticks_diff(self._ce[i], now) > 0:
                    self._cu[i] = now
                    return self._ca[i]
                self._cn[i] = None  # expired
        return None

    def _store(self, name, addr, ttl_s, now):
        if ttl_s <= 0 or not self._cn:
            return  # RFC 1035 3.2.1: TTL 0, use once and do not cache
        best = 0
        for i in range(len(self._cn)):
            if self._cn[i] is None or self._cn[i] == name:
                best = i
                break
            if ticks_diff(self._cu[i], self._cu[best]) < 0:
                best = i
        self._cn[best] = name
        self._ca[best] = addr
        self._ce[best] = ticks_add(now, ttl_s * 1000)
        self._cu[best] = now

    def stats(self, d):
        for i in range(COUNT):
            d[NAMES[i]] = self.count[i]

    def flush(self):
        for i in range(len(self._cn)):
            self._cn[i] = None
            self._ca[i] = None

    def entries(self, now):
        """[(name, address, seconds left)] of the live cache entries."""
        out = []
        for i in range(len(self._cn)):
            if self._cn[i] is not None and ticks_diff(self._ce[i], now) > 0:
                out.append((self._cn[i], ipv4.ntoa(self._ca[i]),
                            ticks_diff(self._ce[i], now) // 1000))
        return out

    # --- resolving: start() + step(), driven blocking or from asyncio -----------------
    # The state of one resolution lives in the Resolver (not in a generator: a lookup
    # allocates no more than the blocking one always did). resolve() drives the stack
    # itself; the async getaddrinfo() below polls it and yields between steps.

    def resolve(self, host):
        """The IPv4 address (4 bytes) of host, from the cache or the servers; blocks,
        driving the Interface."""
        a = self.start(host)
        while a is None:
            self._nic._wait_until(self._done, config.DNS_TIMEOUT_MS)
            a = self.step()
        return a

    def start(self, host):
        """Begin resolving host: its address at once (cached), or None with a query
        out; then, once done() or DNS_TIMEOUT_MS later, call step(). One resolution
        at a time (busy): OSError(-3) if one is under way."""
        if self.busy:
            raise OSError(EAI_AGAIN)
        nic = self._nic
        name = host.lower()
        if name.endswith("."):
            name = name[:-1]
        a = self.cached(name, nic._now())
        if a is not None:
            self.count[CACHE_HIT] += 1
            return a
        self.count[CACHE_MISS] += 1
        n = wdns.encode(name, self._q, 0)
        if n < 0:
            raise OSError(EAI_NONAME)
        self._qlen = n
        servers = []  # type: list[bytes]
        for s in nic._dns_list:
            if s != ipv4.ANY and len(servers) < config.DNS_SERVERS:
                servers.append(s)
        if not servers:
            raise OSError(EAI_AGAIN)
        self._name = name
        self._servers = servers
        self._hops = 0
        self._ttl = config.DNS_TTL_MAX_S
        self.busy = True
        self._ask_first()
        return None if self.result == R_WAIT else self.step()

    def _ask_first(self):
        """Ask the first server (again, for a CNAME's target): DNS_ROUNDS passes over
        the servers follow until one gives a final result."""
        self._si = 0
        self._round = 0
        self._refused = False
        self._send(self._servers[0])

    def step(self):
        """The outstanding query was answered or timed out: the address, or None when
        the next query went out (wait again); raises resolve()'s OSError."""
        try:
            while True:
                r = self.result
                self.port = 0  # later answers to this query go nowhere
                if r == R_WAIT or r == R_REFUSED or r == R_UNREACH:
                    if r == R_WAIT:
                        self.count[TIMEOUT] += 1
                    elif r == R_REFUSED:
                        self._refused = True
                    self._si += 1
                    if self._si >= len(self._servers):
                        self._si = 0
                        self._round += 1
                    if self._round >= config.DNS_ROUNDS:
                        raise OSError(EAI_FAIL if self._refused else EAI_AGAIN)
                    self._send(self._servers[self._si])
                    if self.result == R_WAIT:
                        return None
                    continue
                if self.ttl < self._ttl:
                    self._ttl = self.ttl
                if r == R_OK:
                    addr = bytes(self.addr)
                    self._store(self._name, addr, self._ttl, self._nic._now())
                    self.cancel()
                    return addr
                if r == R_CNAME:
                    self._q[0:self._tlen] = memoryview(self._t)[0:self._tlen]
                    self._qlen = self._tlen
                    self._ask_first()
                    if self.result == R_WAIT:
                        return None
                    continue
                if r == R_NXDOMAIN or r == R_NODATA:
                    raise OSError(EAI_NONAME)
                raise OSError(EAI_FAIL)  # truncated, or a chain too long
        except OSError:
            self.cancel()
            raise

    def cancel(self):
        """End the resolution under way (if any): its answer, if it comes, is ignored."""
        self.port = 0
        self.busy = False

    def _done(self):
        return self.result != R_WAIT

    def _send(self, server):
        nic = self._nic
        self._id = random16()
        self.port = 0
        self.port = nic._ephemeral(SOCK_DGRAM)  # RFC 5452 9.2: a random source port
        ipv4.copy4(self._srv, 0, server, 0)
        self.result = R_WAIT
        self.ttl = config.DNS_TTL_MAX_S
        t = nic._tx
        l4 = nic._l4_off
        n = wdns.build_query(t, l4 + wudp.HDR_LEN, self._id, self._q, self._qlen)
        ulen = wudp.HDR_LEN + n
        nic._ip_prepare(server, 0, ipv4.PROTO_UDP, ulen)
        wudp.build(t, nic._ip_off, l4, self.port, wdns.PORT, ulen)
        nic._count[UDP_TX] += 1
        self.count[TX] += 1
        if nic._ip_send(ulen) < 0:
            self.result = R_UNREACH

    # --- input (from the UDP layer; allocation-free) -----------------------------------

    def input(self, buf, ip, off, n, sport):
        """A datagram to our query's port: the message is buf[off:off+n]."""
        c = self.count
        c[RX] += 1
        if self.result != R_WAIT:
            c[LATE] += 1
            return
        if sport != wdns.PORT or not ipv4.eq4(buf, ip + 12, self._srv, 0):
            c[BAD_SOURCE] += 1  # RFC 5452 9.1: only the server asked, from port 53
            return
        if n < wdns.HDR_LEN:
            c[MALFORMED] += 1
            return
        if wdns.u16(buf, off) != self._id:
            c[BAD_ID] += 1
            return
        f = buf[off + 2]
        if not f & wdns.FLAG_QR or f & 0x78:
            c[MALFORMED] += 1  # not a response to a standard query
            return
        end = off + n
        if wdns.u16(buf, off + 4) != 1:
            c[UNASKED] += 1  # our question is not repeated: not our answer
            return
        q = off + wdns.HDR_LEN
        e = wdns.equals(buf, off, end, q, self._q, 0)
        if e < 0:
            c[MALFORMED] += 1
            return
        p = wdns.skip(buf, off, end, q)
        if e == 0 or p < 0 or p + 4 > end or wdns.u16(buf, p) != wdns.TYPE_A or \
                wdns.u16(buf, p + 2) != wdns.CLASS_IN:
            c[UNASKED if p >= 0 and p + 4 <= end else MALFORMED] += 1
            return
        if f & wdns.FLAG_TC:
            c[TRUNCATED] += 1  # no TCP fallback: a failure, not a partial answer
            self.result = R_FAIL
            return
        rcode = buf[off + 3] & 0x0F
        if rcode == wdns.RCODE_NXDOMAIN:
            c[NXDOMAIN] += 1
            self.result = R_NXDOMAIN
            return
        if rcode:
            c[RCODE] += 1
            self.result = R_REFUSED
            return
        self._answers(buf, off, end, p + 4, wdns.u16(buf, off + 6))

    def _find(self, buf, msg, end, p, an, cur):
        """Look through the an answer records from p for one owned by the name cur
        (wire form): its type (A or CNAME, data offset in _hit, TTL in _hit_ttl), 0 if
        none, or -1 if the section is malformed."""
        for _ in range(an):
            e = wdns.equals(buf, msg, end, p, cur, 0)
            if e < 0:
                return -1
            r = wdns.skip(buf, msg, end, p)
            if r < 0 or r + 10 > end:
                return -1
            typ = wdns.u16(buf, r)
            rdlen = wdns.u16(buf, r + 8)
            d = r + 10
            if d + rdlen > end:
                return -1
            if e == 1 and wdns.u16(buf, r + 2) == wdns.CLASS_IN:
                if (typ == wdns.TYPE_A and rdlen == 4) or typ == wdns.TYPE_CNAME:
                    self._hit = d
                    self._hit_ttl = wdns.ttl(buf, r + 4, config.DNS_TTL_MAX_S)
                    return typ
            p = d + rdlen
        return 0

    def _answers(self, buf, msg, end, p, an):
        c = self.count
        cur = self._q
        ttl = config.DNS_TTL_MAX_S
        chained = False
        for _ in range(config.DNS_CNAME_MAX + 1):
            typ = self._find(buf, msg, end, p, an, cur)
            if typ < 0:
                c[MALFORMED] += 1
                return  # keep waiting: a well-formed answer may still come
            if typ == 0:
                break
            if self._hit_ttl < ttl:
                ttl = self._hit_ttl
            if typ == wdns.TYPE_A:
                ipv4.copy4(self.addr, 0, buf, self._hit)
                self.ttl = ttl
                self._count_unasked(buf, msg, end, p, an, cur)
                self.result = R_OK
                return
            # CNAME: its target becomes the name looked for.
            k = wdns.expand(buf, msg, end, self._hit, self._t, 0)
            if k < 0:
                c[MALFORMED] += 1
                return
            self._tlen = k
            cur = self._t
            chained = True
            c[CNAMES] += 1
            self._hops += 1
            if self._hops > config.DNS_CNAME_MAX:
                self.result = R_FAIL
                return
        self.ttl = ttl
        self.result = R_CNAME if chained else R_NODATA

    def _count_unasked(self, buf, msg, end, p, an, final):
        """Count A records in the answer for names that are neither the question nor
        the end of its chain (they are not used, RFC 5452 6)."""
        for _ in range(an):
            r = wdns.skip(buf, msg, end, p)
            if r < 0 or r + 10 > end:
                return
            d = r + 10 + wdns.u16(buf, r + 8)
            if wdns.u16(buf, r) == wdns.TYPE_A and wdns.equals(buf, msg, end, p, final, 0) != 1 \
                    and wdns.equals(buf, msg, end, p, self._q, 0) != 1:
                self.count[UNASKED_RR] += 1
            p = d


def resolver(nic):
    """The Interface's resolver, made on first use."""
    r = nic._dns_res
    if r is None:
        r = nic._dns_res = Resolver(nic)
    return r


def resolve(nic, host):
    return resolver(nic).resolve(host)


_POLL_MS = const(5)  # how often the async resolver polls the stack while it waits


async def getaddrinfo(host, port, af=0, type=0, proto=0, flags=0, nic=None):
    """spinet.socket.getaddrinfo() that does not block the event loop: `await
    spinet.dns.getaddrinfo(host, port)`. While the query is out it polls the stack
    every _POLL_MS and yields to the other tasks; same result and the same errors
    (OSError -2 no such name, -3 no answer, -4 failure). Concurrent calls take
    turns: the resolver has one query out at a time."""
    import asyncio

    from . import iface
    from . import socket as ssock
    if af not in (0, ssock.AF_INET):
        raise OSError(ssock.EAFNOSUPPORT)
    try:
        ipv4.aton(host)
        return ssock.getaddrinfo(host, port, af, type, proto, flags)  # numeric: no query
    except (ValueError, AttributeError, TypeError):
        pass
    nic = nic or iface.default
    if nic is None or not isinstance(host, str):
        raise OSError(EAI_NONAME)
    r = resolver(nic)
    while r.busy:
        await asyncio.sleep(_POLL_MS / 1000)
    a = r.start(host)
    try:
        while a is None:
            start = nic._now()
            while True:
                nic.poll()
                if r._done():
                    break
                left = config.DNS_TIMEOUT_MS - ticks_diff(nic._now(), start)
                if left <= 0:
                    break
                await asyncio.sleep((left if left < _POLL_MS else _POLL_MS) / 1000)
            a = r.step()
    finally:
        if a is None:
            r.cancel()  # cancelled while waiting: free the query slot
    return [(ssock.AF_INET, type or ssock.SOCK_STREAM, proto, "", (ipv4.ntoa(a), port))]
