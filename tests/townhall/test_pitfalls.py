"""Regression tests for the measured server pitfalls (issue 11): raw sockets, real server."""

from __future__ import annotations

import trio

from tests.townhall.conftest import Running

EOF_WITHIN_S = 1.0


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


async def _read_response(stream: trio.SocketStream, buf: bytearray) -> bytes:
    """One HTTP/1.1 response with a Content-Length body; leftovers stay in ``buf``."""
    while b"\r\n\r\n" not in buf:
        chunk = await stream.receive_some(65536)
        assert chunk, "connection closed before a response"
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = await stream.receive_some(65536)
        assert chunk
        rest += chunk
    buf[:] = rest[length:]
    return head + b"\r\n\r\n" + rest[:length]


async def test_keep_alive_survives_unread_bodies(th: Running) -> None:
    host, port = _host_port(th.url)
    stream = await trio.open_tcp_stream(host, port)
    buf = bytearray()
    body = b"x" * 4096
    with trio.fail_after(20):
        for i in range(50):
            method = (b"PUT", b"TRACE")[i % 2]
            await stream.send_all(
                method + b" /v1/status HTTP/1.1\r\nHost: t\r\nContent-Length: "
                + str(len(body)).encode() + b"\r\n\r\n" + body
            )
            first = await _read_response(stream, buf)
            assert first.startswith(b"HTTP/1.1 405"), first[:80]
            await stream.send_all(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            second = await _read_response(stream, buf)
            assert second.startswith(b"HTTP/1.1 200"), (i, second[:80])
    await stream.aclose()


async def test_connection_close_gives_eof(th: Running) -> None:
    host, port = _host_port(th.url)
    stream = await trio.open_tcp_stream(host, port)
    await stream.send_all(b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = b""
    with trio.fail_after(EOF_WITHIN_S + 5):
        while chunk := await stream.receive_some(65536):
            data += chunk
            if b'"ok"' in data:
                break
        with trio.fail_after(EOF_WITHIN_S):
            rest = await stream.receive_some(65536)
            while rest:
                rest = await stream.receive_some(65536)
    assert data.startswith(b"HTTP/1.1 200")
    await stream.aclose()
