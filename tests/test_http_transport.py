"""Our transport owns its pool: the limits, keep-alive expiry and, for an https Restate, the SSL context.

The https Restate is a small Restate-like admin API (``/query``) behind TLS on 127.0.0.1, or a real
restate-server behind a TLS-terminating proxy; the certificate is self-signed, made for the test.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import selectors
import socket
import socketserver
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tourlab import LabError, RestateUnreachableError, UntrustedCertificateError, poll
from tourlab._client import AdminIngressClient
from tourlab._config import PROJECT_ROOT
from tourlab._http import PromptTransport, prompt_transport
from tourlab._runtimes import EmbeddedRestate

ROWS = [{"id": "inv_1", "target": "CartObject/Mary/addTicket", "status": "completed"}]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by its own key: (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "restate.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class _Restate(http.server.BaseHTTPRequestHandler):
    """Answers the admin API's ``/query``; ``/slow`` answers once the test lets it."""

    protocol_version = "HTTP/1.1"  # keep-alive, as Restate does
    server: _Server

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.server.peers.append(self.client_address)
        if self.path == "/slow":
            self.server.release.wait(10)
        body = json.dumps({"rows": ROWS}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Restate)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.peers: list[tuple[str, int]] = []
        self.release = threading.Event()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server_address[1]}"


def _serve(tls: ssl.SSLContext | None) -> Iterator[_Server]:
    server = _Server(tls)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    return self_signed(tmp_path)[0]


@pytest.fixture
def https_restate(tmp_path: Path, certificate: Path) -> Iterator[_Server]:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate, tmp_path / "key.pem")
    yield from _serve(tls)


@pytest.fixture
def http_restate() -> Iterator[_Server]:
    yield from _serve(None)


def test_an_https_restate_is_reached_with_the_ssl_context_given(https_restate: _Server, certificate: Path):
    trusting = ssl.create_default_context(cafile=str(certificate))
    transport = prompt_transport(https_restate.url, ssl_context=trusting)
    assert transport.ssl_context is trusting
    client = AdminIngressClient(https_restate.url, https_restate.url, transport=transport)
    try:
        assert client.query("SELECT id, target, status FROM sys_invocation") == ROWS
    finally:
        client.close()


def test_an_untrusted_certificate_is_a_lab_error_saying_so(https_restate: _Server):
    client = AdminIngressClient(https_restate.url, https_restate.url)  # httpx's CAs: not our self-signed one
    try:
        with pytest.raises(UntrustedCertificateError, match="CERTIFICATE_VERIFY_FAILED") as raised:
            client.query("SELECT 1")
    finally:
        client.close()
    assert isinstance(raised.value, RestateUnreachableError)
    assert isinstance(raised.value, LabError)
    assert "SSL_CERT_FILE" in str(raised.value)
    assert https_restate.peers == []  # no request got through


def test_the_default_context_trusts_what_ssl_cert_file_names(
    https_restate: _Server, certificate: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate))
    client = AdminIngressClient(https_restate.url, https_restate.url)
    try:
        assert client.query("SELECT 1") == ROWS
    finally:
        client.close()


def test_plain_http_loads_no_ssl_context(http_restate: _Server):
    assert prompt_transport(http_restate.url).ssl_context is None
    assert prompt_transport(http_restate.url, "https://restate.example:9070").ssl_context is not None


def test_the_pool_keeps_connections_alive_until_they_expire(http_restate: _Server):
    with httpx.Client(transport=PromptTransport()) as client:
        client.post(f"{http_restate.url}/query")
        client.post(f"{http_restate.url}/query")
    with httpx.Client(transport=PromptTransport(limits=httpx.Limits(keepalive_expiry=0))) as client:
        client.post(f"{http_restate.url}/query")
        client.post(f"{http_restate.url}/query")
    kept, expired = http_restate.peers[:2], http_restate.peers[2:]
    assert kept[0] == kept[1]  # one connection for both
    assert expired[0] != expired[1]  # expired at once: a new connection each time


