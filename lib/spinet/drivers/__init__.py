# spinet.drivers — LAN drivers. Each moves Ethernet frames and knows no protocol:
#   mac, send(frame), recv_into(buf) -> n, link_up(), wait(timeout_ms)
# Board drivers (W5500, ENC28J60) talk to any object with machine.SPI/Pin methods;
# host drivers (tap, packet) run on Linux for tests and benchmarks.
