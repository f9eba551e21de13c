# The journey of one TCP connection through spinet, told by the board itself: run
# it on the virtual board with the emulated W5500 (docs/WALKTHROUGH.md):
#
#   python -m host_tools walkthrough            # starts the board, runs this, adds the pcap
#   mpremote connect /dev/pts/N run host_tools/walkthrough_board.py   # by hand
#
# Each stage prints a "== title" line, then what the stack shows at that point:
# nic.netstat() (the control blocks), the frame trace (nic.config(trace=6)) and, for
# one segment, the SPI transactions the W5500 driver makes. Restricted Python: it runs
# on the board (the MicroPython unix port behind the virtual board).

import time

from boards import sim_w5500
from spinet import socket

PEER = ("192.0.2.1", 7)  # the host-side peer's echo server


def stage(title):
    print()
    print("== " + title)


def netstat(nic):
    rows = nic.netstat(time_wait=True)
    if not rows:
        print("(no control blocks)")
    for r in rows:
        print(r)


def settle(nic, ms):
    # Let the stack run for ms (frames in flight arrive and are answered).
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        nic.poll()
        nic.wait(5)


# W5500 SPI frame: 16-bit address, control byte (block select BSB[7:3], write bit 2,
# operation mode [1:0]), then data. Socket 0 only: spinet uses it in MACRAW mode.
_BLOCKS = {0: "common", 1: "S0 reg", 2: "S0 TX buf", 3: "S0 RX buf"}
_S0_REGS = {0x00: "Sn_MR", 0x01: "Sn_CR", 0x02: "Sn_IR", 0x03: "Sn_SR", 0x20: "Sn_TX_FSR",
            0x22: "Sn_TX_RD", 0x24: "Sn_TX_WR", 0x26: "Sn_RX_RSR", 0x28: "Sn_RX_RD",
            0x2A: "Sn_RX_WR", 0x2C: "Sn_IMR"}
_COMMON_REGS = {0x00: "MR", 0x09: "SHAR", 0x15: "IR", 0x17: "SIR", 0x18: "SIMR",
                0x2E: "PHYCFGR", 0x39: "VERSIONR"}


def spi_line(mosi, miso):
    addr = (mosi[0] << 8) | mosi[1]
    ctl = mosi[2]
    bsb = ctl >> 3
    write = ctl & 4
    # A read clocks the header out, then the data in: the data is MISO's tail.
    data = mosi[3:] if write else miso[len(miso) - (len(mosi) - 3):]
    block = _BLOCKS.get(bsb, "block %d" % bsb)
    if bsb == 1:
        where = _S0_REGS.get(addr, "0x%04x" % addr)
        if len(data) == 2 and addr + 1 in _S0_REGS and addr + 1 != 0x21:
            where += "+" + _S0_REGS[addr + 1]  # two one-byte registers in one read
    elif bsb == 0:
        where = _COMMON_REGS.get(addr, "0x%04x" % addr)
    else:
        where = "%s @0x%04x" % (block, addr)
    shown = " ".join("%02x" % b for b in data[:8])
    if len(data) > 8:
        shown += " ... (%d bytes)" % len(data)
    return "%-5s %-20s %s" % ("write" if write else "read", where, shown)


def main():
    stage("1. the interface: emulated W5500 on the virtual board, static address")
    nic = sim_w5500.nic(hostname="walk", ifconfig=("192.0.2.2", "255.255.255.0",
                                                    "192.0.2.1", "192.0.2.1"))
    print("ifconfig", nic.ifconfig())
    print("SPI transactions to bring the chip up:", nic.board.spi.transactions)
    netstat(nic)

    stage("2. socket(): a control block, CLOSED, no address yet")
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    netstat(nic)

    stage("3. connect(): ARP for the peer, then SYN, SYN-ACK, ACK")
    nic.config(trace=6)  # 2: frames sent, 4: frames received
    s.connect(PEER)
    nic.config(trace=0)
    netstat(nic)

    stage("4. data: 14 bytes out, the echo back (it carries the peer's ACK), our ACK")
    nic.config(trace=6)
    s.write(b"hello, spinet\n")
    got = b""
    while len(got) < 14:
        got += s.recv(64)
    settle(nic, 300)  # the ACK of the echo (delayed ACK) goes out
    nic.config(trace=0)
    print("echoed", got)
    netstat(nic)

    stage("5. one segment down to the wire: the W5500 driver's SPI transactions")
    spi = nic.board.spi
    spi.log = []
    spi.trace = True
    t0 = spi.transactions
    b0 = spi.bytes
    s.write(b"x")
    spi.trace = False
    print("%d transactions, %d bytes clocked, in this write() call" % (
        spi.transactions - t0, spi.bytes - b0))
    for _chip, mosi, miso in spi.log:
        print(spi_line(mosi, miso))
    got = b""
    while len(got) < 1:
        got += s.recv(64)

    stage("6. close(): FIN, the peer's FIN, our ACK; the block waits in TIME_WAIT")
    nic.config(trace=6)
    s.close()
    settle(nic, 300)
    nic.config(trace=0)
    netstat(nic)

    stage("7. counters")
    st = nic.stats()
    for k in sorted(st):
        if st[k] and (k.startswith("tcp") or k.startswith("arp") or k.startswith("eth")):
            print("%s %d" % (k, st[k]))


main()