def test_the_pool_holds_to_its_connection_limit(http_restate: _Server):
    transport = PromptTransport(limits=httpx.Limits(max_connections=1))
    with httpx.Client(transport=transport, timeout=httpx.Timeout(10, pool=0.3)) as client:
        slow = threading.Thread(target=client.post, args=(f"{http_restate.url}/slow",))
        slow.start()
        try:
            assert poll(lambda: list(http_restate.peers), bool, timeout=10).ok  # the one connection is taken
            with pytest.raises(httpx.PoolTimeout):
                client.post(f"{http_restate.url}/query")
        finally:
            http_restate.release.set()
            slow.join(10)
        assert client.post(f"{http_restate.url}/query").json() == {"rows": ROWS}  # free again


class _TlsProxy(socketserver.ThreadingTCPServer):
    """TLS on 127.0.0.1 in front of a plain-HTTP port: what an https Restate looks like from the lab."""

    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext, upstream: int) -> None:
        super().__init__(("127.0.0.1", 0), _Pump)
        self.tls = tls
        self.upstream = upstream
        self.url = f"https://127.0.0.1:{self.server_address[1]}"


class _Pump(socketserver.BaseRequestHandler):
    server: _TlsProxy

    def handle(self) -> None:
        try:
            outside = self.server.tls.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that does not trust the certificate hangs up in the handshake
        with outside, socket.create_connection(("127.0.0.1", self.server.upstream)) as inside:
            pairs = {outside: inside, inside: outside}
            with selectors.DefaultSelector() as ready:
                for sock in pairs:
                    ready.register(sock, selectors.EVENT_READ)
                while True:
                    for key, _events in ready.select():
                        data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                        if not data:
                            return
                        pairs[key.fileobj].sendall(data)  # type: ignore[index]


_LAB_OVER_HTTPS = textwrap.dedent(
    """
    import json, sys
    from tourlab import Lab
    lab = Lab.start("tour/part1")
    try:
        result = lab.call("CartObject", sys.argv[1], "addTicket", "seat2B")
        targets = [inv.target for inv in lab.invocations(limit=5)]  # the admin API's SQL, over https too
        print(json.dumps({"result": result, "admin_url": lab.admin_url, "targets": targets}))
    finally:
        lab.stop()
    """
)


def test_a_lab_over_an_https_external_restate(tmp_path: Path, certificate: Path, unique):
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certificate, tmp_path / "key.pem")
    server = EmbeddedRestate()
    server.start()
    proxies = [_TlsProxy(tls, server.ports.admin), _TlsProxy(tls, server.ports.ingress)]
    threads = [threading.Thread(target=proxy.serve_forever, daemon=True) for proxy in proxies]
    for thread in threads:
        thread.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTATE_", "TOURLAB_", "SSL_CERT"))}
        env.update(
            RESTATE_ADMIN_URL=proxies[0].url,
            RESTATE_INGRESS_URL=proxies[1].url,
            TOURLAB_HOME=str(tmp_path / "home"),
            SSL_CERT_FILE=str(certificate),
        )
        cart = unique("tls-cart")
        done = subprocess.run(
            [sys.executable, "-c", _LAB_OVER_HTTPS, cart],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        seen = json.loads(done.stdout.strip().splitlines()[-1])
        assert (seen["result"], seen["admin_url"]) == (True, proxies[0].url)
        assert f"CartObject/{cart}/addTicket" in seen["targets"]

        env.pop("SSL_CERT_FILE")  # httpx's own CAs do not know this certificate
        refused = subprocess.run(
            [sys.executable, "-c", _LAB_OVER_HTTPS, cart],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert refused.returncode != 0
        assert "UntrustedCertificateError: The certificate of Restate at https://127.0.0.1:" in refused.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    finally:
        for proxy in proxies:
            proxy.shutdown()
            proxy.server_close()
        server.stop()
