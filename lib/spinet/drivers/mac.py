# spinet.drivers.mac — a MAC address for chips that have none of their own.
#
# Neither the W5500 nor the ENC28J60 carries a factory MAC. When the caller gives
# none, the drivers derive a stable one from the board's unique id
# (machine.unique_id(): the flash chip's 64-bit id on a Pico): SHA-256 over a tag,
# the id and a per-chip salt, with the locally-administered bit set and the group
# bit clear (IEEE 802 "U/L" and "I/G" bits of the first octet). The same board
# always gets the same address; two chips on one board get different ones.

import hashlib


def local_mac(uid, salt=0):
    """6 bytes: a locally administered unicast MAC derived from uid (bytes)."""
    d = hashlib.sha256(b"spinet-mac" + bytes(uid) + bytes((salt & 0xFF,))).digest()
    m = bytearray(d[0:6])
    m[0] = (m[0] & 0xFC) | 0x02
    return bytes(m)


def board_mac(salt=0):
    """local_mac() of machine.unique_id(); ValueError where there is no such id."""
    try:
        import machine
        uid = machine.unique_id()
    except (ImportError, AttributeError):
        raise ValueError("no MAC given and no machine.unique_id() to derive one from")
    return local_mac(uid, salt)
