# spinet.iface — the Interface: one LAN driver, its addresses, the poll loop,
# routing, and the dispatch of frames to the protocol modules.
#
# Heads up: read RFC 1122 3.3.1 (routing outbound datagrams: on-link or the default
# gateway), 3.2.1.3 (which addresses a host accepts and which it must discard) and
# 3.3.6 (broadcasts). The API mirrors MicroPython's network.LAN / network.WIZNET5K.
#
# Memory: one RX and one TX frame buffer, allocated here and never again. A frame
# starts config.FRAME_PAD bytes into its buffer so that the IP header and the
# payloads behind it are word-aligned. Replies are built in the TX buffer and sent
# before the next frame is read. poll() handles at most POLL_FRAMES frames, then due
# timers; it never blocks. poll_at() says when the next timer is due.

from . import config
from .arp import FAILED, Arp
from .compat import EHOSTUNREACH, EMFILE, sleep_ms, ticks_add, ticks_diff, ticks_ms
from .compat import const, micropython, secret_bytes
from .counters import (COUNT, DRV_ERRORS, IP_BAD_CHECKSUM, IP_BAD_HEADER, IP_BAD_LENGTH,
                       IP_BAD_SOURCE, IP_FRAG_RX, IP_NO_ROUTE, IP_NOT_OURS, IP_PROTO, IP_RX,
                       IP_TTL_ZERO, IP_TX, NAMES, NO_MEMORY, RX_BYTES, RX_ETHERTYPE, RX_FRAMES,
                       RX_MULTICAST, RX_NOT_OURS, RX_RUNT, TX_BYTES, TX_FRAMES)
from . import icmp, tcp, udp
from .ipv4 import Reassembly
from .wire import ethernet, ipv4
from .wire.checksum import sum16 as _sum16

# Constants of this module (folded by MicroPython; tests/test_tcp_consts.py checks
# them against config and the wire modules).
_PAD = const(2)  # config.FRAME_PAD
_ETH_HDR = const(14)  # ethernet.HDR_LEN
_MIN_FRAME = const(60)  # ethernet.MIN_FRAME
_IP_HDR = const(20)  # ipv4.HDR_LEN
_IP_OFF = const(16)  # _PAD + _ETH_HDR
_L4_OFF = const(36)  # _IP_OFF + _IP_HDR
_PROTO_TCP = const(6)  # ipv4.PROTO_TCP
_FRAG_BITS = const(0x3FFF)  # ipv4.FLAG_MF | ipv4.OFFSET_MASK
_POLL_FRAMES = const(8)  # config.POLL_FRAMES
_TTL = const(64)  # config.IP_TTL
_DF = const(0x4000)  # ipv4.FLAG_DF, the flags of every datagram we send
_PING_TIMEOUT_MS = config.PING_TIMEOUT_MS
_RETRY_MS = const(10)  # timers again after a pass cut short by MemoryError
_DHCP_PROBING = const(4)  # spinet.dhcp.PROBING (dhcp.py loads only when DHCP is used)
_DHCP_BOUND = const(5)  # spinet.dhcp.BOUND

# First source byte -> discard: 127 (loopback) and 224..255 (multicast, class E).
_MARTIAN = bytes(1 if x == 127 or x >= 224 else 0 for x in range(256))

# The Interface most recently activated: what spinet.socket uses.
default = None


def _no_trace(nic, direction, mv, off, n):
    pass


def _halves(a):
    return (a[0] << 8) | a[1], (a[2] << 8) | a[3]


