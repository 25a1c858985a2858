"""HTTP to Restate without the 40 ms stalls of delayed ACKs, over a pool this module configures.

Restate writes a response's headers and body separately. When the client delays its ACK of the
first segment (Linux does, on a request-response connection) and the server's Nagle algorithm
holds the second until that ACK comes, a query now and then takes ~44 ms instead of ~2 ms.
Re-arming TCP_QUICKACK before every read makes the client ACK at once; TCP_NODELAY sends a
request's headers and body without waiting either.

httpx has no parameter for the network backend, so `PromptTransport` is a transport of its own:
an ``httpx.BaseTransport`` over an ``httpcore.ConnectionPool`` built here with that backend,
httpx's connection limits and keep-alive expiry, and the SSL context of an https Restate.
"""

from __future__ import annotations

import socket
import ssl
import typing
from collections.abc import Iterator

import httpcore
import httpx

from tourlab._errors import RestateUnreachableError, UntrustedCertificateError

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere the stalls are rarer
_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

#: httpx's own defaults (``httpx.Client()`` uses the same numbers).
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

#: httpcore's exceptions and the httpx ones a caller of httpx expects instead.
_EXCEPTIONS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
}


def _as_httpx(error: Exception, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx exception for httpcore's `error` (its most specific class wins), None if it is not httpcore's."""
    for kind in type(error).__mro__:
        if kind in _EXCEPTIONS:
            return _EXCEPTIONS[kind](str(error), request=request)
    return None


class _QuickAckStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream
        self._socket: socket.socket | None = stream.get_extra_info("socket")

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if self._socket is not None and _QUICKACK is not None:
            self._socket.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)  # the kernel clears it again
        return self._stream.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: typing.Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        # TLS runs over the same socket, so the wrapped stream keeps re-arming QUICKACK.
        return _QuickAckStream(self._stream.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class _QuickAckBackend(httpcore.SyncBackend):
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = super().connect_tcp(host, port, timeout, local_address, [_NODELAY, *(socket_options or ())])
        return _QuickAckStream(stream)


class _ResponseBody(httpx.SyncByteStream):
    """A response body read from the pool, its failures raised as httpx's."""

    def __init__(self, stream: typing.Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._stream
        except Exception as error:
            mapped = _as_httpx(error, self._request)
            if mapped is None:
                raise
            raise mapped from error

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class PromptTransport(httpx.BaseTransport):
    """An httpx transport whose connections ACK at once and never hold a request back.

    It owns its pool: `limits` (httpx's defaults unless given) and, for https, `ssl_context`.

    >>> client = httpx.Client(transport=PromptTransport(ssl_context=httpx.create_ssl_context()))
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, limits: httpx.Limits = DEFAULT_LIMITS) -> None:
        self.ssl_context = ssl_context
        self.limits = limits
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_QuickAckBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        url = request.url
        sent = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            answer = self._pool.handle_request(sent)
        except Exception as error:
            mapped = _as_httpx(error, request)
            if mapped is None:
                raise
            raise mapped from error
        assert isinstance(answer.stream, typing.Iterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_ResponseBody(answer.stream, request),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def prompt_transport(*urls: str, ssl_context: ssl.SSLContext | None = None) -> PromptTransport:
    """A PromptTransport for talking to `urls`.

    For https it verifies with `ssl_context`, by default httpx's (certifi's CAs, or the files
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` name). Loading the CA bundle takes tens of milliseconds of
    a cold start, so without an https URL there is no context at all.
    """
    if ssl_context is None and any(url.lower().startswith("https:") for url in urls):
        ssl_context = httpx.create_ssl_context()
    return PromptTransport(ssl_context=ssl_context)


def unreachable(url: str, error: httpx.TransportError) -> RestateUnreachableError:
    """The LabError for httpx's `error` on a request to Restate at `url`: what went wrong and what to do."""
    where = httpx.URL(url).copy_with(path="/", query=None)
    problem = str(error).strip() or type(error).__name__
    if "CERTIFICATE_VERIFY_FAILED" in problem:
        return UntrustedCertificateError(
            f"The certificate of Restate at {where} is not trusted here ({problem}). Point SSL_CERT_FILE "
            "at the CA that signed it, then re-run the chapter's first cell."
        )
    return RestateUnreachableError(
        f"Restate does not answer at {where} ({problem}). Is the server running? Re-run the chapter's "
        "first cell (it starts the lab again), or lab.restart_server()."
    )
