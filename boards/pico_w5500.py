# Raspberry Pi Pico + a W5500 breakout module (WIZnet WIZ850io, or the common blue
# "W5500 Ethernet module"), wired to the same pins as the W5500-EVB-Pico so the same
# firmware runs on both:
#
#   module  Pico pin (GPIO)   notes
#   3V3     36 (3V3 OUT)      the W5500 draws ~130 mA: use 3V3 OUT, not a GPIO
#   GND     38 (GND)
#   SCLK    24 (GP18)         SPI0 SCK
#   MOSI    25 (GP19)         SPI0 TX
#   MISO    21 (GP16)         SPI0 RX
#   SCSn    22 (GP17)         chip select
#   RSTn    26 (GP20)         optional (rst=None to leave it unwired)
#   INTn    27 (GP21)         optional; without it the driver polls Sn_RX_RSR
#
# 12 MHz by default: jumper wires longer than ~10 cm ring at higher clocks. Short,
# direct wiring works at 24 MHz (baudrate=24_000_000).

from boards.common import make_nic
from spinet.drivers.w5500 import W5500

PINS = {"spi": 0, "sck": 18, "mosi": 19, "miso": 16, "cs": 17, "rst": 20, "int": 21,
        "baudrate": 12_000_000}


def nic(**overrides):
    return make_nic(PINS, dict(overrides), W5500)
