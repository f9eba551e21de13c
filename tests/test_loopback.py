# Loopback: 127.0.0.0/8 (and the interface's own address) delivered inside the stack,
# never through the driver; bind() to 127.0.0.1, 0.0.0.0 or the interface address
# behaves as on MicroPython's own ports and Linux.
# Plain test_* functions: pytest on CPython, tests/mprun.py on MicroPython unix.
import support
from support import (IP_A, IP_PEER, MAC_A, frame_tcp, frame_udp, learn_peer, mock_stack,
                     parse, raises)

AF_INET = 2
SOCK_STREAM = 1
SOCK_DGRAM = 2
SYN = 0x02
RST = 0x04
ACK = 0x10


def pattern(n, k=0):
    return bytes((i * 13 + 5 + k) & 0xFF for i in range(n))


def no_loopback_on_wire(lan):
    """Nothing addressed to or from 127/8 (nor to ourselves) was handed to the driver."""
    for fr in lan.take():
        f = parse(fr)
        if f["type"] == 0x0800:
            assert not f["dst_ip"].startswith("127."), f
            assert not f["src_ip"].startswith("127."), f
            assert f["dst_ip"] != IP_A, f


def tcp_echo(nic, clock, host, bind_host, port, size):
    """A TCP server and a client in one program: size bytes each way. Returns the
    server side's view of the client's address and the accepted socket's name."""
    srv = nic.socket(AF_INET, SOCK_STREAM)
    srv.bind((bind_host, port))
    srv.listen(2)
    cli = nic.socket(AF_INET, SOCK_STREAM)
    cli.settimeout(5)
    cli.connect((host, port))  # blocking: drives the stack, the listener answers
    srv.settimeout(5)
    conn, peer = srv.accept()
    assert conn.getpeername() == cli.getsockname() == peer
    if host.startswith("127."):
        assert conn.getsockname() == cli.getpeername() == (host, port)
    data = pattern(size)
    sent = 0
    got = bytearray()
    back = bytearray()
    echoed = 0
    cli.setblocking(False)
    conn.setblocking(False)
    for _ in range(20000):
        if sent < size:
            n = cli.write(data[sent:sent + 700])
            sent += n or 0
        if len(got) - echoed < 1024:
            b = conn.read(1024)
            if b:
                got.extend(b)
        if echoed < len(got):
            echoed += conn.write(got[echoed:]) or 0  # non-blocking: may be short
        r = cli.read(1024)
        if r:
            back.extend(r)
        if len(back) >= size:
            break
        nic.poll()
        clock.advance(1)  # delayed ACKs and the like run on the virtual clock
    assert bytes(got) == data, (len(got), size)
    assert bytes(back) == data, (len(back), size, back.find(data[:50], 1))
    cli.close()
    conn.close()
    srv.close()
    for _ in range(50):  # FIN handshakes, all in the loopback queue
        nic.poll()
    return peer


def test_tcp_echo_127_0_0_1():
    nic, lan, clock = mock_stack()
    peer = tcp_echo(nic, clock, "127.0.0.1", "127.0.0.1", 7000, 20000)
    assert peer[0] == "127.0.0.1" and peer[1] >= 49152
    no_loopback_on_wire(lan)
    assert nic.stats()["loopback_drops"] == 0


def test_tcp_127_0_0_2_and_any():
    nic, lan, clock = mock_stack()
    peer = tcp_echo(nic, clock, "127.0.0.2", "0.0.0.0", 7001, 3000)
    assert peer[0] == "127.0.0.2"  # source = the loopback address used
    tcp_echo(nic, clock, "127.0.0.2", "127.0.0.2", 7002, 100)
    no_loopback_on_wire(lan)


def test_tcp_own_address():
    # Connecting to the interface's own address loops back too (as on Linux).
    nic, lan, clock = mock_stack()
    peer = tcp_echo(nic, clock, IP_A, IP_A, 7003, 3000)
    assert peer[0] == IP_A
    no_loopback_on_wire(lan)


