"""``python -m host_tools bench``: spinet's figures, printed as one table and written as
JSON (docs/BENCHMARKS.md records a full run).

Each section is a module ``host_tools/bench/<section>.py`` with ``run(quick, log)``
returning rows ``{"section", "name", "value", "unit", "note"}``; ``log(str)`` prints
progress. Sections run in the order of SECTIONS; a section whose module is missing is
skipped with a note, a section that fails is reported as a row and the rest still run.
Figures are printed, never asserted (the machine is shared and noisy).
"""

import importlib
import json
import os
import sys
import time
import traceback

SECTIONS = ["throughput", "latency", "memory", "cpu", "size", "scaling", "profile"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def row(section, name, value, unit, note=""):
    return {"section": section, "name": name, "value": float(value), "unit": unit,
            "note": note}


def fmt_value(v):
    if v != v:  # NaN: not measured
        return "-"
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3g" % v


def table(rows):
    """The rows as a plain-text table (section, name, value, unit, note)."""
    head = ("section", "name", "value", "unit", "note")
    cells = [head] + [(r["section"], r["name"], fmt_value(r["value"]), r["unit"], r["note"])
                      for r in rows]
    w = [max(len(c[i]) for c in cells) for i in range(4)]
    out = []
    for i, c in enumerate(cells):
        out.append("%-*s  %-*s  %*s  %-*s  %s" % (w[0], c[0], w[1], c[1], w[2], c[2], w[3],
                                                   c[3], c[4]))
        if i == 0:
            out.append("  ".join("-" * x for x in w) + "  ----")
    return "\n".join(out)


def markdown(rows):
    """The rows as a Markdown table (for docs/BENCHMARKS.md)."""
    out = ["| section | name | value | unit | note |", "|---|---|---:|---|---|"]
    for r in rows:
        out.append("| %s | %s | %s | %s | %s |" % (r["section"], r["name"], fmt_value(r["value"]),
                                                   r["unit"], r["note"].replace("|", "/")))
    return "\n".join(out)


def run(quick=False, only=None, json_path=None, log=None):
    """Run the sections (all, or those named in only); returns the rows."""
    if log is None:
        def log(msg):
            print("[bench] " + msg, flush=True)
    names = SECTIONS if not only else [s for s in SECTIONS if s in only]
    unknown = [s for s in (only or []) if s not in SECTIONS]
    if unknown:
        raise SystemExit("unknown section(s): %s (known: %s)" % (", ".join(unknown),
                                                                ", ".join(SECTIONS)))
    rows = []
    t_all = time.monotonic()
    for name in names:
        try:
            mod = importlib.import_module("host_tools.bench." + name)
        except ModuleNotFoundError as e:
            if e.name != "host_tools.bench." + name:
                raise
            log("section %s: not present in this tree, skipped" % name)
            continue
        log("section %s%s ..." % (name, " (quick)" if quick else ""))
        t0 = time.monotonic()
        try:
            got = list(mod.run(quick, log))
        except Exception as e:  # keep going: one broken section must not hide the others
            traceback.print_exc()
            got = [row(name, "error", float("nan"), "", "%s: %s" % (type(e).__name__, e))]
        rows.extend(got)
        log("section %s: %d rows in %.1f s" % (name, len(got), time.monotonic() - t0))
    log("all sections: %.1f s" % (time.monotonic() - t_all))
    if json_path:
        d = os.path.dirname(os.path.abspath(json_path))
        os.makedirs(d, exist_ok=True)
        meta = {"quick": quick, "sections": names, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
                "seconds": round(time.monotonic() - t_all, 1), "python": sys.version.split()[0]}
        with open(json_path, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)
    return rows


def main(args):
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    json_path = args.json or os.path.join(ROOT, "build", "bench.json")
    rows = run(quick=args.quick, only=only, json_path=json_path)
    print()
    print(table(rows))
    if args.markdown:
        print()
        print(markdown(rows))
    print("\nrows written to %s" % json_path)
    return 1 if any(r["name"] == "error" for r in rows) else 0
