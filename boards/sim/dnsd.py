# A small DNS server (RFC 1035) for the simulation ring, which can also misbehave
# on purpose. It answers A queries from a table of records and CNAMEs, with name
# compression (owner names point back into the message), and logs each question.
#
#   dns = DnsServer(seg.port(MAC_DNS), clock, "192.0.2.53")
#   dns.a["www.example.test"] = ("192.0.2.80", 300)
#   dns.cname["alias.example.test"] = ("www.example.test", 60)
#   seg.add_host(dns, dns.port)
#
# Unknown names get NXDOMAIN. Misbehaviour: set .mode to one of
#   "silent"      no answer at all
#   "truncate"    TC set, answer section empty
#   "loop"        the answer's owner name is a compression loop
#   "wrong_id"    the id of the query + 1
#   "wrong_port"  answer from source port 5353 instead of 53
#   "wrong_src"   answer from another IP address (src_ip attribute)
#   "unasked"     the question and answer are for another name (cache poisoning)
#   "servfail"    RCODE 2
#   "garbage"     the reply is cut off in the middle of its answer record
# and .chase = False to answer a CNAME without the records of its target (the
# client must ask again). .delay_ms answers later. Runs on CPython and MicroPython.

import struct

from boards.sim.udphost import UdpHost, ip4


def encode(name):
    out = b""
    for label in name.split("."):
        out += bytes((len(label),)) + label.encode()
    return out + b"\x00"


def decode(data, p):
    """(name, offset after) of an uncompressed name (queries carry no pointers)."""
    labels = []
    while data[p]:
        n = data[p]
        labels.append(bytes(data[p + 1:p + 1 + n]).decode())
        p += 1 + n
    return ".".join(labels), p + 1


class DnsServer(UdpHost):
    def __init__(self, port, clock, ip):
        UdpHost.__init__(self, port, ip, clock)
        self.a = {}  # name -> (address, ttl)
        self.cname = {}  # name -> (target, ttl)
        self.mode = None
        self.chase = True
        self.delay_ms = 0
        self.src_ip = "192.0.2.66"
        self.queries = []  # (name, id, source port)

    def udp(self, src_mac, src_ip, sport, dport, data):
        if dport != 53 or len(data) < 17:
            return
        qid = (data[0] << 8) | data[1]
        name, p = decode(data, 12)
        self.queries.append((name, qid, sport))
        if self.mode == "silent":
            return
        question = data[12:p + 4]
        resp = self.answer(qid, name.lower(), question)
        srcport = 5353 if self.mode == "wrong_port" else 53
        self.send_udp(src_mac, src_ip, srcport, sport, resp, self.delay_ms,
                      src_ip=ip4(self.src_ip) if self.mode == "wrong_src" else None)

    def answer(self, qid, name, question):
        mode = self.mode
        if mode == "wrong_id":
            qid = (qid + 1) & 0xFFFF
        if mode == "unasked":
            question = encode("evil.example.test") + b"\x00\x01\x00\x01"
            name = "evil.example.test"
        flags = 0x8180  # QR, RD, RA
        rrs = []
        body = bytearray(question)
        names = {name: 12}  # name -> offset in the message, for compression
        if mode == "truncate":
            flags |= 0x0200
        elif mode == "servfail":
            flags |= 2
        elif mode == "loop":
            # owner name: label "x" at offset L, then a pointer back to L: a loop.
            at = 12 + len(body)
            rr = b"\x01x" + struct.pack(">H", 0xC000 | at) + struct.pack(">HHIH", 1, 1, 60, 4) \
                + ip4("192.0.2.13")
            rrs.append(rr)
            body += rr
        else:
            cur = name
            hops = 0
            while cur in self.cname and hops < 20:
                target, ttl = self.cname[cur]
                owner = struct.pack(">H", 0xC000 | names[cur])
                at = 12 + len(body) + len(owner) + 10  # where the target name will sit
                tname = encode(target)
                rr = owner + struct.pack(">HHIH", 5, 1, ttl, len(tname)) + tname
                names[target] = at
                rrs.append(rr)
                body += rr
                cur = target
                hops += 1
                if not self.chase:
                    break
            if (self.chase or not hops) and cur in self.a:
                addr, ttl = self.a[cur]
                rr = struct.pack(">H", 0xC000 | names[cur]) + struct.pack(">HHIH", 1, 1, ttl, 4) \
                    + ip4(addr)
                rrs.append(rr)
                body += rr
            if not rrs and name not in self.a:
                flags |= 3  # NXDOMAIN
        head = struct.pack(">HHHHHH", qid, flags, 1, len(rrs), 0, 0)
        msg = head + bytes(body)
        if mode == "garbage" and rrs:
            msg = msg[:len(msg) - 3]
        return msg
