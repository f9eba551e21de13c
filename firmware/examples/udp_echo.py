# A UDP echo server on spinet (RFC 862): every datagram to the port goes back to
# its sender unchanged. Restricted Python: a board, the unix port and CPython.
#
#   from udp_echo import main
#   main(nic, port=7)                 # forever; max_packets=N to stop after N
#
# As a firmware app: config.json {"app": "udp_echo", "app_args": {"port": 7}}.

from spinet import socket as _sk


def main(nic, port=7, max_packets=None, size=1472, log=None):
    """Echo datagrams on nic:port until max_packets were echoed (None: forever).
    Returns the number echoed."""
    s = nic.socket(_sk.AF_INET, _sk.SOCK_DGRAM)
    s.bind(("", port))
    buf = bytearray(size)
    mv = memoryview(buf)
    n = 0
    try:
        while max_packets is None or n < max_packets:
            k, addr = s.recvfrom_into(buf)
            s.sendto(mv[:k], addr)
            n += 1
            if log:
                log("udp %s:%d %d" % (addr[0], addr[1], k))
    finally:
        s.close()
    return n

