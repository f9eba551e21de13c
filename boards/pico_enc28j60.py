# Raspberry Pi Pico + an ENC28J60 module (the common "ENC28J60 Ethernet LAN module"
# with a 25 MHz crystal and an HR911105A jack; use a 3.3 V one, the chip is not 5 V).
# SPI1, so SPI0 stays free:
#
#   module  Pico pin (GPIO)   notes
#   VCC     36 (3V3 OUT)      ~160 mA while transmitting
#   GND     38 (GND)
#   SCK     14 (GP10)         SPI1 SCK
#   SI      15 (GP11)         SPI1 TX (MOSI)
#   SO      16 (GP12)         SPI1 RX (MISO)
#   CS      17 (GP13)         chip select
#   RESET   19 (GP14)         optional; the driver resets with the SRC command anyway
#   INT     20 (GP15)         optional; without it the driver polls EPKTCNT
#
# SPI mode 0 at 12 MHz (the chip takes up to 20 MHz; Rev. B1/B4 parts need >= 8 MHz,
# errata #1). Half duplex by default: the ENC28J60 does not auto-negotiate, so a
# switch sees a half-duplex 10BASE-T device (full_duplex=True only against a
# partner forced to 10 Mbit/s full duplex).

from boards.common import make_nic
from spinet.drivers.enc28j60 import ENC28J60

PINS = {"spi": 1, "sck": 10, "mosi": 11, "miso": 12, "cs": 13, "rst": 14, "int": 15,
        "baudrate": 12_000_000}


def nic(**overrides):
    return make_nic(PINS, dict(overrides), ENC28J60)
