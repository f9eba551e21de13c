# Classic libpcap files (not pcapng) so Wireshark/tcpdump open simulator captures.
# Timestamps come from virtual milliseconds. Works on MicroPython (struct + open).
import struct

_MAGIC = 0xA1B2C3D4
_LINKTYPE_ETHERNET = 1


class PcapWriter:
    def __init__(self, path_or_file):
        # Accept an open binary file (kept open on close()) or a path (owned by us).
        if hasattr(path_or_file, "write"):
            self.f = path_or_file
            self._own = False
        else:
            self.f = open(path_or_file, "wb")
            self._own = True
        self.count = 0
        # magic, version 2.4, thiszone, sigfigs, snaplen, linktype
        self.f.write(struct.pack("<IHHiIII", _MAGIC, 2, 4, 0, 0, 65535, _LINKTYPE_ETHERNET))

    def write(self, frame, t_ms):
        t_ms = int(t_ms)
        n = len(frame)
        self.f.write(struct.pack("<IIII", t_ms // 1000, (t_ms % 1000) * 1000, n, n))
        self.f.write(bytes(frame))
        self.count += 1

    def close(self):
        if self.f is not None:
            if self._own:
                self.f.close()
            else:
                self.f.flush()
            self.f = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_pcap(path):
    # -> list of (t_ms, bytes). Accepts either byte order of the classic format.
    with open(path, "rb") as f:
        data = f.read()
    (magic,) = struct.unpack_from("<I", data, 0)
    if magic == _MAGIC:
        e = "<"
    elif magic == 0xD4C3B2A1:
        e = ">"
    else:
        raise ValueError("not a classic pcap file")
    out = []
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from(e + "IIII", data, off)
        off += 16
        out.append((sec * 1000 + usec // 1000, data[off:off + incl]))
        off += incl
    return out
