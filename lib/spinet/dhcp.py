# spinet.dhcp — the DHCP client of one Interface (state machine, timers, probing).
#
# Heads up: read RFC 2131 4.4 (the client state diagram, 4.4.1 backoff, 4.4.5
# T1/T2 and the retransmission floor), 3.1.5 (DECLINE and the 10 s wait), 3.2
# (INIT-REBOOT), 4.1 (broadcast flag, source 0.0.0.0 before an address is held),
# RFC 2132 (options) and RFC 5227 2.1 (probing an address before use).
#
# States: INIT -> SELECTING (DISCOVER, backoff 4 s doubling to 64 s, +-1 s jitter)
# -> REQUESTING (REQUEST with the offer's server id) -> PROBING (ARP probes from
# 0.0.0.0; any claim of the address -> DECLINE, wait 10 s, INIT) -> BOUND -> at T1
# RENEWING (unicast REQUEST to the server) -> at T2 REBINDING (broadcast) -> at the
# lease's end the address is taken down and discovery starts again. A NAK in any
# requesting state drops the address and restarts discovery. REBOOTING is
# INIT-REBOOT: a REQUEST for an address the caller remembers (or, on link up, the
# address we hold, which stays in use while it is re-confirmed).
#
# Everything runs inside Interface.poll(): input() is called from the UDP layer for
# datagrams to port 68 (parsed in place in the RX buffer), tick() from the timers.
# Nothing blocks and nothing is allocated per message: messages are built in the
# Interface's TX buffer, ARP probes in a 62-byte buffer of our own.
#
# Lease times are kept in whole seconds since the lease began (the moment its
# REQUEST went out, RFC 2131 4.4.1), advanced from the tick clock, so a lease of
# years never puts a large number into ticks arithmetic (ticks_diff only spans
# +-6 days). Times from options are capped at config.DHCP_LEASE_MAX_S.

from . import config
from .compat import const, getrandbits, random16, ticks_add, ticks_diff
from .counters import ARP_TX, IP_TX, UDP_TX
from .wire import arp as warp
from .wire import dhcp as wd
from .wire import ethernet, ipv4
from .wire import udp as wudp

OFF = const(0)
INIT = const(1)
SELECTING = const(2)
REQUESTING = const(3)
PROBING = const(4)
BOUND = const(5)
RENEWING = const(6)
REBINDING = const(7)
REBOOTING = const(8)
DECLINED = const(9)
STATES = ("off", "init", "selecting", "requesting", "probing", "bound", "renewing",
          "rebinding", "rebooting", "declined")

# counters (Interface.stats() merges them under these names)
TX = const(0)
RX = const(1)
OFFERS = const(2)
ACKS = const(3)
NAKS = const(4)
BAD_XID = const(5)
BAD_CHADDR = const(6)
MALFORMED = const(7)
BAD_OPTION = const(8)
BAD_PORT = const(9)
UNEXPECTED = const(10)
BAD_SERVER = const(11)
BAD_ADDR = const(12)
CONFLICT = const(13)
DECLINES = const(14)
EXPIRED = const(15)
RELEASES = const(16)
RENEWS = const(17)
REBINDS = const(18)
NAMES = ("dhcp_tx", "dhcp_rx", "dhcp_offer", "dhcp_ack", "dhcp_nak", "dhcp_bad_xid",
         "dhcp_bad_chaddr", "dhcp_malformed", "dhcp_bad_option", "dhcp_bad_port",
         "dhcp_unexpected", "dhcp_bad_server", "dhcp_bad_addr", "dhcp_conflict",
         "dhcp_decline", "dhcp_expired", "dhcp_release", "dhcp_renew", "dhcp_rebind")
COUNT = const(19)

_WAKE_MAX_S = const(3600)  # the lease clock is looked at least this often
_SECS_MAX = const(65535)
_ZERO4 = b"\x00\x00\x00\x00"
_ZERO_MAC = b"\x00\x00\x00\x00\x00\x00"


def _unicast_ok(b, p):
    """A usable host address at b[p:p+4]: not 0.x, loopback, class D/E or broadcast."""
    a = b[p]
    return a != 0 and a != 127 and a < 224


def _classful(a):
    if a < 128:
        return b"\xff\x00\x00\x00"
    if a < 192:
        return b"\xff\xff\x00\x00"
    return b"\xff\xff\xff\x00"


