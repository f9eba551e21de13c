# spinet.config — every bound and default of the stack, in one place.
#
# Each knob says what it costs in RAM. Tables are allocated once, at Interface
# construction, from these values; nothing an attacker sends makes them grow.
# An Interface takes keyword overrides for the per-interface ones (tests use small
# values, a board with more RAM may use larger). check() asserts the relationships
# between them, the way lwIP's init.c refuses an inconsistent lwipopts.h.

from .compat import const

# --- Ethernet / frames -------------------------------------------------------------
MTU = const(1500)  # IPv4 MTU of the link (bytes of IP datagram per frame)
ETH_HDR = const(14)
FRAME_MAX = const(1514)  # MTU + Ethernet header, no FCS: the largest frame we send/take
# The stack owns one RX and one TX frame buffer of FRAME_MAX + FRAME_PAD bytes. The
# frame starts FRAME_PAD bytes in, so the IP header and every payload after a
# 20-byte IP + 20-byte TCP header sit on 4-byte boundaries (memmove on the RP2040 is
# ~3.6x slower to an unaligned destination).
FRAME_PAD = const(2)

# --- Poll loop ---------------------------------------------------------------------
POLL_FRAMES = const(8)  # frames handled per poll() call at most (bounded work)
LINK_CHECK_MS = const(500)  # how often poll() asks the driver for link state

# --- ARP (RFC 826, RFC 1122 2.3.2) -------------------------------------------------
ARP_ENTRIES = const(8)  # cache entries; ~40 bytes each
ARP_REACHABLE_MS = const(300_000)  # an entry is trusted this long after its last reply
ARP_REPROBE_MS = const(240_000)  # past this age an entry in use is re-probed (unicast)
ARP_RETRY_MS = const(1000)  # gap between requests for an unresolved address
ARP_RETRIES = const(3)  # requests before the address is declared unreachable
ARP_FAILED_MS = const(3000)  # how long a failed address answers EHOSTUNREACH at once
ARP_QUEUE_SLOTS = const(2)  # packets held while their next hop resolves; FRAME_MAX each
ARP_RATE_PER_S = const(8)  # requests sent per second at most (all addresses together)

# --- IPv4 (RFC 791, RFC 1122 3.3) --------------------------------------------------
IP_TTL = const(64)  # TTL of datagrams we send
REASM_BYTES = const(2048)  # largest datagram reassembled from fragments; 0 = no reassembly
REASM_TIMEOUT_MS = const(3000)  # a datagram whose fragments do not all arrive is dropped

# --- ICMP (RFC 792, RFC 1122 3.2.2) ------------------------------------------------
ICMP_ERR_PER_S = const(10)  # ICMP errors (port unreachable) sent per second at most
PING_TIMEOUT_MS = const(1000)  # default wait for an echo reply in nic.ping()

# --- Sockets -------------------------------------------------------------------------
SOCKETS = const(8)  # socket control blocks per Interface (UDP and TCP together)
# Datagrams to 127/8 or to our own address wait for poll() in one queue of this many
# bytes (allocated on first use; 4 bytes + the datagram each). Past it: dropped.
LOOPBACK_BYTES = const(6144)
EPHEMERAL_FIRST = const(49152)  # RFC 6335 dynamic port range
EPHEMERAL_LAST = const(65535)

# --- UDP (RFC 768) -------------------------------------------------------------------
UDP_RX_BYTES = const(2048)  # default per-socket receive queue, bytes (caller may size it)
UDP_RX_SLOTS = const(4)  # datagrams queued per socket at most
UDP_REC_HDR = const(8)  # queue bookkeeping per datagram: length, source address, port

# --- TCP (RFC 9293, RFC 1122 4.2, RFC 5681, RFC 6298) -------------------------------
TCP_RX_BYTES = const(2048)  # default receive ring per connection (caller may size it)
TCP_TX_BYTES = const(2048)  # default send ring per connection
TCP_DEFAULT_MSS = const(536)  # peer MSS when its SYN carries no option (RFC 9293 3.7.1)
TCP_RTO_INIT_MS = const(1000)  # RFC 6298 2.1
TCP_RTO_MIN_MS = const(200)  # below RFC 6298's 1 s, as Linux does on a LAN
TCP_RTO_MAX_MS = const(60_000)
TCP_SYN_RETRIES = const(5)  # SYN retransmissions before connect() gives ETIMEDOUT
TCP_DATA_RETRIES = const(8)  # retransmissions of one segment before the connection aborts
TCP_DELACK_MS = const(100)  # delayed ACK bound (RFC 1122 4.2.3.2: < 500 ms)
TCP_TIME_WAIT_MS = const(60_000)  # 2 x MSL
TCP_TIME_WAIT_SLOTS = const(4)  # closed connections remembered in TIME-WAIT; ~40 bytes each
TCP_FIN_WAIT2_MS = const(60_000)  # an orphaned FIN-WAIT-2 is dropped after this
TCP_BACKLOG_MAX = const(4)  # listen(backlog) is capped here
TCP_HALF_OPEN_MAX = const(4)  # SYN-RECEIVED connections per listener
TCP_PERSIST_MIN_MS = const(500)  # zero-window probe interval, doubling up to RTO max
TCP_KEEPIDLE_MS = const(7_200_000)  # RFC 1122 4.2.3.6: idle >= 2 h before probing
TCP_KEEPINTVL_MS = const(75_000)
TCP_KEEPCNT = const(9)
TCP_ASSEMBLER_RANGES = const(4)  # out-of-order holes tracked per connection

