# Writes the seed corpus of the frame fuzzer (tests/corpus/frames/*.bin): valid
# inputs of every protocol spinet parses, in the record format of tests/fuzz/world.py,
# aimed at the world's live control blocks. Run from the root:
#   .venv/bin/python tests/fuzz/make_seeds.py
# Each seed must run clean through world.run() (checked here before it is written).
import binascii
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import world  # noqa: E402
from world import FIX_CSUM, RELATIVE, record  # noqa: E402

import support  # noqa: E402
from support import (BCAST, IP_A, IP_PEER, MAC_A, MAC_PEER, TCP_ACK, TCP_FIN, TCP_PSH,  # noqa: E402
                     TCP_RST, TCP_SYN, echo_request, eth, frame_arp, frame_ip, frame_tcp,
                     frame_udp, icmp, ipv4, tcp, udp)

OUT = os.path.join(os.path.dirname(HERE), "corpus", "frames")
REL = RELATIVE | FIX_CSUM
L = world.LIVE_PORT
A = TCP_ACK


def seg(sport, seq, ack, flags, data=b"", window=65535, options=b"", dport=80):
    return frame_tcp(sport, dport, seq, ack, flags, window, data, options=options)


# TCP options: MSS, window scale, SACK permitted, timestamps, NOPs, end of list.
OPTS = (b"\x02\x04\x05\xb4" + b"\x01\x03\x03\x07" + b"\x04\x02\x01\x01"
        + b"\x08\x0a" + b"\x00\x00\x00\x01\x00\x00\x00\x00" + b"\x01\x00\x00\x00")
SACK = b"\x01\x01\x05\x0a" + struct.pack(">II", 0, 100)


def live_quote():
    """The first bytes of a segment the stack sent on the live connection, as an ICMP
    error quotes it (IP header + 8 bytes of TCP)."""
    return ipv4(IP_A, IP_PEER, 6, struct.pack(">HHI", 80, L, 0))[:28]


def dns_answer():
    hdr = struct.pack(">HHHHHH", 0, 0x8180, 1, 1, 0, 0)
    q = b"\x03www\x07example\x04test\x00" + struct.pack(">HH", 1, 1)
    a = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) + b"\xc0\x00\x02\x50"
    return hdr + q + a


def corpus_dir(kind):
    d = os.path.join(os.path.dirname(HERE), "corpus", kind)
    out = []
    for n in sorted(os.listdir(d)):
        with open(os.path.join(d, n)) as f:
            out.append(binascii.unhexlify(f.read().strip()))
    return out


