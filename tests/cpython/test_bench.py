# The bench tool itself (not its figures, which are printed, never asserted): the table
# and Markdown formatting, the JSON file, --only, a missing section skipped, a failing
# section reported as a row; and, with root, `python -m host_tools bench --quick --only
# latency` end to end (about 15 s).
import json
import subprocess
import sys

import pytest

import netns
from host_tools import bench
from host_tools.bench import common

KEYS = {"section", "name", "value", "unit", "note"}


def test_stats_helpers():
    assert common.median([3, 1, 2]) == 2
    assert common.median([4, 1, 2, 3]) == 2.5
    assert common.percentile(list(range(1, 101)), 99) == 99
    assert common.percentile([5.0], 99) == 5.0
    assert "n=2" in common.spread([1.0, 2.0])


def test_table_and_markdown():
    rows = [bench.row("throughput", "x download", 12.345, "MB/s", "median of 3"),
            bench.row("latency", "ping", 0.2123, "ms", "a|b"),
            bench.row("latency", "missing", float("nan"), "", "why")]
    t = bench.table(rows).splitlines()
    assert t[0].split()[:4] == ["section", "name", "value", "unit"]
    assert len(t) == 2 + len(rows)
    assert "12.35" in t[2] and "0.212" in t[3] and " - " in t[4]
    md = bench.markdown(rows).splitlines()
    assert md[0].startswith("| section") and len(md) == 2 + len(rows)
    assert "a/b" in md[3]  # a pipe in a note does not break the table


def test_runner_json_only_and_failures(tmp_path, monkeypatch):
    import types

    good = types.ModuleType("host_tools.bench.fake_good")
    good.run = lambda quick, log: [bench.row("fake_good", "n", 1.0 if quick else 2.0, "u")]
    bad = types.ModuleType("host_tools.bench.fake_bad")

    def boom(quick, log):
        raise RuntimeError("broken on purpose")
    bad.run = boom
    monkeypatch.setitem(sys.modules, "host_tools.bench.fake_good", good)
    monkeypatch.setitem(sys.modules, "host_tools.bench.fake_bad", bad)
    monkeypatch.setattr(bench, "SECTIONS", ["fake_good", "fake_bad", "fake_absent"])
    out = tmp_path / "b.json"
    rows = bench.run(quick=True, json_path=str(out), log=lambda m: None)
    assert [r["name"] for r in rows] == ["n", "error"]
    assert "broken on purpose" in rows[1]["note"]
    data = json.loads(out.read_text())
    assert data["meta"]["quick"] is True and len(data["rows"]) == 2
    rows = bench.run(quick=False, only=["fake_good"], log=lambda m: None)
    assert rows == [bench.row("fake_good", "n", 2.0, "u")]
    with pytest.raises(SystemExit):
        bench.run(only=["nonesuch"], log=lambda m: None)


def test_bench_quick_latency_end_to_end(tmp_path):
    netns.require("tap", "micropython", tools=("ping", "socat"))
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, "-m", "host_tools", "bench", "--quick", "--only",
                        "latency", "--json", str(out)], cwd=netns.ROOT, timeout=110,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(r.stdout)
    assert r.returncode == 0, r.stdout
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 4 and all(set(x) == KEYS for x in rows)
    for x in rows:
        assert x["section"] == "latency" and x["unit"] == "ms" and x["value"] > 0
        assert x["name"] in r.stdout  # every row printed in the table