# --- DHCP client (RFC 2131, RFC 2132, RFC 5227) ---------------------------------------
# State: 1.6 KB on the 64-bit unix port once DHCP is turned on, nothing before
# (measured by tests/mpy/test_dhcp_dns_memory.py; a 32-bit board needs less).
DHCP_DISCOVER_MS = const(4000)  # first retransmission gap; doubles (RFC 2131 4.1)
DHCP_BACKOFF_MAX_MS = const(64000)  # the gap stops doubling here (RFC 2131 4.1)
DHCP_JITTER_MS = const(1000)  # every gap is randomised by +- this (RFC 2131 4.1)
DHCP_REQUEST_TRIES = const(4)  # REQUESTs for an offer before discovery restarts
DHCP_REBOOT_TRIES = const(2)  # INIT-REBOOT REQUESTs before discovery (or keeping the lease)
DHCP_RENEW_MIN_S = const(60)  # floor of the RENEWING/REBINDING retransmission gap (4.4.5)
DHCP_PROBES = const(2)  # ARP probes of an offered address (RFC 5227 uses 3; a LAN needs fewer)
DHCP_PROBE_GAP_MS = const(300)  # between probes
DHCP_PROBE_WAIT_MS = const(700)  # quiet time after the last probe before the address is used
DHCP_DECLINE_WAIT_MS = const(10000)  # after a DECLINE, before discovery (RFC 2131 3.1.5)
DHCP_NAK_WAIT_MS = const(1000)  # after a NAK, before discovery (no NAK storms)
DHCP_LEASE_MAX_S = const(0x10000000)  # lease/T1/T2 beyond this (8.5 years, "infinite") are cut
DHCP_TIMEOUT_MS = const(10000)  # ifconfig("dhcp") blocks this long at most (as MicroPython)

# --- DNS resolver (RFC 1035, RFC 5452) ----------------------------------------------
# State: 1.4 KB (64-bit unix port) plus the cached names, made on the first
# getaddrinfo() of a name.
DNS_SERVERS = const(3)  # servers remembered and tried in turn (from DHCP or ipconfig(dns=))
DNS_CACHE_ENTRIES = const(4)  # cached names; each ~40 bytes plus the name string
DNS_TIMEOUT_MS = const(2000)  # wait for one server's answer before asking the next
DNS_ROUNDS = const(2)  # passes over the server list before giving up (EAI_AGAIN)
DNS_CNAME_MAX = const(8)  # CNAME links followed for one name
DNS_TTL_MAX_S = const(86400)  # cached for at most a day, whatever the TTL says


def check(mtu=MTU, arp_entries=ARP_ENTRIES, arp_queue=ARP_QUEUE_SLOTS,
          reasm_bytes=REASM_BYTES, sockets=SOCKETS, udp_rx_bytes=UDP_RX_BYTES,
          udp_rx_slots=UDP_RX_SLOTS):
    """Raise ValueError if the given bounds contradict each other."""
    if not 576 <= mtu <= 1500:  # RFC 791: every host takes 576-byte datagrams
        raise ValueError("mtu")
    if FRAME_MAX != MTU + ETH_HDR:
        raise ValueError("FRAME_MAX")
    if not 1 <= arp_entries <= 64 or not 0 <= arp_queue <= arp_entries:
        raise ValueError("arp bounds")
    if not ARP_REPROBE_MS < ARP_REACHABLE_MS < (1 << 29):  # ticks_diff's valid range
        raise ValueError("arp timers")
    # RFC 1122 3.3.2: a host MUST reassemble datagrams of at least 576 bytes.
    if reasm_bytes and not 576 - 20 <= reasm_bytes <= 65535 - 20:
        raise ValueError("reasm_bytes")
    if not 1 <= sockets <= 64:
        raise ValueError("sockets")
    if udp_rx_slots < 1 or udp_rx_bytes < UDP_REC_HDR + 1:
        raise ValueError("udp queue")
    if not TCP_RTO_MIN_MS <= TCP_RTO_INIT_MS <= TCP_RTO_MAX_MS < (1 << 29):
        raise ValueError("tcp rto")
    if TCP_DELACK_MS >= 500 or TCP_DELACK_MS >= TCP_RTO_MIN_MS:
        raise ValueError("tcp delack")  # RFC 1122 4.2.3.2; and an RTO must outlast it
    if TCP_KEEPIDLE_MS >= (1 << 29) or TCP_TIME_WAIT_MS >= (1 << 29):
        raise ValueError("tcp timers")
    if TCP_HALF_OPEN_MAX < 1 or TCP_BACKLOG_MAX < 1:
        raise ValueError("tcp listen bounds")
    if EPHEMERAL_FIRST > EPHEMERAL_LAST:
        raise ValueError("ephemeral range")
    if not DHCP_JITTER_MS < DHCP_DISCOVER_MS <= DHCP_BACKOFF_MAX_MS < (1 << 29):
        raise ValueError("dhcp backoff")
    if DHCP_LEASE_MAX_S >= (1 << 29) or DHCP_PROBES < 1:
        raise ValueError("dhcp bounds")
    if not 1 <= DNS_SERVERS <= 3 or DNS_CACHE_ENTRIES < 0 or DNS_TTL_MAX_S * 1000 >= (1 << 29):
        raise ValueError("dns bounds")  # a cached entry's expiry must fit ticks_diff
    return True