def test_udp_127():
    nic, lan, clock = mock_stack()
    srv = nic.socket(AF_INET, SOCK_DGRAM)
    srv.bind(("127.0.0.1", 5353))
    srv.settimeout(2)
    cli = nic.socket(AF_INET, SOCK_DGRAM)
    cli.settimeout(2)
    for n in (0, 1, 100, 1472):
        data = pattern(n, n)
        assert cli.sendto(data, ("127.0.0.1", 5353)) == n
        got, addr = srv.recvfrom(2000)
        assert got == data
        assert addr[0] == "127.0.0.1"
        srv.sendto(b"re:" + got[:1400], addr)
        back, addr2 = cli.recvfrom(2000)
        assert back == b"re:" + data[:1400] and addr2 == ("127.0.0.1", 5353)
    no_loopback_on_wire(lan)


def test_ping_127():
    nic, lan, clock = mock_stack()
    rtts = nic.ping("127.0.0.1", count=2)
    assert len(rtts) == 2 and None not in rtts
    no_loopback_on_wire(lan)


def test_bind_rules():
    nic, lan, clock = mock_stack()
    for host in ("127.0.0.1", "127.0.0.2", "0.0.0.0", "", IP_A):
        s = nic.socket(AF_INET, SOCK_STREAM)
        s.bind((host, 8000))
        s.close()
        u = nic.socket(AF_INET, SOCK_DGRAM)
        u.bind((host, 8000))
        u.close()
    s = nic.socket(AF_INET, SOCK_STREAM)
    raises(99, s.bind, ("192.0.2.77", 8000))  # EADDRNOTAVAIL: not one of ours
    s.close()


def test_wire_cannot_reach_127_bound():
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    srv = nic.socket(AF_INET, SOCK_STREAM)
    srv.bind(("127.0.0.1", 80))
    srv.listen(2)
    lan.inject(frame_tcp(40000, 80, 1000, 0, SYN, data=b"", options=support.mss_opt(1460)))
    nic.poll()
    sent = [parse(f) for f in lan.take()]
    assert len(sent) == 1 and sent[0]["dst_ip"] == IP_PEER
    assert sent[0]["tcp_flags"] == RST | ACK and sent[0]["ack"] == 1001
    u = nic.socket(AF_INET, SOCK_DGRAM)
    u.bind(("127.0.0.1", 53))
    u.setblocking(False)
    lan.inject(frame_udp(4000, 53, b"from the wire"))
    nic.poll()
    raises(11, u.recv, 100)
    sent = [parse(f) for f in lan.take()]
    assert len(sent) == 1 and sent[0]["proto"] == 1 and sent[0]["icmp_type"] == 3
    # Addressed to 127/8, or from 127/8, on the wire: dropped (RFC 1122 3.2.1.3).
    u2 = nic.socket(AF_INET, SOCK_DGRAM)
    u2.bind(("", 54))
    u2.setblocking(False)
    before = nic.stats()
    lan.inject(frame_udp(4000, 54, b"to loopback", dst_ip="127.0.0.1"))
    lan.inject(frame_udp(4000, 54, b"from loopback", src_ip="127.0.0.1"))
    lan.inject(frame_tcp(40000, 80, 1000, 0, SYN, src_ip="127.0.0.1", dst_ip="127.0.0.1"))
    nic.poll()
    after = nic.stats()
    raises(11, u2.recv, 100)
    assert after["ip_not_ours"] - before["ip_not_ours"] == 1
    assert after["ip_bad_source"] - before["ip_bad_source"] == 2
    assert lan.take() == []
    # The same sockets answer from inside.
    cli = nic.socket(AF_INET, SOCK_DGRAM)
    cli.sendto(b"inside", ("127.0.0.1", 53))
    u.settimeout(1)
    assert u.recv(100) == b"inside"
    c = nic.socket(AF_INET, SOCK_STREAM)
    c.settimeout(1)
    c.connect(("127.0.0.1", 80))
    conn, peer = srv.accept()
    assert peer[0] == "127.0.0.1"
    no_loopback_on_wire(lan)


