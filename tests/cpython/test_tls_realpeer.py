# TLS over spinet (issue 9 item 5) in the real-peer ring: MicroPython's own `ssl`
# (mbedTLS, unix port) wraps a spinet TCP socket; the kernel side is the openssl CLI.
# A CA and a server certificate for tls.spinet.test (subjectAltName) are made with
# `openssl` for each test module; dnsmasq answers tls.spinet.test with the kernel's
# address, so the client resolves, connects, checks the chain (cadata, DER) and the
# name, and the test compares the body's sha256 with the served file's.
#
# CPython is not run here: its ssl module wraps only sockets with a file descriptor.
#
# Without root, openssl or dnsmasq the tests skip with the reason; under CI=true they
# fail instead.
import hashlib
import os
import re
import shutil
import subprocess
import time

import pytest

import netns

KERNEL = netns.KERNEL_IP
APP = "tests/tls_app.py"
HOST = "tls.spinet.test"  # dnsmasq (Lab(dnsmasq=True)) answers *.spinet.test
PORT = 4433


def _openssl(tmp, *args):
    subprocess.run(["openssl"] + list(args), cwd=tmp, check=True, timeout=60,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _make_ca(tmp, name):
    """A self-signed EC P-256 CA: name.key, name.pem, name.der."""
    _openssl(tmp, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
             "-subj", "/CN=spinet test CA " + name,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl(tmp, "x509", "-in", name + ".pem", "-outform", "DER", "-out", name + ".der")


def make_pki(tmp, host=HOST):
    """In folder tmp: CA "ca" signs srv.pem/srv.der (key srv.key, srv.key.der) for
    host; CA "other" signs nothing; blob.bin and blob.http (below). Returns tmp."""
    _make_ca(tmp, "ca")
    _make_ca(tmp, "other")
    with open(os.path.join(tmp, "srv.ext"), "w") as f:
        f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n" % host)
    _openssl(tmp, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=" + host)
    _openssl(tmp, "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "srv.ext")
    _openssl(tmp, "x509", "-in", "srv.pem", "-outform", "DER", "-out", "srv.der")
    _openssl(tmp, "pkey", "-in", "srv.key", "-outform", "DER", "-out", "srv.key.der")
    # What the server serves (s_server -HTTP sends a file as the whole response):
    # 60 KB that no pattern could fake, with its length, so the client knows where
    # the body ends and closes (s_server waits for the client to go).
    body = os.urandom(60 * 1024)
    with open(os.path.join(tmp, "blob.bin"), "wb") as f:
        f.write(body)
    with open(os.path.join(tmp, "blob.http"), "wb") as f:
        f.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body)
    os.chmod(tmp, 0o755)
    return tmp


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    if shutil.which("openssl") is None:
        netns.require(tools=("openssl",))
    return make_pki(str(tmp_path_factory.mktemp("pki")))


def _wait_listening(lab, port, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not proc.running():
            raise netns.LabError("%s exited: %s %s" % (proc.name, proc.out, proc.err))
        if lab.sh("ss -Hltn 'sport = :%d'" % port, check=False).stdout.strip():
            return
        time.sleep(0.05)
    raise netns.LabError("%s not listening on %d: %s" % (proc.name, port, proc.err))


def _s_server(lab, pki):
    """openssl s_server -HTTP on the kernel side, serving files from the pki folder."""
    srv = lab.popen(["sh", "-c", "cd %s && exec openssl s_server -accept %s:%d -cert srv.pem "
                     "-key srv.key -HTTP" % (pki, KERNEL, PORT)], name="s_server", timeout=120)
    _wait_listening(lab, PORT, srv)
    return srv


def _sha(pki, name):
    with open(os.path.join(pki, name), "rb") as f:
        data = f.read()
    return len(data), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("api", ["ctx", "wrap"])
def test_https_get_from_spinet_to_openssl_s_server(api, pki):
    netns.require("packet", "micropython", tools=("openssl", "dnsmasq"))
    with netns.Lab(kind="packet", dnsmasq=True) as lab:
        _s_server(lab, pki)
        url = "https://%s:%d/blob.http" % (HOST, PORT)
        p = lab.run_spinet("micropython", APP, lab.spinet_args() +
                           ["get", url, os.path.join(pki, "ca.der"), api], timeout=60)
        rc, out, err = p.wait()
        n, sha = _sha(pki, "blob.bin")
        assert rc == 0, out + err
        assert "status=200 bytes=%d sha256=%s" % (n, sha) in out, out + err
        assert "https 200 %d" % n in out, out  # the example's own report


def test_https_get_over_a_non_blocking_socket_with_select_poll(pki):
    """setblocking(False) under the TLS layer: the handshake and the reads move on as
    select.poll (which drives spinet) says the socket is ready."""
    netns.require("packet", "micropython", tools=("openssl",))
    with netns.Lab(kind="packet") as lab:
        _s_server(lab, pki)
        p = lab.run_spinet("micropython", APP, lab.spinet_args() +
                           ["nbget", KERNEL, PORT, os.path.join(pki, "ca.der"), HOST,
                            "/blob.http"], timeout=60)
        rc, out, err = p.wait()
        n, sha = _sha(pki, "blob.bin")
        assert rc == 0, out + err
        m = re.search(r"status=200 bytes=%d sha256=%s waits=(\d+)" % (n, sha), out)
        assert m, out + err
        assert int(m.group(1)) > 0, out  # it did meet "not ready" (None) on the way


# MicroPython's ssl raises ValueError carrying mbedTLS's verify report when the
# chain or the name does not check out (modtls_mbedtls.c, MBEDTLS_ERR_X509_CERT_VERIFY_FAILED).
REFUSALS = {"wrong-ca": ("other.der", HOST, "not correctly signed by the trusted CA"),
            "wrong-name": ("ca.der", "other.spinet.test", "Common Name (CN) does not match")}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_https_get_refuses_a_server_it_cannot_verify(case, pki):
    """The handshake fails with the verify error in well under the socket timeout:
    no hang, no body."""
    netns.require("packet", "micropython", tools=("openssl", "dnsmasq"))
    ca, name, why = REFUSALS[case]
    with netns.Lab(kind="packet", dnsmasq=True) as lab:
        _s_server(lab, pki)
        url = "https://%s:%d/blob.http" % (HOST, PORT)
        t0 = time.monotonic()
        p = lab.run_spinet("micropython", APP, lab.spinet_args() +
                           ["get", url, os.path.join(pki, ca), "ctx", name], timeout=60)
        rc, out, err = p.wait()
        took = time.monotonic() - t0
        assert rc == 1, out + err
        assert "status=" not in out, out
        errors = [ln for ln in out.splitlines() if ln.startswith("error ")]
        assert len(errors) == 1 and errors[0].startswith("error ValueError("), out + err
        assert why in errors[0], out + err
        assert took < 8, took  # the socket timeout is 10 s


def test_tls_echo_server_on_spinet_reached_by_openssl_s_client(pki):
    netns.require("packet", "micropython", tools=("openssl",))
    size = 100 * 1024
    data = os.urandom(size)
    with netns.Lab(kind="packet") as lab:
        p = lab.run_spinet("micropython", APP, lab.spinet_args() +
                           ["echo", PORT, os.path.join(pki, "srv.der"),
                            os.path.join(pki, "srv.key.der"), size], timeout=90)
        p.expect(r"^listening", timeout=15)
        # -ign_eof: s_client keeps reading after its input ends; spinet closes after
        # echoing everything, which ends s_client. -verify_return_error: a bad chain
        # or name ends it at once. Its stdout is read as bytes here (not through a
        # Proc, which collects text lines).
        argv = lab.ns_argv(["openssl", "s_client", "-connect", "%s:%d" % (netns.SPINET_IP, PORT),
                            "-servername", HOST, "-verify_hostname", HOST, "-CAfile",
                            os.path.join(pki, "ca.pem"), "-verify_return_error", "-quiet",
                            "-ign_eof"])
        cl = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
        try:
            echoed, cerr = cl.communicate(data, timeout=60)
        except subprocess.TimeoutExpired:
            cl.kill()
            cl.communicate(timeout=10)
            raise
        rc, out, err = p.wait()
        assert rc == 0, out + err
        want = "echoed bytes=%d sha256=%s" % (size, hashlib.sha256(data).hexdigest())
        assert want in out, out + err
        assert len(echoed) == size and echoed == data, (len(echoed), cerr)
        # The chain and the name checked out. MicroPython's ssl closes without a
        # close_notify alert (its close frees the mbedTLS context and closes the
        # stream), so s_client, having got every byte, reports the bare EOF; that is
        # the only complaint allowed.
        assert b"depth=0 CN = %s\nverify return:1" % HOST.encode() in cerr, cerr
        errors = [ln for ln in cerr.splitlines() if b"error" in ln]
        assert cl.returncode == 0 or (
            len(errors) == 1 and b"unexpected eof while reading" in errors[0]), cerr
