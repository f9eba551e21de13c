# WIZnet W5500-EVB-Pico (RP2040 + W5500 on one board), and W5500-EVB-Pico2 (RP2350).
#
#   W5500   RP2040    notes
#   SCLK    GP18      SPI0 SCK
#   MOSI    GP19      SPI0 TX
#   MISO    GP16      SPI0 RX
#   SCSn    GP17      chip select, active low
#   RSTn    GP20      hardware reset, active low
#   INTn    GP21      interrupt, active low (open drain; pulled up on the board)
#
# SPI mode 0 at 24 MHz: the most the rp2 port gives with its default 48 MHz
# peripheral clock (machine.freq(125_000_000, 125_000_000) allows up to 62.5 MHz;
# pass baudrate=). The chip has no MAC of its own: mac= or one derived from
# machine.unique_id() (spinet.drivers.mac).
#
#   from boards import w5500_evb_pico
#   nic = w5500_evb_pico.nic(ifconfig=("192.0.2.2", "255.255.255.0", "192.0.2.1", "192.0.2.1"))

from boards.common import make_nic
from spinet.drivers.w5500 import W5500

PINS = {"spi": 0, "sck": 18, "mosi": 19, "miso": 16, "cs": 17, "rst": 20, "int": 21,
        "baudrate": 24_000_000}


def nic(**overrides):
    return make_nic(PINS, dict(overrides), W5500)