def test_any_bound_reachable_both_ways():
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    srv = nic.socket(AF_INET, SOCK_STREAM)
    srv.bind(("0.0.0.0", 81))
    srv.listen(2)
    lan.inject(frame_tcp(40001, 81, 5000, 0, SYN, options=support.mss_opt(1460)))
    nic.poll()
    sent = [parse(f) for f in lan.take()]
    assert len(sent) == 1 and sent[0]["tcp_flags"] == SYN | ACK and sent[0]["ack"] == 5001
    c = nic.socket(AF_INET, SOCK_STREAM)
    c.settimeout(1)
    c.connect(("127.0.0.1", 81))
    srv.settimeout(1)
    conn, peer = srv.accept()
    assert peer[0] == "127.0.0.1"
    no_loopback_on_wire(lan)


def test_interface_address_bound_not_via_127():
    nic, lan, clock = mock_stack()
    learn_peer(nic, lan)
    srv = nic.socket(AF_INET, SOCK_STREAM)
    srv.bind((IP_A, 82))
    srv.listen(2)
    lan.inject(frame_tcp(40002, 82, 9000, 0, SYN, options=support.mss_opt(1460)))
    nic.poll()
    sent = [parse(f) for f in lan.take()]
    assert len(sent) == 1 and sent[0]["tcp_flags"] == SYN | ACK
    c = nic.socket(AF_INET, SOCK_STREAM)
    c.settimeout(1)
    try:
        c.connect(("127.0.0.1", 82))
        raise AssertionError("connected")
    except OSError as e:
        assert e.args[0] in (104, 111), e  # refused: the listener is not on 127.0.0.1
    no_loopback_on_wire(lan)


def test_interface_down_or_unconfigured():
    # No address yet (DHCP not bound), and then the link down: 127/8 still works.
    nic, lan, clock = mock_stack(ip=None)
    tcp_echo(nic, clock, "127.0.0.1", "127.0.0.1", 7010, 2500)
    lan.up = False
    clock.advance(1000)
    nic.poll()
    assert nic.status() == 0
    tcp_echo(nic, clock, "127.0.0.1", "", 7011, 2500)
    no_loopback_on_wire(lan)
    assert lan.take() == []


def test_queue_bounded():
    # More than LOOPBACK_BYTES queued before a poll(): the rest is dropped and
    # counted, nothing grows, and the queue works again after the poll.
    from spinet import config
    nic, lan, clock = mock_stack()
    srv = nic.socket(AF_INET, SOCK_DGRAM, rx=8192)
    srv.bind(("127.0.0.1", 6000))
    srv.setblocking(False)
    cli = nic.socket(AF_INET, SOCK_DGRAM)
    k = config.LOOPBACK_BYTES // (4 + 28 + 1000)  # records of 1000-byte datagrams
    for i in range(k + 3):
        cli.sendto(bytes([i]) * 1000, ("127.0.0.1", 6000))
    assert nic.stats()["loopback_drops"] == 3
    nic.poll()
    got = []
    for _ in range(k + 3):
        try:
            got.append(srv.recv(2000))
        except OSError as e:
            assert e.args[0] == 11
            break
    k = min(k, config.UDP_RX_SLOTS)  # the socket's own queue bound comes first
    assert got == [bytes([i]) * 1000 for i in range(k)]
    # Wrapping around the end of the queue: records of varying size, many rounds.
    for i in range(300):
        n = (i * 37) % 1400
        for j in range(2):
            cli.sendto(bytes([i & 0xFF, j]) * (n // 2), ("127.0.0.1", 6000))
        nic.poll()
        for j in range(2):
            assert srv.recv(2000) == bytes([i & 0xFF, j]) * (n // 2)
    assert nic.stats()["loopback_drops"] == 3
