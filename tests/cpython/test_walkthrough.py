# docs/WALKTHROUGH.md tells one connection's journey with listings that
# `python -m host_tools walkthrough` makes on the virtual board. This runs it and
# checks each stage shows what the text says, and that the doc and the command still
# have the same stages.
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from host_tools.vboard import micropython_path  # noqa: E402


def test_walkthrough_listings_match_the_story(tmp_path):
    if not micropython_path():
        if os.environ.get("CI") == "true":
            pytest.fail("micropython missing (make venv installs it)")
        pytest.skip("micropython missing")
    r = subprocess.run([sys.executable, "-m", "host_tools", "walkthrough", "--out",
                        str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       timeout=240)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    stages = re.findall(r"^== (\d+)\. (.*)$", out, re.M)
    assert [n for n, _ in stages] == [str(i) for i in range(1, 9)], stages
    body = {n: out.split("== %s. " % n)[1].split("\n== ")[0] for n, _ in stages}
    assert "CLOSED" in body["2"] and "0.0.0.0:0" in body["2"]
    # The handshake, in order, then an ESTABLISHED block.
    hs = re.findall(r"^(tx|rx) IP .* Flags \[([^\]]+)\]", body["3"], re.M)
    assert hs == [("tx", "S"), ("rx", "S."), ("tx", ".")], body["3"]
    assert "ESTABLISHED" in body["3"]
    assert "length 14" in body["4"] and "echoed b'hello, spinet\\n'" in body["4"]
    # One segment: the frame into the TX buffer, TX_WR moved, the SEND command.
    assert re.search(r"^write S0 TX buf", body["5"], re.M), body["5"]
    assert re.search(r"^write Sn_TX_WR", body["5"], re.M), body["5"]
    assert re.search(r"^write Sn_CR +20$", body["5"], re.M), body["5"]
    assert re.search(r"^tx .*Flags \[F\.\]", body["6"], re.M), body["6"]
    assert "TIME_WAIT" in body["6"]
    assert "[SYN]" in body["8"] and "[SYN, ACK]" in body["8"] and "[FIN, ACK]" in body["8"]
    # The doc tells the same stages (titles as the command prints them).
    with open(os.path.join(ROOT, "docs", "WALKTHROUGH.md")) as f:
        doc = f.read()
    for n, title in stages:
        assert "== %s. %s" % (n, title) in doc, "docs/WALKTHROUGH.md lacks stage %s" % n
