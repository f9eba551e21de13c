# What the real-peer tests fetch or start from outside the repository: files from PyPI
# sdists (pinned by sha256; third-party code is never committed) and Debian's
# mosquitto inside a test namespace (tests/netns.py Lab, on the kernel's 192.0.2.1).
import hashlib
import io
import os
import re
import tarfile
import urllib.request

import pytest

import netns


def unavailable(why):
    """Skip, except under CI=true, where a missing tool or package is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


def sdist_file(index, name, sha256, member):
    """The bytes of `member` inside the sdist `name` (e.g. "pkg-1.0.tar.gz"). pip cannot
    fetch these sdists (no setup.py), so the link is read from PyPI's simple index,
    as pip does, and the download is checked against the pinned sha256."""
    try:
        page = urllib.request.urlopen(index, timeout=30).read().decode()
        links = [u for u in re.findall(r'href="([^"]+)"', page) if name in u]
        if not links:
            unavailable("%s not listed on %s" % (name, index))
        data = urllib.request.urlopen(links[0].split("#")[0], timeout=30).read()
    except OSError as e:
        unavailable("cannot fetch %s from PyPI: %s" % (name, e))
    assert hashlib.sha256(data).hexdigest() == sha256, "%s changed on PyPI" % name
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        return t.extractfile(member).read()


def start_mosquitto(lab, name="mosquitto"):
    """mosquitto listening on the kernel side of lab (port 1883, anonymous, logging
    every event to stderr for the tests' expect()); returns its process once it
    listens. Called again it starts another broker with the same configuration."""
    conf = os.path.join(lab.tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener 1883 %s\nallow_anonymous true\npersistence false\n"
                "log_dest stderr\nlog_type all\n" % netns.KERNEL_IP)
    os.chmod(lab.tmp, 0o755)
    os.chmod(conf, 0o644)
    broker = lab.popen(["mosquitto", "-c", conf], name=name, timeout=120)
    broker.expect(r"Opening ipv4 listen socket on port 1883", timeout=10, stream="err")
    return broker
