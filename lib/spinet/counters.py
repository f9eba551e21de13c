# spinet.counters — the stack's always-on counters, one small int each.
#
# Counters live in a list indexed by these constants (an increment allocates
# nothing); Interface.stats() turns them into a dict named by NAMES. Each names the
# decision that was taken, so a drop can be traced to the branch that made it.

from .compat import const

RX_FRAMES = const(0)  # frames taken from the driver
TX_FRAMES = const(1)  # frames handed to the driver
RX_BYTES = const(2)
TX_BYTES = const(3)
RX_RUNT = const(4)  # shorter than an Ethernet header
RX_NOT_OURS = const(5)  # unicast to another MAC
RX_MULTICAST = const(6)  # group address we did not join
RX_ETHERTYPE = const(7)  # neither IPv4 nor ARP
DRV_ERRORS = const(8)  # driver raised on send/recv
ARP_RX = const(9)
ARP_TX = const(10)
ARP_BAD = const(11)  # malformed ARP packet
ARP_HIT = const(12)  # next hop found in the cache
ARP_MISS = const(13)  # next hop had to be resolved
ARP_QUEUED = const(14)  # packet held while resolving
ARP_QUEUE_DROP = const(15)  # held packet dropped (no slot, replaced or failed)
ARP_FAILED = const(16)  # resolution gave up after ARP_RETRIES
ARP_RATE_LIMITED = const(17)  # request not sent: ARP_RATE_PER_S reached
ARP_EVICT = const(18)  # entry reused for another address (LRU)
ARP_UNSOLICITED = const(19)  # reply we did not ask for: ignored (RFC 826 merge only)
ARP_CONFLICT = const(20)  # someone else claims our address
IP_RX = const(21)
IP_TX = const(22)
IP_BAD_HEADER = const(23)  # version or IHL
IP_BAD_LENGTH = const(24)  # total length vs frame
IP_BAD_CHECKSUM = const(25)
IP_TTL_ZERO = const(26)
IP_NOT_OURS = const(27)  # destination is not us or a broadcast we take
IP_BAD_SOURCE = const(28)  # broadcast/multicast/own source address
IP_PROTO = const(29)  # protocol we do not speak
IP_FRAG_RX = const(30)
IP_REASM_OK = const(31)
IP_REASM_DROP = const(32)  # fragment refused: too big, busy, overlapping
IP_REASM_TIMEOUT = const(33)
IP_NO_ROUTE = const(34)  # off-link destination and no gateway
IP_TOO_BIG = const(35)  # would need fragmenting on output (DF always set)
ICMP_RX = const(36)
ICMP_TX = const(37)
ICMP_BAD = const(38)  # short or bad checksum
ICMP_ECHO_RX = const(39)
ICMP_ECHO_REPLY_RX = const(40)
ICMP_UNREACH_TX = const(41)
ICMP_RATE_LIMITED = const(42)
ICMP_ERROR_RX = const(43)  # unreachable/time exceeded received
ICMP_IGNORED = const(44)  # types a host does not act on
UDP_RX = const(45)
UDP_TX = const(46)
UDP_BAD_LENGTH = const(47)
UDP_BAD_CHECKSUM = const(48)
UDP_NO_PORT = const(49)
UDP_QUEUE_FULL = const(50)
TCP_RX = const(51)
TCP_TX = const(52)
TCP_BAD_CHECKSUM = const(53)
TCP_BAD_HEADER = const(54)  # data offset or options malformed
TCP_BAD_FLAGS = const(55)  # SYN+FIN, SYN+RST, no ACK where one is required...
TCP_NO_SOCKET = const(56)  # nothing listens or is connected: answered by RST
TCP_RST_RX = const(57)  # RST accepted (connection reset)
TCP_RST_TX = const(58)
TCP_RST_IGNORED = const(59)  # out-of-window or not exactly at RCV.NXT (RFC 5961)
TCP_CHALLENGE_ACK = const(60)  # RFC 5961 challenge ACK sent
TCP_OUT_OF_WINDOW = const(61)  # segment outside the receive window
TCP_ACK_UNSENT = const(62)  # ACK for data never sent (RFC 5961 5.2)
TCP_SYN_DROPPED = const(63)  # listen backlog / half-open bound / no slot
TCP_OOO = const(64)  # out-of-order segment stored
TCP_OOO_DROP = const(65)  # out-of-order segment dropped: assembler full
TCP_RETRANSMIT = const(66)  # segments sent again
TCP_TIMEOUT = const(67)  # retransmission timer expiries
TCP_FAST_RETRANSMIT = const(68)
TCP_DUPACK = const(69)
TCP_TW_REUSE = const(70)  # TIME-WAIT slot reused or dropped early (table full, new SYN)
TCP_ABORT = const(71)  # connection given up (retries spent, unreachable)
NO_MEMORY = const(72)  # a frame or timer pass cut short by MemoryError (frame dropped)
TCP_ACCEPT_FULL = const(73)  # handshake ACK ignored: the accept queue holds the backlog
COUNT = const(74)

NAMES = (
    "rx_frames", "tx_frames", "rx_bytes", "tx_bytes", "rx_runt", "rx_not_ours",
    "rx_multicast", "rx_ethertype", "drv_errors", "arp_rx", "arp_tx", "arp_bad",
    "arp_hit", "arp_miss", "arp_queued", "arp_queue_drop", "arp_failed",
    "arp_rate_limited", "arp_evict", "arp_unsolicited", "arp_conflict", "ip_rx",
    "ip_tx", "ip_bad_header", "ip_bad_length", "ip_bad_checksum", "ip_ttl_zero",
    "ip_not_ours", "ip_bad_source", "ip_proto", "ip_frag_rx", "ip_reasm_ok",
    "ip_reasm_drop", "ip_reasm_timeout", "ip_no_route", "ip_too_big", "icmp_rx",
    "icmp_tx", "icmp_bad", "icmp_echo_rx", "icmp_echo_reply_rx", "icmp_unreach_tx",
    "icmp_rate_limited", "icmp_error_rx", "icmp_ignored", "udp_rx", "udp_tx",
    "udp_bad_length", "udp_bad_checksum", "udp_no_port", "udp_queue_full", "tcp_rx",
    "tcp_tx", "tcp_bad_checksum", "tcp_bad_header", "tcp_bad_flags", "tcp_no_socket",
    "tcp_rst_rx", "tcp_rst_tx", "tcp_rst_ignored", "tcp_challenge_ack", "tcp_out_of_window",
    "tcp_ack_unsent", "tcp_syn_dropped", "tcp_ooo", "tcp_ooo_drop", "tcp_retransmit",
    "tcp_timeout", "tcp_fast_retransmit", "tcp_dupack", "tcp_tw_reuse", "tcp_abort",
    "no_memory", "tcp_accept_full",
)