class Interface:
    def __init__(self, driver, hostname="spinet", clock=None, mtu=config.MTU,
                 arp_entries=config.ARP_ENTRIES, arp_queue=config.ARP_QUEUE_SLOTS,
                 reasm_bytes=config.REASM_BYTES, sockets=config.SOCKETS):
        config.check(mtu=mtu, arp_entries=arp_entries, arp_queue=arp_queue,
                     reasm_bytes=reasm_bytes, sockets=sockets)
        self._drv = driver
        self.mac = bytes(driver.mac)
        m = self.mac
        self._mac_hi = (m[0] << 8) | m[1]  # for the per-frame destination check
        self._mac_mid = (m[2] << 8) | m[3]
        self._mac_lo = (m[4] << 8) | m[5]
        # A chip with a small receive buffer says how much TCP data it can hold
        # between polls (drv.rx_window); no connection advertises more than that.
        self._wnd_cap = getattr(driver, "rx_window", 0xFFFF)
        self.hostname = hostname
        self.mtu = mtu
        self._now = clock or ticks_ms  # the one clock of this stack (injectable)
        self._rx = bytearray(config.FRAME_MAX + _PAD)
        self._rxmv = memoryview(self._rx)
        self._rx_in = self._rxmv[_PAD:]  # where the driver writes a frame
        self._tx = bytearray(config.FRAME_MAX + _PAD)
        self._txmv = memoryview(self._tx)
        self._txviews = {}  # frame length -> view of the TX buffer (bounded: 8)
        self._ip_off = _IP_OFF
        self._l4_off = _L4_OFF
        self._count = [0] * COUNT
        self._arp = Arp(self, arp_entries, arp_queue)
        self._reasm = Reassembly(self._count, reasm_bytes)
        self._reasm_mv = memoryview(self._reasm.buf)
        self._socks = [None] * sockets
        # Blocks whose socket object was garbage-collected (socket.__del__), closed by
        # the next poll(): __del__ can run inside a driver's SPI transaction or in the
        # middle of tcp.input, where sending or freeing a slot is not safe.
        self._reap_list = [None] * sockets
        self._reap_due = False
        self._tcb_hit = None  # connection of the last TCP segment (tcp.input)
        self._tw = [None] * config.TCP_TIME_WAIT_SLOTS  # TIME-WAIT table (tcp.py)
        self._time_wait_ms = config.TCP_TIME_WAIT_MS
        self._isn_key = secret_bytes(16)  # RFC 6528 secret
        self._set_addr(ipv4.ANY, ipv4.ANY, ipv4.ANY, ipv4.ANY)
        self._dns_list = []  # type: list[bytes]  # DNS servers, at most config.DNS_SERVERS
        self._dhcp = None  # spinet.dhcp.Dhcp once ipconfig(dhcp4=True) is used
        self._dns_res = None  # spinet.dns.Resolver once a name is resolved
        self._active = False
        self._link = False
        self._link_t = 0
        self._due = None  # next timer (ticks) or None
        self._trace = 0
        self._tracer = _no_trace
        from .compat import random16
        self._ip_id = random16()
        self._icmp_t = 0
        self._icmp_tokens = config.ICMP_ERR_PER_S
        self._ping = None
        self._lo = None  # spinet.loopback.Loopback, made by _loop on first use
        self._lo_n = 0  # datagrams it holds for the next poll()

    # --- MicroPython network-NIC API ------------------------------------------------

    def active(self, on=None):
        global default
        if on is None:
            return self._active
        if on and not self._active:
            self._active = True
            default = self
            self._link = bool(self._drv.link_up())
            self._link_t = self._now()
            self._schedule(ticks_add(self._link_t, config.LINK_CHECK_MS))
            if self._ip_hi or self._ip_lo:
                self._arp.announce()
            if self._dhcp is not None and self._dhcp.on:
                self._dhcp.start(self._link_t)  # discovery, or INIT-REBOOT of .last
        elif not on and self._active:
            if self._dhcp is not None:
                self._dhcp.stop(self._now())  # RELEASE the lease (RFC 2131 4.4.6)
            self._active = False
            if default is self:
                default = None
        return None

    def isconnected(self):
        """Link up, active and an IPv4 address configured (as WIZNET5K reports it)."""
        return bool(self._active and self._link and (self._ip_hi or self._ip_lo))

    def status(self, param=None):
        """0 link down, 1 link up but inactive/unconfigured, 2 up and active."""
        if param is not None:
            raise ValueError("unknown status param")
        if not self._link:
            return 0
        return 2 if self.isconnected() else 1

    def ifconfig(self, cfg=None):
        """Get or set (ip, netmask, gateway, dns) as dotted strings (static)."""
        if cfg is None:
            return (ipv4.ntoa(self._ip), ipv4.ntoa(self._mask), ipv4.ntoa(self._gw),
                    ipv4.ntoa(self._dns))
        if cfg == "dhcp":
            # As MicroPython's lwIP NICs: start DHCP and block until an address is
            # bound, at most DHCP_TIMEOUT_MS.
            self._dhcp_start(None)
            if not self._wait_until(self._dhcp_bound, config.DHCP_TIMEOUT_MS):
                raise OSError("timeout waiting for DHCP to get IP address")
            return None
        if len(cfg) != 4:
            raise ValueError("need (ip, netmask, gateway, dns)")
        ip, mask, gw, dns = (ipv4.aton(x) for x in cfg)
        self._dhcp_stop()
        self._set_addr(ip, mask, gw, dns)
        self._set_dns([dns] if dns != ipv4.ANY else [])
        if self._active and (self._ip_hi or self._ip_lo):
            self._arp.announce()
        return None

    def ipconfig(self, *args, **kw):
        """MicroPython's ipconfig: ipconfig("addr4") -> (ip, mask); ipconfig("gw4");
        ipconfig(addr4="192.0.2.9/24" or (ip, mask), gw4="192.0.2.1")."""
        if args and kw:
            raise TypeError("can't specify pos and kw args")
        if args:
            if len(args) != 1:
                raise TypeError("must query one param")
            k = args[0]
            if k == "addr4":
                return (ipv4.ntoa(self._ip), ipv4.ntoa(self._mask))
            if k == "gw4":
                return ipv4.ntoa(self._gw)
            if k == "dhcp4":
                return self._dhcp is not None and self._dhcp.on
            if k == "has_dhcp4":
                return self._dhcp_bound()
            if k == "dns":
                return ipv4.ntoa(self._dns)
            raise ValueError("unexpected key")
        ip, mask, gw = self._ip, self._mask, self._gw
        static = False
        for k in kw:
            v = kw[k]
            if k == "addr4" or k == "gw4":
                static = True
            if k == "addr4":
                if isinstance(v, str):
                    a, _, plen = v.partition("/")
                    ip = ipv4.aton(a)
                    if plen:
                        bits = int(plen)
                        if not 0 <= bits <= 32:
                            raise ValueError("prefix length")
                        m = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
                        mask = bytes(((m >> 24) & 0xFF, (m >> 16) & 0xFF, (m >> 8) & 0xFF,
                                      m & 0xFF))
                else:
                    ip, mask = ipv4.aton(v[0]), ipv4.aton(v[1])
            elif k == "gw4":
                gw = ipv4.aton(v)
            elif k == "dns":
                # MicroPython sets DNS servers module-wide (network.ipconfig(dns=));
                # here per Interface: one address or a sequence of up to DNS_SERVERS.
                lst = [v] if isinstance(v, str) else list(v)
                if not 1 <= len(lst) <= config.DNS_SERVERS:
                    raise ValueError("dns")
                self._set_dns([ipv4.aton(a) for a in lst])
            elif k == "dhcp4" or k == "last4":
                pass
            else:
                raise ValueError("unexpected key")
        if "dhcp4" in kw:
            if kw["dhcp4"]:
                last = kw.get("last4")  # spinet: INIT-REBOOT of a remembered address
                self._dhcp_start(ipv4.aton(last) if last else None)
                return None
            self._dhcp_stop()
        if not static:
            return None
        self._dhcp_stop()  # a static address ends DHCP (as lwIP's NICs do)
        self._set_addr(ip, mask, gw, self._dns)
        if self._active and (self._ip_hi or self._ip_lo):
            self._arp.announce()
        return None

    # --- DHCP (spinet.dhcp) ------------------------------------------------------------

    def _dhcp_start(self, last):
        d = self._dhcp
        if d is None:
            from .dhcp import Dhcp
            d = Dhcp(self)
            self._dhcp = d
        if d.on:
            if last is None:
                return  # already running (as lwIP: dhcp4=True again changes nothing)
            d.stop(self._now())
        d.on = True
        if self._ip_hi or self._ip_lo:
            self._set_addr(ipv4.ANY, ipv4.ANY, ipv4.ANY, ipv4.ANY)
        d.last = last  # INIT-REBOOT of this address first (used once)
        if self._active:
            d.start(self._now())

    def _dhcp_stop(self):
        d = self._dhcp
        if d is not None and d.on:
            d.on = False
            d.stop(self._now())

    def _dhcp_bound(self):
        d = self._dhcp
        return d is not None and d.state == _DHCP_BOUND

    def dhcp_renew(self):
        """Renew the lease now (a unicast REQUEST to the server). False if no lease."""
        d = self._dhcp
        return bool(d is not None and self._active and d.renew(self._now()))

    def dhcp_info(self):
        """(state, address, server, lease s, T1 s, T2 s, seconds into the lease), or
        None if DHCP was never turned on."""
        d = self._dhcp
        return None if d is None else d.info(self._now())

    def config(self, *args, **kw):
        """config("mac"), config("hostname"), config(trace=N), config(hostname=...).
        trace: 2 = frames sent, 4 = frames received, 8 = with a hex dump."""
        if args:
            if len(args) != 1 or kw:
                raise TypeError("must query one param")
            k = args[0]
            if k == "mac":
                return self.mac
            if k == "hostname":
                return self.hostname
            if k == "trace":
                return self._trace
            if k == "mtu":
                return self.mtu
            raise ValueError("unknown config param")
        for k in kw:
            v = kw[k]
            if k == "trace":
                self._trace = v
                if v and self._tracer is _no_trace:
                    from . import trace
                    self._tracer = trace.frame
            elif k == "hostname":
                if len(v) > 32:
                    raise ValueError("hostname too long")
                self.hostname = v
            else:
                raise ValueError("unknown config param")
        return None

    def stats(self):
        """All counters as a dict (a copy)."""
        c = self._count
        d = {}
        for i in range(COUNT):
            d[NAMES[i]] = c[i]
        d["arp_entries"] = self._arp.count()
        d["loopback_drops"] = self._lo.drops if self._lo is not None else 0
        for m in (self._dhcp, self._dns_res):
            if m is not None:
                m.stats(d)
        return d

    def arp_table(self):
        return self._arp.entries()

    def netstat(self, time_wait=False):
        """One line per socket control block (a list of str); with time_wait, also
        one per entry of the TIME-WAIT table (connections whose blocks are freed)."""
        out = []  # type: list[str]
        for i, s in enumerate(self._socks):
            if s is not None:
                out.append("%d %s" % (i, s.describe()))
        if time_wait:
            now = self._now()
            for e in self._tw:
                if e is not None:
                    out.append("- tcp TIME_WAIT   %s:%d %d.%d.%d.%d:%d expires_in=%dms" % (
                        ipv4.ntoa(self._ip), e[0], e[2] >> 8, e[2] & 255, e[3] >> 8,
                        e[3] & 255, e[1], ticks_diff(e[8], now)))  # e: see tcp._enter_time_wait
        return out

    def socket(self, af=2, type=1, proto=0, rx=None, tx=None):
        """A socket on this interface (see spinet.socket); rx/tx size its buffers."""
        from .socket import socket
        return socket(af, type, proto, nic=self, rx=rx, tx=tx)

    def ping(self, host, count=1, timeout_ms=_PING_TIMEOUT_MS, size=56):
        """Echo requests to host (dotted quad); a list of RTTs in ms, None if lost."""
        return icmp.ping(self, ipv4.aton(host), count, timeout_ms, size)

    # --- addresses and routing ------------------------------------------------------

    def _set_addr(self, ip, mask, gw, dns):
        self._ip = bytes(ip)
        self._mask = bytes(mask)
        self._gw = bytes(gw)
        self._dns = bytes(dns)
        self._ip_hi, self._ip_lo = _halves(ip)
        self._mask_hi, self._mask_lo = _halves(mask)
        self._gw_hi, self._gw_lo = _halves(gw)
        self._net_hi = self._ip_hi & self._mask_hi
        self._net_lo = self._ip_lo & self._mask_lo
        # Directed broadcast of our subnet (all host bits set).
        self._bc_hi = self._net_hi | (~self._mask_hi & 0xFFFF)
        self._bc_lo = self._net_lo | (~self._mask_lo & 0xFFFF)

    def _set_dns(self, servers):
        """The DNS servers (a list of 4-byte bytes); ifconfig() shows the first."""
        self._dns_list = servers
        self._dns = servers[0] if servers else ipv4.ANY

    def _alloc_sock(self, cb):
        for i in range(len(self._socks)):
            if self._socks[i] is None:
                self._socks[i] = cb
                return i
        raise OSError(EMFILE)

    def _free_sock(self, cb):
        if self._tcb_hit is cb:
            self._tcb_hit = None  # and its rings can be collected
        for i in range(len(self._socks)):
            if self._socks[i] is cb:
                self._socks[i] = None

    def _reap_later(self, cb):
        """From socket.__del__: mark cb to be closed by poll(). Allocates nothing."""
        socks = self._socks
        for i in range(len(socks)):
            if socks[i] is cb:
                self._reap_list[i] = cb
                self._reap_due = True
                return

    def _reap(self):
        self._reap_due = False
        socks = self._socks
        marks = self._reap_list
        for i in range(len(socks)):
            cb = marks[i]
            if cb is not None:
                marks[i] = None
                if socks[i] is cb:  # still the same block (not freed since)
                    if cb.kind == tcp.SOCK_STREAM:
                        tcp.app_close(cb, self._now())
                    else:
                        self._free_sock(cb)

    def _port_in_use(self, kind, port, reuse=False):
        """Is the local port taken? With reuse (SO_REUSEADDR), only a listener or a
        bound, unconnected socket counts, not connections or TIME-WAIT."""
        r = self._dns_res
        if r is not None and r.port == port and kind == udp.SOCK_DGRAM:
            return True  # the resolver's outstanding query
        for s in self._socks:
            if s is not None and s.kind == kind and s.lport == port:
                if not reuse or kind != tcp.SOCK_STREAM or s.state <= tcp.LISTEN:
                    return True
        if kind == tcp.SOCK_STREAM and not reuse:
            for e in self._tw:
                if e is not None and e[0] == port:
                    return True
        return False

    def _ephemeral(self, kind):
        from .compat import random16
        span = config.EPHEMERAL_LAST - config.EPHEMERAL_FIRST + 1
        p = config.EPHEMERAL_FIRST + random16() % span  # RFC 6056: random start
        for _ in range(span):
            if not self._port_in_use(kind, p):
                return p
            p = p + 1 if p < config.EPHEMERAL_LAST else config.EPHEMERAL_FIRST
        raise OSError(EMFILE)

    # --- output -----------------------------------------------------------------------

    @micropython.native
    def _ip_prepare(self, dst, doff, proto, l4len):
        """Write the IP header for an l4len-byte payload already at _L4_OFF of the TX
        buffer, to the address at dst[doff:doff+4] (wire.ipv4.build written out: no
        calls but the checksum's, on every datagram sent)."""
        t = self._tx
        # Byte by byte: native code makes a slice object for t[a:b] = x (bytecode
        # does not), which would allocate on every datagram.
        i = self._ip
        t[_IP_OFF + 12] = i[0]
        t[_IP_OFF + 13] = i[1]
        t[_IP_OFF + 14] = i[2]
        t[_IP_OFF + 15] = i[3]
        t[_IP_OFF + 16] = dst[doff]
        t[_IP_OFF + 17] = dst[doff + 1]
        t[_IP_OFF + 18] = dst[doff + 2]
        t[_IP_OFF + 19] = dst[doff + 3]
        i = (self._ip_id + 1) & 0xFFFF
        self._ip_id = i
        t[_IP_OFF] = 0x45
        t[_IP_OFF + 1] = 0
        l4len += _IP_HDR
        t[_IP_OFF + 2] = l4len >> 8
        t[_IP_OFF + 3] = l4len & 0xFF
        t[_IP_OFF + 4] = i >> 8
        t[_IP_OFF + 5] = i & 0xFF
        t[_IP_OFF + 6] = _DF >> 8
        t[_IP_OFF + 7] = 0
        t[_IP_OFF + 8] = _TTL
        t[_IP_OFF + 9] = proto
        t[_IP_OFF + 10] = 0
        t[_IP_OFF + 11] = 0
        i = ~_sum16(t, _IP_OFF, _IP_HDR) & 0xFFFF
        t[_IP_OFF + 10] = i >> 8
        t[_IP_OFF + 11] = i & 0xFF
        return 0

    @micropython.native
    def _ip_send(self, l4len):
        """Route the datagram in the TX buffer and send it (or hold it while its next
        hop resolves). Returns 0, or -EHOSTUNREACH."""
        t = self._tx
        o = _IP_OFF
        d_hi = (t[o + 16] << 8) | t[o + 17]
        d_lo = (t[o + 18] << 8) | t[o + 19]
        n = _ETH_HDR + _IP_HDR + l4len
        self._count[IP_TX] += 1
        e = _PAD
        if (d_hi == 0xFFFF and d_lo == 0xFFFF) or (
                d_hi == self._bc_hi and d_lo == self._bc_lo and (self._ip_hi or self._ip_lo)):
            ethernet.build(t, e, ethernet.BROADCAST, self.mac, ethernet.TYPE_IPV4)
            self._xmit(self._txmv, n)
            return 0
        if (d_hi & self._mask_hi) == self._net_hi and (d_lo & self._mask_lo) == self._net_lo:
            h_hi = d_hi  # on-link (RFC 1122 3.3.1.1)
            h_lo = d_lo
        elif d_hi >> 8 == 127:
            return self._loop(l4len)  # loopback, never on the wire (RFC 1122 3.2.1.3)
        elif self._gw_hi or self._gw_lo:
            h_hi = self._gw_hi
            h_lo = self._gw_lo
        else:
            self._count[IP_NO_ROUTE] += 1
            return -EHOSTUNREACH
        now = self._now()
        arp = self._arp
        i = arp.lookup(h_hi, h_lo, now)
        m = self.mac  # byte by byte, as in _ip_prepare
        t[e + 6] = m[0]
        t[e + 7] = m[1]
        t[e + 8] = m[2]
        t[e + 9] = m[3]
        t[e + 10] = m[4]
        t[e + 11] = m[5]
        t[e + 12] = 0x08
        t[e + 13] = 0x00
        if i >= 0:
            arp.copy_mac(i, t, e)
            self._xmit(self._txmv, n)
            return 0
        if d_hi >> 8 == 127 or (d_hi == self._ip_hi and d_lo == self._ip_lo):
            return self._loop(l4len)  # 127/8 inside our subnet (no address yet), or us
        i = arp.resolve(h_hi, h_lo, now)
        if i == FAILED:
            return -EHOSTUNREACH
        arp.queue(i, self._tx, n)
        self._schedule(ticks_add(now, config.ARP_RETRY_MS))
        return 0

    def _ip_output(self, dst, doff, proto, l4len):
        self._ip_prepare(dst, doff, proto, l4len)
        return self._ip_send(l4len)

    @micropython.native
    def _xmit(self, mv, n):
        """Hand the frame at mv[_PAD:_PAD+n] to the driver."""
        if n < _MIN_FRAME:
            # Pad runts with zeros so no stale bytes leave (the chips pad too, but
            # host drivers and captures do not).
            b = mv
            for k in range(_PAD + n, _PAD + _MIN_FRAME):
                b[k] = 0
            n = _MIN_FRAME
        if self._trace & 2:
            self._tracer(self, "tx", mv, _PAD, n)
        c = self._count
        if mv is self._txmv:
            # The driver takes an exact-length view; the few lengths in steady use
            # (ACKs, full segments) keep theirs, so sending allocates nothing.
            v = self._txviews.get(n)
            if v is None:
                v = mv[_PAD:_PAD + n]
                if len(self._txviews) < 8:
                    self._txviews[n] = v
        else:
            v = mv[_PAD:_PAD + n]
        try:
            self._drv.send(v)
        except OSError:
            c[DRV_ERRORS] += 1
            return
        c[TX_FRAMES] += 1
        c[TX_BYTES] += n

    # --- loopback: 127.0.0.0/8 and our own address, inside the stack (loopback.py) ----

    def _loop(self, l4len):
        """Queue the datagram in the TX buffer for the next poll() to deliver here."""
        lo = self._lo
        if lo is None:
            from .loopback import Loopback
            lo = self._lo = Loopback(self)  # on first use: boards without it pay nothing
        return lo.put(l4len)

    # --- input --------------------------------------------------------------------------

    @micropython.native
    def poll(self):
        """Take up to POLL_FRAMES frames from the driver, then run due timers.
        Never blocks. Returns the number of frames handled."""
        if not self._active:
            return 0
        drv = self._drv
        rx_in = self._rx_in
        c = self._count
        done = 0
        if self._reap_due:
            self._reap()
        try:
            while done < _POLL_FRAMES:
                try:
                    n = drv.recv_into(rx_in)
                except OSError:
                    c[DRV_ERRORS] += 1
                    break
                if n <= 0:
                    break
                done += 1
                c[RX_FRAMES] += 1
                c[RX_BYTES] += n
                if self._trace & 4:
                    self._tracer(self, "rx", self._rxmv, _PAD, n)
                self._input(n)
            due = self._due
            if due is not None:
                now = self._now()
                if ticks_diff(now, due) >= 0:
                    self._timers(now)
        except MemoryError:
            # The heap is full (a SYN's control block, a connection's rings): the
            # frame is dropped as a lost one would be, and the timers run again soon
            # (a pass cut short may not have rescheduled itself).
            c[NO_MEMORY] += 1
            self._schedule(ticks_add(self._now(), _RETRY_MS))
        return done

    def poll_at(self):
        """The time (ticks_ms) at which poll() next has work, or None."""
        return self._due

    def _schedule(self, t):
        d = self._due
        if d is None or ticks_diff(t, d) < 0:
            self._due = t

    def _timers(self, now):
        self._due = None
        if self._lo_n:
            self._lo.drain()  # type: ignore[union-attr]  # _lo_n > 0: made by _loop
        t = self._arp.tick(now)
        if t is not None:
            self._schedule(t)
        r = self._reasm
        if r.active:
            if ticks_diff(now, r.deadline) >= 0:
                r.expire()
            else:
                self._schedule(r.deadline)
        for s in self._socks:
            if s is not None and s.kind == tcp.SOCK_STREAM:
                t = tcp.timers(s, now)
                if t is not None:
                    self._schedule(t)
        t = tcp.tw_timers(self, now)
        if t is not None:
            self._schedule(t)
        if ticks_diff(now, ticks_add(self._link_t, config.LINK_CHECK_MS)) >= 0:
            self._link_t = now
            was = self._link
            try:
                self._link = bool(self._drv.link_up())
            except OSError:
                self._count[DRV_ERRORS] += 1
            if self._link != was and self._dhcp is not None:
                self._dhcp.link(self._link, now)
        d = self._dhcp
        if d is not None:
            t = d.tick(now)
            if t is not None:
                self._schedule(t)
        self._schedule(ticks_add(self._link_t, config.LINK_CHECK_MS))

    @micropython.native
    def _input(self, n):
        """One frame of n bytes at _PAD of the RX buffer: Ethernet, then IPv4 in the
        same call (one call and one heap-allocated frame fewer per segment)."""
        b = self._rx
        c = self._count
        if n < _ETH_HDR:
            c[RX_RUNT] += 1
            return
        if b[_PAD] & 1:
            if (b[_PAD] & b[_PAD + 1] & b[_PAD + 2] & b[_PAD + 3] & b[_PAD + 4]
                    & b[_PAD + 5]) != 0xFF:
                c[RX_MULTICAST] += 1
                return
        elif ((b[_PAD] << 8) | b[_PAD + 1]) != self._mac_hi or (
                (b[_PAD + 2] << 8) | b[_PAD + 3]) != self._mac_mid or (
                (b[_PAD + 4] << 8) | b[_PAD + 5]) != self._mac_lo:
            c[RX_NOT_OURS] += 1
            return
        if b[_PAD + 12] != 0x08 or b[_PAD + 13] != 0x00:  # not IPv4
            if b[_PAD + 12] == 0x08 and b[_PAD + 13] == 0x06:  # ARP
                d = self._dhcp
                if d is not None and d.state == _DHCP_PROBING:
                    d.arp_input(b, _IP_OFF, n - _ETH_HDR, self._now())
                self._arp.input(b, _IP_OFF, n - _ETH_HDR, self._now())
            else:
                c[RX_ETHERTYPE] += 1
            return
        # IPv4 (RFC 1122 3.2.1.1-3.2.1.2: version, header length, total length and
        # checksum are checked before use).
        n -= _ETH_HDR
        o = _IP_OFF
        hl = (b[o] & 0x0F) << 2
        if n < _IP_HDR:
            c[IP_BAD_LENGTH] += 1
            return
        if b[o] >> 4 != 4 or hl < _IP_HDR:
            c[IP_BAD_HEADER] += 1
            return
        total = (b[o + 2] << 8) | b[o + 3]
        if total < hl or total > n:
            c[IP_BAD_LENGTH] += 1
            return
        if _sum16(b, o, hl) != 0xFFFF:
            c[IP_BAD_CHECKSUM] += 1
            return
        if b[o + 8] == 0:
            c[IP_TTL_ZERO] += 1  # a TTL-0 datagram is never legitimately delivered
            return
        # RFC 1122 3.2.1.3: a source that is broadcast, multicast, loopback (127/8
        # only comes from inside: loopback.py) or our own address is discarded silently.
        s_hi = (b[o + 12] << 8) | b[o + 13]
        s_lo = (b[o + 14] << 8) | b[o + 15]
        if (_MARTIAN[b[o + 12]] or (s_hi == self._bc_hi and s_lo == self._bc_lo)
                or ((s_hi == self._ip_hi and s_lo == self._ip_lo) and (s_hi or s_lo))):
            c[IP_BAD_SOURCE] += 1
            return
        s_hi = (b[o + 16] << 8) | b[o + 17]  # now the destination
        s_lo = (b[o + 18] << 8) | b[o + 19]
        bcast = False
        if s_hi == self._ip_hi and s_lo == self._ip_lo and (s_hi or s_lo):
            pass
        elif (s_hi == 0xFFFF and s_lo == 0xFFFF) or (s_hi == self._bc_hi and s_lo == self._bc_lo):
            bcast = True
        else:
            c[IP_NOT_OURS] += 1
            return
        c[IP_RX] += 1
        if ((b[o + 6] << 8) | b[o + 7]) & _FRAG_BITS:
            c[IP_FRAG_RX] += 1
            r = self._reasm
            n = r.add(self._rxmv, o, hl, total, self._now())
            if r.active:
                self._schedule(r.deadline)
            if n > 0:
                self._deliver(self._reasm_mv, 0, _IP_HDR, n, bcast)
            return
        if b[o + 9] == _PROTO_TCP:
            tcp.input(self, self._rxmv, o, o + hl, total - hl, bcast)  # _deliver's first case
            return
        self._deliver(self._rxmv, o, hl, total - hl, bcast)

    def _deliver(self, buf, ip, hl, plen, bcast):
        proto = buf[ip + 9]
        if proto == ipv4.PROTO_TCP:
            tcp.input(self, buf, ip, ip + hl, plen, bcast)
        elif proto == ipv4.PROTO_UDP:
            udp.input(self, buf, ip, ip + hl, plen, bcast)
        elif proto == ipv4.PROTO_ICMP:
            icmp.input(self, buf, ip, ip + hl, plen, bcast)
        else:
            self._count[IP_PROTO] += 1
            if not bcast:  # RFC 1122 3.2.2.1: SHOULD send protocol unreachable
                icmp.unreachable(self, buf, ip, hl, hl + plen, icmp.PROTO_UNREACH)

    # --- blocking helpers for the socket layer ---------------------------------------

    def wait(self, timeout_ms):
        """Sleep until a frame may be waiting, the next timer is due, or timeout_ms
        passes: the driver's wait() (a select or an INT pin) when it has one."""
        due = self._due
        if due is not None:
            d = ticks_diff(due, self._now())
            if d < timeout_ms:
                timeout_ms = d if d > 0 else 0
        w = getattr(self._drv, "wait", None)
        if w is not None:
            w(timeout_ms)
        elif timeout_ms > 0:
            sleep_ms(1 if timeout_ms > 1 else timeout_ms)

    def _wait_until(self, ready, timeout_ms):
        """Drive the stack until ready() is true or timeout_ms (None: forever) passes.
        Returns ready()'s last value."""
        start = self._now()
        while True:
            self.poll()
            r = ready()
            if r:
                return r
            if timeout_ms is None:
                left = 1000
            else:
                left = timeout_ms - ticks_diff(self._now(), start)
                if left <= 0:
                    return r
            self.wait(left)

