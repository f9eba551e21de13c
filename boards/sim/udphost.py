# A minimal IPv4 host for test servers on a simulated segment: answers ARP for its
# address, hands UDP datagrams to udp(), sends UDP datagrams (optionally after a
# delay in virtual time). Built with struct, independently of spinet's own wire
# helpers, so a bug there cannot hide the same bug in the stack. Runs on CPython
# and on the MicroPython unix port (segment hosts need poll() and poll_at()).

import struct

BCAST_MAC = b"\xff\xff\xff\xff\xff\xff"
ZERO4 = b"\x00\x00\x00\x00"
BCAST4 = b"\xff\xff\xff\xff"


def ip4(s):
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    return bytes(int(x) for x in s.split("."))


def ntoa(b):
    return "%d.%d.%d.%d" % (b[0], b[1], b[2], b[3])


def csum(data):
    if len(data) & 1:
        data = bytes(data) + b"\x00"
    s = 0
    for i in range(0, len(data), 2):
        s += (data[i] << 8) | data[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(dst_mac, src_mac, src_ip, dst_ip, sport, dport, data, ident=1):
    n = 8 + len(data)
    pseudo = src_ip + dst_ip + struct.pack(">BBH", 0, 17, n)
    c = csum(pseudo + struct.pack(">HHHH", sport, dport, n, 0) + bytes(data))
    if c == 0:
        c = 0xFFFF
    u = struct.pack(">HHHH", sport, dport, n, c) + bytes(data)
    h = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + n, ident & 0xFFFF, 0, 64, 17, 0,
                              src_ip, dst_ip))
    c = csum(h)
    h[10] = c >> 8
    h[11] = c & 0xFF
    return bytes(dst_mac) + bytes(src_mac) + b"\x08\x00" + bytes(h) + u


class UdpHost:
    def __init__(self, port, ip, clock):
        self.port = port  # a SimPort (any LAN driver)
        self.mac = bytes(port.mac)
        self.ip = ip4(ip)
        self.clock = clock
        self.silent = False  # True: receive and log, never answer
        self._buf = bytearray(1600)
        self._later = []  # [due_ms, frame] sorted by due time
        self._ident = 1

    # -- segment host contract --
    def poll(self):
        for _ in range(64):
            n = self.port.recv_into(self._buf)
            if not n:
                break
            self._frame(bytes(self._buf[:n]))
        now = self.clock.now
        while self._later and self._later[0][0] <= now:
            self.port.send(self._later.pop(0)[1])

    def poll_at(self):
        if self._later:
            return self._later[0][0] & 0x3FFFFFFF
        return None

    # -- sending --
    def send_udp(self, dst_mac, dst_ip, sport, dport, data, delay_ms=0, src_ip=None):
        self._ident += 1
        f = udp_frame(dst_mac, self.mac, src_ip or self.ip, ip4(dst_ip), sport, dport, data,
                      self._ident)
        if delay_ms <= 0:
            self.port.send(f)
            return
        due = self.clock.now + delay_ms
        i = len(self._later)
        while i and self._later[i - 1][0] > due:
            i -= 1
        self._later.insert(i, [due, f])

    # -- receiving --
    def _frame(self, f):
        if len(f) < 14:
            return
        dst = f[0:6]
        if dst != self.mac and dst != BCAST_MAC:
            return
        et = (f[12] << 8) | f[13]
        if et == 0x0806 and len(f) >= 42:
            op = (f[20] << 8) | f[21]
            sha = f[22:28]
            spa = f[28:32]
            tpa = f[38:42]
            self.arp_seen(op, sha, spa, tpa)
            if op == 1 and tpa == self.ip:
                p = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 2, self.mac, self.ip, sha, spa)
                self.port.send(bytes(sha) + self.mac + b"\x08\x06" + p + bytes(18))
            return
        if et != 0x0800 or len(f) < 42:
            return
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17:
            return
        dip = ip[16:20]
        if dip != self.ip and dip != BCAST4:
            return
        u = ip[ihl:]
        sport, dport, ulen = struct.unpack(">HHH", u[:6])
        self.last_dst = (bytes(f[0:6]), bytes(dip))  # for servers' logs
        self.udp(f[6:12], ip[12:16], sport, dport, u[8:ulen])

    def arp_seen(self, op, sha, spa, tpa):
        pass

    def udp(self, src_mac, src_ip, sport, dport, data):
        pass
