# A small DHCP server (RFC 2131) for the simulation ring, which can also misbehave
# on purpose. It hands out addresses from a pool, remembers leases by MAC, honours
# DECLINE (the address is never offered again) and RELEASE, and logs every message
# it receives as a dict (tests read the log to see what the client sent).
#
#   srv = DhcpServer(seg.port(MAC_SRV), clock, "192.0.2.1", pool=("192.0.2.100", 4),
#                    lease=600, dns=("192.0.2.53",))
#   seg.add_host(srv, srv.port)
#
# Misbehaviour switches (attributes, change them at any time):
#   silent        receive and log, answer nothing (a dead server)
#   nak_renew     NAK every REQUEST that renews or rebinds (ciaddr set)
#   nak_all       NAK every REQUEST
#   dup_offer     send every OFFER twice
#   wrong_xid     answer with the transaction id + 1 (a spoofed or confused reply)
#   offer_addr    offer this address whatever the pool says
#   extra_opts    bytes appended to every reply's options (before the end option)
#   overload      put the reply's options into the file field (option 52 = 1)
#   delay_ms      answer this much later (virtual time)
# Runs on CPython and on the MicroPython unix port.

import struct

from boards.sim.udphost import BCAST_MAC, ZERO4, UdpHost, ip4, ntoa

_COOKIE = b"\x63\x82\x53\x63"
NAMES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK",
         7: "RELEASE", 8: "INFORM"}


def parse_options(data, start=240):
    """{code: bytes} of the options of a DHCP message (first instance wins)."""
    out = {}
    p = start
    while p < len(data):
        c = data[p]
        if c == 0:
            p += 1
            continue
        if c == 255 or p + 1 >= len(data):
            break
        n = data[p + 1]
        if c not in out:
            out[c] = bytes(data[p + 2:p + 2 + n])
        p += 2 + n
    return out


def opt(code, value):
    value = bytes(value)
    return bytes((code, len(value))) + value


def u32(v):
    return struct.pack(">I", v)


class DhcpServer(UdpHost):
    def __init__(self, port, clock, ip="192.0.2.1", pool=("192.0.2.100", 4), lease=600,
                 t1=None, t2=None, mask="255.255.255.0", router=None, dns=None, mtu=None):
        UdpHost.__init__(self, port, ip, clock)
        first = ip4(pool[0])
        self.pool = [first[:3] + bytes((first[3] + i,)) for i in range(pool[1])]
        self.lease = lease
        self.t1 = t1
        self.t2 = t2
        self.mask = ip4(mask)
        self.router = ip4(router) if router else self.ip
        self.dns = [ip4(d) for d in (dns if dns is not None else (ip,))]
        self.mtu = mtu
        self.leases = {}  # mac -> address
        self.declined = []
        self.log = []  # dicts of received messages
        self.sent = []  # (type name, yiaddr str) of messages sent
        self.nak_renew = False
        self.nak_all = False
        self.dup_offer = False
        self.wrong_xid = False
        self.offer_addr = None
        self.extra_opts = b""
        self.overload = False
        self.delay_ms = 0

    def count(self, name):
        return sum(1 for m in self.log if m["type"] == name)

    def last(self, name=None):
        for m in reversed(self.log):
            if name is None or m["type"] == name:
                return m
        return None

    # -- address management --
    def _pick(self, mac, want=None):
        if self.offer_addr is not None:
            return ip4(self.offer_addr)
        if mac in self.leases:
            return self.leases[mac]
        taken = list(self.leases.values())
        if want is not None and want in self.pool and want not in taken and \
                want not in self.declined:
            return want
        for a in self.pool:
            if a not in taken and a not in self.declined:
                return a
        return None

    # -- protocol --
    def udp(self, src_mac, src_ip, sport, dport, data):
        if dport != 67 or len(data) < 240 or data[0] != 1 or data[236:240] != _COOKIE:
            return
        o = parse_options(data)
        if 53 not in o:
            return
        mtype = o[53][0]
        m = {"type": NAMES.get(mtype, str(mtype)), "xid": data[4:8],
             "secs": (data[8] << 8) | data[9], "flags": (data[10] << 8) | data[11],
             "ciaddr": ntoa(data[12:16]), "chaddr": bytes(data[28:34]), "options": o,
             "src_ip": ntoa(src_ip), "t": self.clock.now, "dst_ip": ntoa(self.last_dst[1]),
             "dst_mac": self.last_dst[0],
             "requested": ntoa(o[50]) if 50 in o else None,
             "server_id": ntoa(o[54]) if 54 in o else None,
             "hostname": o[12].decode() if 12 in o else None}
        self.log.append(m)
        if self.silent:
            return
        mac = bytes(data[28:34])
        if mtype == 1:
            a = self._pick(mac, o.get(50))
            if a is None:
                return
            self._reply(data, 2, a)
            if self.dup_offer:
                self._reply(data, 2, a)
        elif mtype == 3:
            if 54 in o and o[54] != self.ip:
                return  # the client chose another server
            ciaddr = bytes(data[12:16])
            want = o.get(50) or ciaddr
            if self.nak_all or (self.nak_renew and ciaddr != ZERO4):
                self._reply(data, 6, ZERO4)
                return
            a = self._pick(mac, want)
            if a != want:
                self._reply(data, 6, ZERO4)
                return
            self.leases[mac] = a
            self._reply(data, 5, a)
        elif mtype == 4:
            if 50 in o:
                self.declined.append(o[50])
            self.leases.pop(mac, None)
        elif mtype == 7:
            self.leases.pop(mac, None)

    def _reply(self, req, mtype, yiaddr):
        xid = bytearray(req[4:8])
        if self.wrong_xid:
            xid[3] = (xid[3] + 1) & 0xFF
        head = bytearray(240)
        head[0] = 2
        head[1] = 1
        head[2] = 6
        head[4:8] = xid
        head[10:12] = req[10:12]
        head[12:16] = req[12:16] if mtype == 5 else ZERO4
        head[16:20] = yiaddr
        head[20:24] = self.ip
        head[28:44] = req[28:44]
        head[236:240] = _COOKIE
        opts = opt(53, bytes((mtype,))) + opt(54, self.ip)
        if mtype != 6:
            opts += opt(51, u32(self.lease)) + opt(1, self.mask) + opt(3, self.router)
            if self.dns:
                opts += opt(6, b"".join(self.dns))
            if self.t1 is not None:
                opts += opt(58, u32(self.t1))
            if self.t2 is not None:
                opts += opt(59, u32(self.t2))
            if self.mtu is not None:
                opts += opt(26, struct.pack(">H", self.mtu))
        opts += self.extra_opts
        if self.overload and len(opts) + 1 <= 128:
            head[108:108 + len(opts) + 1] = opts + b"\xff"
            body = bytes(head) + opt(52, b"\x01") + b"\xff"
        else:
            body = bytes(head) + opts + b"\xff"
        if len(body) < 300:
            body += bytes(300 - len(body))
        ciaddr = bytes(req[12:16])
        flags = (req[10] << 8) | req[11]
        if mtype != 6 and ciaddr != ZERO4:
            dst_mac, dst_ip = bytes(req[28:34]), ciaddr  # renewing: unicast
        elif flags & 0x8000 or mtype == 6:
            dst_mac, dst_ip = BCAST_MAC, b"\xff\xff\xff\xff"
        else:
            dst_mac, dst_ip = bytes(req[28:34]), yiaddr
        self.sent.append((NAMES[mtype], ntoa(yiaddr)))
        self.send_udp(dst_mac, dst_ip, 67, 68, body, self.delay_ms)
