"""Opening a connection: socket or TLS stream, then AUTH, SELECT and ``CLIENT ID`` in one trip."""

from __future__ import annotations

import socket
import ssl

import trio

from tinytown.errors import (
    AuthenticationError,
    ConfigError,
    ConnectionLostError,
    RedisUnavailableError,
    ResponseError,
)
from tinytown.redis.connection import (
    STREAM_ERRORS,
    Connection,
    SocketConnection,
    StreamConnection,
    describe_error,
)
from tinytown.redis.resp import CommandArg, pack_command, specialize
from tinytown.redis.url import ConnectionSettings


def _tls_context(settings: ConnectionSettings) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=settings.tls_ca_cert)
        if settings.tls_cert:
            context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ValueError) as exc:
        shown = settings.redacted()
        raise ConfigError(f"Cannot load TLS files for {shown}: {describe_error(exc)}") from exc
    return context


def _plain_socket(stream: trio.SocketStream) -> socket.socket:
    # trio made the connection (happy eyeballs, TCP_NODELAY); we keep the fd.
    return socket.socket(fileno=stream.socket.detach())


async def _connect(settings: ConnectionSettings, shown: str) -> Connection:
    if settings.unix_path is not None:
        unix_stream = await trio.open_unix_socket(settings.unix_path)
        return SocketConnection(_plain_socket(unix_stream), shown)
    context = _tls_context(settings) if settings.tls else None
    stream = await trio.open_tcp_stream(settings.host, settings.port)
    if context is None:
        return SocketConnection(_plain_socket(stream), shown)
    tls_stream = trio.SSLStream(stream, context, server_hostname=settings.host)
    conn = StreamConnection(tls_stream, stream, shown)
    try:
        await tls_stream.do_handshake()
    except BaseException:
        conn.close()
        raise
    return conn


async def _handshake(conn: Connection, settings: ConnectionSettings) -> None:
    commands: list[tuple[CommandArg, ...]] = []
    if settings.password is not None:
        if settings.username:
            commands.append(("AUTH", settings.username, settings.password))
        else:
            commands.append(("AUTH", settings.password))
    if settings.db:
        commands.append(("SELECT", settings.db))
    # The id lets a cancelled blocking command be unblocked from another connection.
    commands.append(("CLIENT", "ID"))
    packed = b"".join(pack_command(command) for command in commands)
    replies = await conn.request_many(packed, len(commands))
    for command, reply in zip(commands, replies, strict=True):
        if command[0] == "CLIENT":
            # An ACL may forbid CLIENT ID: then blocking commands are just closed on cancel.
            conn.client_id = reply if isinstance(reply, int) else None
        elif isinstance(reply, ResponseError):
            conn.close()
            if command[0] == "AUTH":
                raise AuthenticationError(*reply.args)
            raise specialize(reply)


async def open_connection(settings: ConnectionSettings) -> Connection:
    """Connect, authenticate and select the database, within ``connect_timeout_s``.

    AUTH, SELECT and ``CLIENT ID`` travel together in one round trip.

    Args:
        settings: Where to connect.

    Returns:
        A ready connection.

    Raises:
        RedisUnavailableError: The server cannot be reached or timed out.
        AuthenticationError: AUTH was refused.
        ResponseError: SELECT was refused (e.g. database out of range).
        ConfigError: TLS files cannot be loaded.
    """
    shown = settings.redacted()
    try:
        with trio.fail_after(settings.connect_timeout_s):
            conn = await _connect(settings, shown)
            try:
                await _handshake(conn, settings)
            except BaseException:
                conn.close()
                raise
            return conn
    except trio.TooSlowError:
        raise RedisUnavailableError(
            f"Cannot connect to Redis at {shown}: no answer within {settings.connect_timeout_s:g}s"
        ) from None
    except (*STREAM_ERRORS, ConnectionLostError) as exc:
        raise RedisUnavailableError(
            f"Cannot connect to Redis at {shown}: {describe_error(exc)}"
        ) from exc