def seeds():
    s = {}
    # Ethernet and ARP
    s["eth_runt"] = record(b"\x02" * 13)
    s["eth_type"] = record(eth(MAC_A, MAC_PEER, 0x86DD, b"\x60" + bytes(47)))
    s["eth_mcast"] = record(eth(b"\x01\x00\x5e\x00\x00\x01", MAC_PEER, 0x0800, bytes(46)))
    s["arp_request"] = record(frame_arp(1, MAC_PEER, IP_PEER, bytes(6), IP_A))
    s["arp_reply"] = record(frame_arp(2, b"\x02\x00\x00\x00\x00\x77", "192.0.2.1", MAC_A,
                                      IP_A, dst_mac=MAC_A))
    s["arp_gratuitous"] = record(frame_arp(1, b"\x02\x00\x00\x00\x00\x66", "192.0.2.66",
                                           bytes(6), "192.0.2.66"))
    # IPv4 and ICMP
    s["icmp_echo"] = record(frame_ip(IP_PEER, IP_A, 1, echo_request(1, 1, b"ping" * 8)))
    s["ip_options"] = record(frame_ip(IP_PEER, IP_A, 1, echo_request(2, 1, b"opt"),
                                      options=b"\x07\x07\x04" + bytes(4) + b"\x01"))
    s["ip_proto"] = record(frame_ip(IP_PEER, IP_A, 47, bytes(24)))
    s["icmp_port_unreach"] = record(frame_ip(IP_PEER, IP_A, 1,
                                             icmp(3, 3, bytes(4), live_quote())))
    s["icmp_frag_needed"] = record(frame_ip(IP_PEER, IP_A, 1,
                                            icmp(3, 4, struct.pack(">HH", 0, 576),
                                                 live_quote())))
    s["icmp_time_exceeded"] = record(frame_ip(IP_PEER, IP_A, 1,
                                              icmp(11, 0, bytes(4), live_quote())))
    s["icmp_echo_reply"] = record(frame_ip(IP_PEER, IP_A, 1, icmp(0, 0, b"\x00\x01\x00\x01",
                                                                  b"x")))
    # UDP, fragments
    s["udp_bound"] = record(frame_udp(5000, world.UDP_PORT, b"hello"))
    s["udp_closed"] = record(frame_udp(5000, 9999, b"nobody"))
    s["udp_bcast"] = record(frame_udp(5000, world.UDP_PORT, b"all",
                                      dst_ip="192.0.2.255", dst_mac=BCAST))
    s["udp_zero_csum"] = record(frame_udp(5000, world.UDP_PORT, b"z", zero_csum=True))
    big = udp(IP_PEER, IP_A, 5000, world.UDP_PORT, bytes(range(256)) * 3)
    s["ip_fragments"] = b"".join(record(f) for f in support.fragments(IP_PEER, IP_A, 17,
                                                                      big, 77, chunk=512))
    s["ip_fragments_reverse"] = b"".join(
        record(f) for f in reversed(support.fragments(IP_PEER, IP_A, 17, big, 78, chunk=256)))
    # DNS (answer to the outstanding query) and DHCP (no client: a closed port)
    s["dns_answer"] = record(frame_udp(53, 1, dns_answer(), src_ip=world.DNS_SERVER), REL)
    for i, b in enumerate(corpus_dir("dns")[:4]):
        s["dns_%d" % i] = record(frame_udp(53, 1, b, src_ip=world.DNS_SERVER), REL)
    # DHCP: in the DHCP world (a client waiting for an offer), every reply of the
    # corpus alone, and each followed by the next (OFFER then ACK, NAK...).
    dh = [frame_udp(67, 68, b, src_ip="192.0.2.1", dst_ip="255.255.255.255", dst_mac=BCAST)
          for b in corpus_dir("dhcp")]
    for i, f in enumerate(dh):
        s["dhcp_%d" % i] = record(f, REL | world.DHCP_WORLD)
        if i + 1 < len(dh):
            s["dhcp_%d_then_%d" % (i, i + 1)] = (record(f, REL | world.DHCP_WORLD)
                                                 + record(dh[i + 1], REL | 4))
    s["dhcp_closed_port"] = record(dh[0])
    # TCP: the listener, the live connection (relative numbers), the other states
    s["tcp_syn"] = record(seg(41000, 5000, 0, TCP_SYN, options=OPTS))
    s["tcp_syn_closed"] = record(seg(41001, 5000, 0, TCP_SYN, dport=81))
    s["tcp_data"] = record(seg(L, 0, 0, A | TCP_PSH, b"data" * 16), REL)
    s["tcp_ack_some"] = record(seg(L, 0, 100, A), REL)
    s["tcp_ack_all"] = record(seg(L, 0, 300, A, window=0), REL)
    s["tcp_ooo"] = (record(seg(L, 100, 0, A, b"later" * 20), REL)
                    + record(seg(L, 0, 0, A, bytes(100)), REL))
    s["tcp_sack"] = record(seg(L, 0, 0, A, options=SACK), REL)
    s["tcp_fin"] = record(seg(L, 0, 0, A | TCP_FIN, b"bye"), REL)
    s["tcp_rst"] = record(seg(L, 0, 0, TCP_RST), REL)
    s["tcp_rst_off"] = record(seg(L, 10, 0, TCP_RST), REL)
    s["tcp_syn_live"] = record(seg(L, 0, 0, TCP_SYN), REL)
    s["tcp_dupacks"] = b"".join(record(seg(L, 0, 0, A), REL) for _ in range(4))
    s["tcp_synrcvd_ack"] = record(seg(world.HALF_PORT, 0, 0, A), REL)
    s["tcp_finwait_ack"] = (record(seg(world.FINW_PORT, 0, 1, A), REL)
                            + record(seg(world.FINW_PORT, 0, 0, A | TCP_FIN), REL))
    s["tcp_timewait_fin"] = record(seg(world.TW_PORT, 1001, 0, A | TCP_FIN))
    s["tcp_timewait_syn"] = record(seg(world.TW_PORT, 9000, 0, TCP_SYN), 5)
    s["tcp_bad_doff"] = record(frame_ip(IP_PEER, IP_A, 6,
                                        tcp(IP_PEER, IP_A, L, 80, 0, 0, A, doff=15)), REL)
    # The small-tables world: an ARP flood evicting the peer, data into a 128-byte ring
    S = world.SMALL_WORLD
    s["small_arp_flood"] = b"".join(
        record(frame_arp(1, b"\x02\x00\x00\x00\x01" + bytes((i,)), "192.0.2.%d" % (100 + i),
                         bytes(6), IP_A), S if i == 0 else 0) for i in range(4))
    s["small_ring_fill"] = b"".join(record(seg(L, 60 * i, 0, A, bytes(60)), REL | S)
                                    for i in range(3))
    s["small_fragments"] = b"".join(
        record(f, S) for f in support.fragments(IP_PEER, IP_A, 17, big[:900], 79, chunk=256))
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for n in os.listdir(OUT):
        os.remove(os.path.join(OUT, n))
    s = seeds()
    for name in sorted(s):
        world.run(s[name])
        with open(os.path.join(OUT, name + ".bin"), "wb") as f:
            f.write(s[name])
    print("seeds", len(s), "bytes", sum(len(v) for v in s.values()))


if __name__ == "__main__":
    main()
