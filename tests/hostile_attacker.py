# The kernel side of tests/cpython/test_hostile_realpeer.py (CPython, root, inside
# the test namespace): a kernel TCP client of spinet's echo server, and an on-link
# attacker (scapy) that sniffs that connection's sequence numbers and injects
# forged segments and ARP into it.
#
#   hostile_attacker.py IFACE SPINET_IP PORT
#
# Each step prints "step NAME key=value ...": what spinet sent in answer to the
# forged frame (frames seen from spinet's MAC within a short wait) and whether the
# echo still works afterwards.
import socket
import sys
import time

from scapy.all import ARP, IP, TCP, AsyncSniffer, Ether, Raw, get_if_hwaddr, sendp

IFACE, SPINET, PORT = sys.argv[1], sys.argv[2], int(sys.argv[3])
KERNEL = "192.0.2.1"
EVIL_MAC = "02:de:ad:be:ef:01"
M32 = 0xFFFFFFFF

kmac = get_if_hwaddr(IFACE)
seen = []  # TCP segments spinet sent on this connection, as scapy packets


def mine(p):
    return p.haslayer(TCP) and p[IP].src == SPINET and p[TCP].sport == PORT


sniffer = AsyncSniffer(iface=IFACE, lfilter=mine, prn=seen.append, store=False)
sniffer.start()
time.sleep(0.5)

c = socket.create_connection((SPINET, PORT), timeout=5)
lport = c.getsockname()[1]


def echo(data):
    c.sendall(data)
    got = b""
    end = time.time() + 5
    while len(got) < len(data) and time.time() < end:
        got += c.recv(4096)
    return got == data


def last():
    """spinet's SND.NXT and RCV.NXT, from the last segment it sent (after a pause:
    the sniffer lags the socket, and a stale RCV.NXT would miss the window)."""
    time.sleep(0.3)
    for _ in range(50):
        if seen:
            break
        time.sleep(0.1)
    p = seen[-1][TCP]
    return p.seq, p.ack


def inject(flags, seq, ack, data=b""):
    """A segment from the kernel's address and port, sent by the attacker's MAC;
    returns the flags of what spinet sent within 0.5 s."""
    time.sleep(0.3)  # let the sniffer catch up with the echo before this step
    n0 = len(seen)
    pkt = (Ether(src=EVIL_MAC, dst=smac) / IP(src=KERNEL, dst=SPINET) /
           TCP(sport=lport, dport=PORT, flags=flags, seq=seq & M32, ack=ack & M32,
               window=65535))
    if data:
        pkt = pkt / Raw(data)
    sendp(pkt, iface=IFACE, verbose=False)
    time.sleep(0.5)
    return [str(p[TCP].flags) for p in seen[n0:]]


ok = echo(b"hello")
smac = None
for _ in range(50):
    if seen:
        smac = seen[-1][Ether].src
        break
    time.sleep(0.1)
print("step first echo=%d" % ok, flush=True)
snd, rcv = last()
# RFC 5961: RST in window but not exact, RST out of window, SYN in window, data with
# an ACK of unsent data.
r = inject("R", rcv + 1000, 0)
print("step rst_in_window answers=%s echo=%d" % (",".join(r), echo(b"after-rst")), flush=True)
snd, rcv = last()
r = inject("R", rcv + (1 << 31), 0)
print("step rst_out_of_window answers=%s echo=%d" % (",".join(r) or "-", echo(b"oow")),
      flush=True)
snd, rcv = last()
r = inject("S", rcv + 10, 0)
print("step syn_in_window answers=%s echo=%d" % (",".join(r), echo(b"after-syn")), flush=True)
snd, rcv = last()
r = inject("PA", rcv, snd + 100000, b"INJECTED")
# The kernel never sent these bytes: if spinet took them, they would be echoed to the
# kernel, which would then read them before its own.
print("step data_bad_ack answers=%s echo=%d" % (",".join(r), echo(b"clean")), flush=True)
# ARP: spoofed reply and request claiming the kernel's (gateway's) address.
sendp(Ether(src=EVIL_MAC, dst=smac) / ARP(op=2, hwsrc=EVIL_MAC, psrc=KERNEL, hwdst=smac,
                                          pdst=SPINET), iface=IFACE, verbose=False)
sendp(Ether(src=EVIL_MAC, dst="ff:ff:ff:ff:ff:ff") /
      ARP(op=1, hwsrc=EVIL_MAC, psrc=KERNEL, hwdst="00:00:00:00:00:00", pdst=SPINET),
      iface=IFACE, verbose=False)
time.sleep(0.3)
n0 = len(seen)
ok = echo(b"after-arp" * 50)
time.sleep(0.3)  # the sniffer lags the socket
dst = set(p[Ether].dst for p in seen[n0:])
print("step arp_hijack echo=%d dst=%s" % (ok, ",".join(sorted(dst))), flush=True)
snd, rcv = last()
r = inject("R", rcv, 0)
time.sleep(0.3)
try:
    c.sendall(b"x")
    time.sleep(0.5)
    c.recv(10)
    after = "open"
except OSError as e:
    after = type(e).__name__
print("step rst_exact answers=%s kernel=%s" % (",".join(r) or "-", after), flush=True)
sniffer.stop()
print("kernel mac=%s" % kmac, flush=True)
print("done", flush=True)
