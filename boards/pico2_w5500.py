# Raspberry Pi Pico 2 (RP2350) + a W5500 breakout, or the WIZnet W5500-EVB-Pico2:
# the same pins as pico_w5500.py / w5500_evb_pico.py (SPI0 on GP16-19, RSTn GP20,
# INTn GP21). The RP2350's faster core spends less time per SPI transaction, so
# the SPI clock matters more: 24 MHz by default (on-board or short wiring).

from boards.common import make_nic
from spinet.drivers.w5500 import W5500

PINS = {"spi": 0, "sck": 18, "mosi": 19, "miso": 16, "cs": 17, "rst": 20, "int": 21,
        "baudrate": 24_000_000}


def nic(**overrides):
    return make_nic(PINS, dict(overrides), W5500)