class Dhcp:
    def __init__(self, nic):
        self._nic = nic
        self.state = OFF
        self.count = [0] * COUNT
        self._offs = [0] * (2 * wd.SLOTS)
        self._xid = bytearray(4)
        self._addr = bytearray(4)  # offered / requested / leased address
        self._server = bytearray(4)  # server identifier (option 54)
        self._srv_mac = bytearray(6)  # where its ACK came from (server, or relay agent)
        self._mask = bytearray(4)
        self._gw = bytearray(4)
        self._dns = bytearray(4 * config.DNS_SERVERS)
        self._ndns = 0
        self.mtu = 0  # option 26, 0 if none
        self._mtu0 = nic.mtu  # the Interface's own, restored when the lease ends
        self.last = None  # an address to INIT-REBOOT at the next start()
        self.on = False  # enabled (ipconfig(dhcp4=True)); runs while the Interface is active
        self.lease_s = 0
        self.t1_s = 0
        self.t2_s = 0
        self._el_s = 0  # whole seconds since the lease began
        self._el_t = 0  # ticks at which _el_s was last exact
        self._next_s = 0  # lease-phase retransmission, in lease seconds
        self._req_t = 0  # ticks the last REQUEST went out (a lease begins there)
        self._start_t = 0  # ticks this acquisition began (the secs field)
        self._next = 0  # ticks of the next action in the timed states
        self._gap = 0
        self._tries = 0
        self._keep = False  # REBOOTING with the address still in use (link came back)
        self._host = b""
        self._host_of = None
        self._arp = bytearray(config.FRAME_PAD + ethernet.MIN_FRAME)
        self._arpmv = memoryview(self._arp)

    # --- control (called by the Interface) ------------------------------------------

    def start(self, now):
        """Begin: INIT-REBOOT of self.last (4 bytes) when the caller gave one, else
        discovery."""
        self._keep = False
        last = self.last
        self.last = None
        if last is not None:
            ipv4.copy4(self._addr, 0, last, 0)
            self._enter(REBOOTING, now)
        else:
            self._enter(INIT, now)

    def stop(self, now, release=True):
        """Stop the client; with a lease held, RELEASE it and take the address down."""
        if self.state in (BOUND, RENEWING, REBINDING) or (self.state == REBOOTING
                                                          and self._keep):
            if release and self._nic._link:
                self._new_xid()
                self._send(wd.RELEASE, now)
                self.count[RELEASES] += 1
            self._unconfigure()
        self.state = OFF

    def renew(self, now):
        """Renew at once (the application's dhcp_renew()). False if no lease is held."""
        if self.state not in (BOUND, RENEWING, REBINDING):
            return False
        self._advance(now)
        self.state = RENEWING
        self.count[RENEWS] += 1
        self._new_xid()
        self._start_t = now
        self._lease_send(now, self.t2_s)
        return True

    def link(self, up, now):
        """The link went down or came up. Down: stop sending (the lease clock runs
        on). Up: re-confirm a held lease by INIT-REBOOT, or restart discovery."""
        st = self.state
        if st == OFF:
            return
        if not up:
            if st in (SELECTING, REQUESTING, PROBING, DECLINED) or (
                    st == REBOOTING and not self._keep):
                self.state = INIT  # start over once the link is back
            return
        if st in (BOUND, RENEWING, REBINDING) or (st == REBOOTING and self._keep):
            self._advance(now)
            self._keep = True
            self._enter(REBOOTING, now)
        elif st == INIT or st == REBOOTING:
            self._enter(st, now)

    # --- timers -----------------------------------------------------------------------

    def _advance(self, now):
        d = ticks_diff(now, self._el_t)
        if d >= 1000:
            s = d // 1000
            self._el_s += s
            self._el_t = ticks_add(self._el_t, s * 1000)

    def _at_s(self, when_s):
        """Ticks at which the lease clock reads when_s (capped at _WAKE_MAX_S ahead)."""
        d = when_s - self._el_s
        if d > _WAKE_MAX_S:
            d = _WAKE_MAX_S
        if d < 0:
            d = 0
        return ticks_add(self._el_t, d * 1000)

    def tick(self, now):
        """Run what is due; return the next due time (ticks) or None."""
        st = self.state
        if st == OFF:
            return None
        nic = self._nic
        if st in (BOUND, RENEWING, REBINDING) or (st == REBOOTING and self._keep):
            self._advance(now)
            if self._el_s >= self.lease_s:
                self._expire(now)
                return self._next if nic._link else None
            if st == BOUND and self._el_s >= self.t1_s:
                st = self.state = RENEWING
                self.count[RENEWS] += 1
                self._new_xid()
                self._start_t = now
                self._next_s = self._el_s
            if st == RENEWING and self._el_s >= self.t2_s:
                st = self.state = REBINDING
                self.count[REBINDS] += 1
                self._next_s = self._el_s
            if st == RENEWING or st == REBINDING:
                if nic._link and self._el_s >= self._next_s:
                    self._lease_send(now, self.t2_s if st == RENEWING else self.lease_s)
                nxt = self._at_s(self._next_s)
                t = self._at_s(self.t2_s if st == RENEWING else self.lease_s)
                if ticks_diff(t, nxt) < 0:
                    nxt = t
                return nxt
            if st == BOUND:
                return self._at_s(self.t1_s)
            # REBOOTING while the address is still in use: falls through to retries,
            # bounded by the lease's end.
        if not nic._link:
            return None
        if ticks_diff(now, self._next) < 0:
            return self._next
        if st == INIT:
            self._new_xid()
            self._start_t = now
            self.state = SELECTING
            self._gap = config.DHCP_DISCOVER_MS
            self._send(wd.DISCOVER, now)
            self._retry_at(now)
        elif st == SELECTING:
            self._gap = self._gap * 2 if self._gap < config.DHCP_BACKOFF_MAX_MS // 2 \
                else config.DHCP_BACKOFF_MAX_MS
            self._send(wd.DISCOVER, now)
            self._retry_at(now)
        elif st == REQUESTING or st == REBOOTING:
            limit = config.DHCP_REQUEST_TRIES if st == REQUESTING else config.DHCP_REBOOT_TRIES
            if self._tries >= limit:
                if self._keep:
                    self._resume(now)  # no answer: the lease we hold stays valid
                    return self.tick(now)
                self._enter(INIT, now)
                return self.tick(now)
            if self._tries:
                self._gap = self._gap * 2 if self._gap < config.DHCP_BACKOFF_MAX_MS // 2 \
                    else config.DHCP_BACKOFF_MAX_MS
            self._tries += 1
            self._send(wd.REQUEST, now)
            self._retry_at(now)
        elif st == PROBING:
            if self._tries < config.DHCP_PROBES:
                self._tries += 1
                self._probe()
                self._next = ticks_add(now, config.DHCP_PROBE_GAP_MS
                                       if self._tries < config.DHCP_PROBES
                                       else config.DHCP_PROBE_WAIT_MS)
            else:
                self._bind(now)
                return self.tick(now)
        elif st == DECLINED:
            self._enter(INIT, now)
            return self.tick(now)
        return self._next

    def _retry_at(self, now):
        j = config.DHCP_JITTER_MS
        self._next = ticks_add(now, self._gap - j + random16() % (2 * j + 1))

    def _enter(self, st, now):
        self.state = st
        self._tries = 0
        self._gap = config.DHCP_DISCOVER_MS
        self._next = now
        if st == REBOOTING:
            self._new_xid()
            self._start_t = now
        self._nic._schedule(now)

    def _resume(self, now):
        """Back to the lease state that the lease clock calls for."""
        self._keep = False
        self._advance(now)
        self._next_s = self._el_s
        if self._el_s < self.t1_s:
            self.state = BOUND
        elif self._el_s < self.t2_s:
            self.state = RENEWING
            self._new_xid()
        else:
            self.state = REBINDING
            self._new_xid()

    def _lease_send(self, now, until_s):
        """One RENEWING/REBINDING REQUEST; the next one after half the time left until
        until_s, at least DHCP_RENEW_MIN_S later (RFC 2131 4.4.5)."""
        self._send(wd.REQUEST, now)
        half = (until_s - self._el_s) // 2
        if half < config.DHCP_RENEW_MIN_S:
            half = config.DHCP_RENEW_MIN_S
        self._next_s = self._el_s + half

    def _expire(self, now):
        self.count[EXPIRED] += 1
        self._unconfigure()
        self._keep = False
        self._enter(INIT, now)

    # --- addresses --------------------------------------------------------------------

    def _unconfigure(self):
        nic = self._nic
        nic._set_addr(ipv4.ANY, ipv4.ANY, ipv4.ANY, ipv4.ANY)
        nic._set_dns([])
        nic.mtu = self._mtu0

    def _bind(self, now):
        nic = self._nic
        self._keep = False
        nic._set_addr(self._addr, self._mask, self._gw, ipv4.ANY)
        nic._set_dns([bytes(self._dns[4 * i:4 * i + 4]) for i in range(self._ndns)])
        if self.mtu and 576 <= self.mtu < nic.mtu:
            nic.mtu = self.mtu
        self.state = BOUND
        nic._arp.announce()  # RFC 5227 2.3

    def _probe(self):
        """An ARP probe for the candidate address: sender IP 0.0.0.0 (RFC 5227 2.1.1)."""
        nic = self._nic
        b = self._arp
        o = config.FRAME_PAD
        ethernet.build(b, o, ethernet.BROADCAST, nic.mac, ethernet.TYPE_ARP)
        warp.build(b, o + ethernet.HDR_LEN, warp.OP_REQUEST, nic.mac, _ZERO4, _ZERO_MAC,
                   self._addr)
        nic._count[ARP_TX] += 1
        nic._xmit(self._arpmv, ethernet.MIN_FRAME)

    def arp_input(self, buf, off, n, now):
        """An ARP packet seen while PROBING: anyone else's claim on the candidate (as
        sender, or probing for it too) is a conflict (RFC 5227 2.1.1)."""
        if self.state != PROBING or not warp.check(buf, off, n):
            return
        sha = off + warp.SHA
        mine = True
        mac = self._nic.mac
        for k in range(6):
            if buf[sha + k] != mac[k]:
                mine = False
                break
        if mine:
            return
        a = self._addr
        spa = off + warp.SPA
        tpa = off + warp.TPA
        if ipv4.eq4(buf, spa, a, 0) or (
                ipv4.eq4(buf, spa, _ZERO4, 0) and ipv4.eq4(buf, tpa, a, 0)):
            self.count[CONFLICT] += 1
            self.count[DECLINES] += 1
            self._send(wd.DECLINE, now)
            self.state = DECLINED
            self._next = ticks_add(now, config.DHCP_DECLINE_WAIT_MS)
            self._nic._schedule(self._next)

    # --- output -----------------------------------------------------------------------

    def _new_xid(self):
        x = self._xid
        r = getrandbits(16)
        x[0] = r >> 8
        x[1] = r & 0xFF
        r = getrandbits(16)
        x[2] = r >> 8
        x[3] = r & 0xFF

    def _send(self, mtype, now):
        nic = self._nic
        t = nic._tx
        o = nic._ip_off
        l4 = nic._l4_off
        d = l4 + wudp.HDR_LEN
        st = self.state
        lease_phase = st == RENEWING or st == REBINDING
        have_ip = lease_phase or mtype == wd.RELEASE
        secs = ticks_diff(now, self._start_t) // 1000
        if secs > _SECS_MAX or secs < 0:
            secs = _SECS_MAX if secs > 0 else 0
        # RFC 2131 4.1: a client that cannot take unicast before it has its address
        # sets the broadcast flag, and its source address is 0.0.0.0 until then.
        p = wd.build_head(t, d, self._xid, secs, 0 if have_ip else wd.FLAG_BROADCAST,
                          nic._ip if have_ip else _ZERO4, nic.mac)
        p = wd.put_type(t, p, mtype)
        p = wd.put_client_id(t, p, nic.mac)
        if mtype == wd.DISCOVER or mtype == wd.REQUEST:
            p = wd.put_u16(t, p, wd.OPT_MAX_SIZE, nic.mtu)
            host = nic.hostname
            if host is not self._host_of:
                self._host_of = host
                self._host = host.encode()[:63] if host else b""
            if self._host:
                p = wd.put(t, p, wd.OPT_HOSTNAME, self._host)
            p = wd.put_params(t, p)
        if (mtype == wd.REQUEST and not lease_phase) or mtype == wd.DECLINE:
            p = wd.put(t, p, wd.OPT_REQ_ADDR, self._addr)
        if (mtype == wd.REQUEST and st == REQUESTING) or mtype == wd.DECLINE or \
                mtype == wd.RELEASE:
            p = wd.put(t, p, wd.OPT_SERVER_ID, self._server)
        n = wd.put_end(t, p, d)
        ulen = wudp.HDR_LEN + n
        unicast = (st == RENEWING and mtype == wd.REQUEST) or mtype == wd.RELEASE
        nic._ip_prepare(self._server if unicast else ipv4.BROADCAST, 0, ipv4.PROTO_UDP, ulen)
        if not have_ip:
            for k in range(o + 12, o + 16):
                t[k] = 0
            ipv4.build(t, o, ipv4.HDR_LEN + ulen, nic._ip_id, ipv4.PROTO_UDP, config.IP_TTL)
        wudp.build(t, o, l4, wd.CLIENT_PORT, wd.SERVER_PORT, ulen)
        if mtype == wd.REQUEST:
            self._req_t = now
        nic._count[UDP_TX] += 1
        self.count[TX] += 1
        if mtype == wd.RELEASE:
            # Straight to the MAC the ACK came from: the Interface goes down next, so
            # there is no time to resolve the server's address first.
            ethernet.build(t, config.FRAME_PAD, self._srv_mac, nic.mac, ethernet.TYPE_IPV4)
            nic._count[IP_TX] += 1
            nic._xmit(nic._txmv, ethernet.HDR_LEN + ipv4.HDR_LEN + ulen)
            return
        nic._ip_send(ulen)

    # --- input ------------------------------------------------------------------------

    def input(self, buf, ip, off, n, sport, now):
        """A datagram to port 68: the message is buf[off:off+n] (IP header at ip)."""
        c = self.count
        c[RX] += 1
        st = self.state
        if sport != wd.SERVER_PORT:
            c[BAD_PORT] += 1
            return
        r = wd.check(buf, off, n)
        if r < 0:
            c[MALFORMED] += 1
            return
        x = self._xid
        if (st == OFF or buf[off + 4] != x[0] or buf[off + 5] != x[1]
                or buf[off + 6] != x[2] or buf[off + 7] != x[3]):
            c[BAD_XID] += 1  # RFC 2131 4.4.1: only replies to our transaction
            return
        mac = self._nic.mac
        ch = off + wd.CHADDR
        for k in range(6):
            if buf[ch + k] != mac[k]:
                c[BAD_CHADDR] += 1
                return
        offs = self._offs
        mtype = wd.scan(buf, off, n, offs)
        if mtype < 0:
            c[BAD_OPTION if mtype == wd.BAD_OPTION_LEN else MALFORMED] += 1
            return
        sid = offs[wd.S_SERVER]
        if mtype == wd.OFFER:
            if st != SELECTING:
                c[UNEXPECTED] += 1  # a late or duplicate offer: the first one won
                return
            if sid < 0:
                c[BAD_SERVER] += 1  # RFC 2131 table 3: an offer MUST name its server
                return
            if not _unicast_ok(buf, off + wd.YIADDR):
                c[BAD_ADDR] += 1
                return
            c[OFFERS] += 1
            ipv4.copy4(self._addr, 0, buf, off + wd.YIADDR)
            ipv4.copy4(self._server, 0, buf, sid)
            self.state = REQUESTING
            self._tries = 0
            self._gap = config.DHCP_DISCOVER_MS
            self._next = now
            self.tick(now)  # the REQUEST goes out at once
            self._nic._schedule(self._next)
            return
        if mtype == wd.ACK:
            self._ack(buf, ip, off, sid, now)
            return
        if mtype == wd.NAK:
            if st not in (REQUESTING, RENEWING, REBINDING, REBOOTING):
                c[UNEXPECTED] += 1
                return
            # A NAK MUST carry the server id (RFC 2131 table 3). Where we know our
            # server (REQUESTING, RENEWING) only that server may refuse us.
            if sid < 0 or ((st == REQUESTING or st == RENEWING)
                           and not ipv4.eq4(buf, sid, self._server, 0)):
                c[BAD_SERVER] += 1
                return
            c[NAKS] += 1
            if st != REQUESTING:
                self._unconfigure()
            self._keep = False
            self._enter(INIT, now)
            # Not at once: a server that refuses every REQUEST must not make us loop.
            self._next = ticks_add(now, config.DHCP_NAK_WAIT_MS)
            self._nic._schedule(self._next)
            return
        c[UNEXPECTED] += 1

    def _ack(self, buf, ip, off, sid, now):
        c = self.count
        st = self.state
        if st not in (REQUESTING, RENEWING, REBINDING, REBOOTING):
            c[UNEXPECTED] += 1
            return
        offs = self._offs
        if (st == REQUESTING or st == RENEWING) and (
                sid < 0 or not ipv4.eq4(buf, sid, self._server, 0)):
            # An ACK from a server we did not choose, or (RENEWING: the REQUEST went
            # unicast to our server, RFC 2131 4.4.5) from a second server mid-lease.
            c[BAD_SERVER] += 1
            return
        y = off + wd.YIADDR
        if not _unicast_ok(buf, y):
            c[BAD_ADDR] += 1
            return
        if offs[wd.S_LEASE] < 0:
            c[BAD_OPTION] += 1  # RFC 2131 table 3: an ACK to a REQUEST MUST give a lease
            return
        c[ACKS] += 1
        sm = self._srv_mac
        e = ip - ethernet.HDR_LEN + 6  # the frame's source MAC (not after reassembly)
        if e >= 0:
            for k in range(6):
                sm[k] = buf[e + k]
        cap = config.DHCP_LEASE_MAX_S
        lease = wd.u32_capped(buf, offs[wd.S_LEASE], cap)
        if lease < 1:
            lease = 1
        t1 = wd.u32_capped(buf, offs[wd.S_T1], cap) if offs[wd.S_T1] >= 0 else -1
        t2 = wd.u32_capped(buf, offs[wd.S_T2], cap) if offs[wd.S_T2] >= 0 else -1
        if not 0 <= t2 < lease:
            t2 = lease - lease // 8  # RFC 2131 4.4.5: 0.875 x lease
        if not 0 <= t1 < t2:
            t1 = lease // 2  # 0.5 x lease
            if t1 >= t2:
                t1 = t2
        same = ipv4.eq4(buf, y, self._nic._ip, 0)
        ipv4.copy4(self._addr, 0, buf, y)
        if sid >= 0:
            ipv4.copy4(self._server, 0, buf, sid)
        m = offs[wd.S_MASK]
        if m >= 0:
            ipv4.copy4(self._mask, 0, buf, m)
        else:
            self._mask[0:4] = _classful(buf[y])
        g = offs[wd.S_ROUTER]
        if g >= 0:
            ipv4.copy4(self._gw, 0, buf, g)
        else:
            self._gw[0:4] = _ZERO4
        dn = offs[wd.S_DNS]
        k = offs[wd.SLOTS + wd.S_DNS] // 4 if dn >= 0 else 0
        if k > config.DNS_SERVERS:
            k = config.DNS_SERVERS
        for i in range(k):
            ipv4.copy4(self._dns, 4 * i, buf, dn + 4 * i)
        self._ndns = k
        mt = offs[wd.S_MTU]
        self.mtu = ((buf[mt] << 8) | buf[mt + 1]) if mt >= 0 else 0
        self.lease_s = lease
        self.t1_s = t1
        self.t2_s = t2
        self._el_s = 0
        self._el_t = self._req_t  # RFC 2131 4.4.1: the lease runs from the REQUEST
        self._advance(now)
        nic = self._nic
        if same and (st == RENEWING or st == REBINDING or (st == REBOOTING and self._keep)):
            self._bind(now)  # the address we use, extended: no probe
        else:
            if st == RENEWING or st == REBINDING or self._keep:
                self._unconfigure()  # a different address: probe it first
            self._keep = False
            self.state = PROBING
            self._tries = 0
            self._next = now
            self.tick(now)
        nic._schedule(now)

    def stats(self, d):
        for i in range(COUNT):
            d[NAMES[i]] = self.count[i]
        d["dhcp_state"] = self.state

    def info(self, now):
        """(state name, address, server, lease s, T1 s, T2 s, seconds into the lease)."""
        if self.state in (BOUND, RENEWING, REBINDING):
            self._advance(now)
        return (STATES[self.state], ipv4.ntoa(self._addr), ipv4.ntoa(self._server),
                self.lease_s, self.t1_s, self.t2_s, self._el_s)
