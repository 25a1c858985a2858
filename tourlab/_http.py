"""HTTP to a Restate on this machine without the 40 ms stalls of delayed ACKs.

Restate writes a response's headers and body separately. When the client delays its ACK of the
first segment (Linux does, on a request-response connection) and the server's Nagle algorithm
holds the second until that ACK comes, a query now and then takes ~44 ms instead of ~2 ms.
Re-arming TCP_QUICKACK before every read makes the client ACK at once; TCP_NODELAY sends a
request's headers and body without waiting either.
"""

from __future__ import annotations

import socket
import typing

import httpcore
import httpx

_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only; elsewhere the stalls are rarer
_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


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
        return self._stream.start_tls(ssl_context, server_hostname, timeout)

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


def prompt_transport(*urls: str) -> httpx.HTTPTransport:
    """An httpx transport for talking to `urls`, whose connections ACK at once and never hold a request back.

    Loading the CA bundle takes tens of milliseconds of a cold start, so it is loaded only when one
    of `urls` is https (an external Restate may be).
    """
    tls = any(url.lower().startswith("https:") for url in urls)
    transport = httpx.HTTPTransport(verify=tls)
    # httpx has no parameter for the network backend: give its transport a pool that has ours.
    transport._pool = httpcore.ConnectionPool(network_backend=_QuickAckBackend())
    return transport
