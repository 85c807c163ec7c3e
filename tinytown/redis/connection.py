"""One connection to a Redis server, speaking RESP2 through hiredis.

The hot path is short on purpose (architecture decision 2): a plain
non-blocking socket, a synchronous ``send`` (a command almost always fits in
the kernel buffer) and a single ``trio.lowlevel.wait_readable`` for the reply.
That wait is the request's one cancellation point and one scheduler yield.
Measured against ``trio.SocketStream`` and ``trio.socket`` this saves one to
two scheduler passes per round trip. TLS connections go through
``trio.SSLStream`` instead. The single-command round trip on a plain socket is
written out in ``Redis._run`` (client.py), same steps and invariants as
:meth:`Connection.request`, so that a command is one coroutine frame.

Invariant: a connection whose request did not complete (lost, unparsable,
cancelled while sending) closes itself. The one exception is
:meth:`Connection.request` cancelled while *waiting* for its reply: the
connection stays open with ``awaiting_reply`` set, so that its owner may still
collect the reply (see ``Redis.execute`` for blocking pops); the pool closes
any connection that comes back in that state. A pool therefore never hands out
a connection with a reply still in flight.

Opening a connection (socket, TLS, handshake) is :mod:`tinytown.redis.connect`;
encoding commands is :mod:`tinytown.redis.resp`.
"""

from __future__ import annotations

import select
import socket
import ssl
from typing import Any, Final, cast

import hiredis
import trio

from tinytown.errors import (
    ConnectionLostError,
    ProtocolError,
    ResponseError,
)

RECEIVE_BUFFER_BYTES: Final = 64 * 1024

_wait_readable = trio.lowlevel.wait_readable
_wait_writable = trio.lowlevel.wait_writable
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
_current_task = trio.lowlevel.current_task
_NEVER = -float("inf")


def task_is_cancelled() -> bool:
    """Whether the running task is cancelled (a cancelled scope around it, not shielded).

    The test of ``trio.lowlevel.checkpoint_if_cancelled`` without the coroutine
    around it: commands call this before sending and ``checkpoint_if_cancelled``
    only when it says yes. Measured on the hand-off: the coroutine costs 0.35 µs
    per command, this 0.05 µs. If trio renames the internal attribute this reads,
    it falls back to the public, slower ``current_effective_deadline()`` (same answer).
    """
    try:
        return bool(_current_task()._cancel_status.effectively_cancelled)
    except AttributeError:  # pragma: no cover  (a trio without this internal)
        return trio.current_effective_deadline() == _NEVER


STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class Connection:
    """A Redis connection; use :func:`open_connection` to make one.

    Replies are decoded: bulk strings to ``str`` (UTF-8, ``surrogateescape``),
    integers to ``int``, arrays to ``list``, nil to ``None``; an error reply
    is *returned* as a :class:`ResponseError` instance for the caller to raise.

    Attributes:
        closed: The connection is closed and must not be used.
        lost: It was closed because the transport broke (EOF, reset, garbage).
        awaiting_reply: A :meth:`request` was cancelled after sending: one
            reply is still due (read it with :meth:`read_reply`, or close).
        client_id: The server's ``CLIENT ID`` for this connection, if known.
        lent_at: ``time.monotonic()`` when a pool last lent it.
        reader: The ``hiredis.Reader`` its replies are parsed with.
        sock: The plain non-blocking socket (``None`` for a TLS stream).
        buf: Where replies from ``sock`` are received into.
    """

    __slots__ = (
        "awaiting_reply",
        "buf",
        "client_id",
        "closed",
        "description",
        "lent_at",
        "lost",
        "reader",
        "sock",
    )

    def __init__(self, description: str) -> None:
        self.reader = hiredis.Reader(
            protocolError=ProtocolError,
            replyError=ResponseError,
            encoding="utf-8",
            errors="surrogateescape",
        )
        self.description = description
        self.closed = False
        self.lost = False
        self.awaiting_reply = False
        self.client_id: int | None = None
        self.lent_at = 0.0
        self.sock: socket.socket | None = None
        self.buf = bytearray()

    async def send(self, data: bytes) -> None:
        """Write all of ``data``; a partial write that is interrupted closes the connection."""
        raise NotImplementedError

    async def read_reply(self) -> Any:
        """Return the next reply. Cancel-safe: bytes already read stay buffered."""
        raise NotImplementedError

    def fileno(self) -> int:
        """Return the file descriptor of the underlying socket."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connection at once (idempotent, synchronous)."""
        raise NotImplementedError

    async def request(self, packed: bytes) -> Any:
        """Send one packed command and return its reply (one round trip).

        If cancelled while waiting for the reply, the connection is left open
        with :attr:`awaiting_reply` set; any other failure closes it.
        """
        if task_is_cancelled():
            await _checkpoint_if_cancelled()  # raises Cancelled: nothing is sent
        await self.send(packed)
        try:
            return await self.read_reply()
        except trio.Cancelled:
            self.awaiting_reply = True
            raise
        except BaseException:
            self.close()
            raise

    async def request_many(self, packed: bytes, count: int) -> list[Any]:
        """Send ``count`` packed commands at once and return their ``count`` replies."""
        if task_is_cancelled():
            await _checkpoint_if_cancelled()  # raises Cancelled: nothing is sent
        try:
            await self.send(packed)
            read = self.read_reply
            return [await read() for _ in range(count)]
        except BaseException:
            self.close()
            raise

    def is_stale(self) -> bool:
        """Tell whether an idle connection went bad (peer closed it or sent stray bytes)."""
        if self.closed:
            return True
        try:
            if hasattr(select, "poll"):  # select.select() fails on fds >= FD_SETSIZE
                poller = select.poll()
                poller.register(self.fileno(), select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([self.fileno()], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def lose(self, cause: BaseException | None) -> ConnectionLostError:
        """Close as *lost* (the transport broke) and return the error to raise."""
        self.lost = True
        self.close()
        reason = "server closed the connection" if cause is None else describe_error(cause)
        return ConnectionLostError(f"Lost connection to Redis at {self.description}: {reason}")


class SocketConnection(Connection):
    """A connection over a plain (unix or TCP) non-blocking socket."""

    __slots__ = ()

    sock: socket.socket

    def __init__(self, sock: socket.socket, description: str) -> None:
        super().__init__(description)
        sock.setblocking(False)
        self.sock = sock
        self.buf = bytearray(RECEIVE_BUFFER_BYTES)

    async def send(self, data: bytes) -> None:
        sock = self.sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise self.lose(exc) from exc
        if sent == len(data):
            return
        view = memoryview(data)
        try:
            while sent < len(data):
                await _wait_writable(sock)
                try:
                    sent += sock.send(view[sent:])
                except BlockingIOError:
                    pass
        except OSError as exc:
            raise self.lose(exc) from exc
        except BaseException:
            # Half a command went out: the stream cannot be resynchronised.
            self.close()
            raise

    async def read_reply(self) -> Any:
        reader = self.reader
        reply = reader.gets()
        if reply is not False:
            return reply
        sock = self.sock
        buf = self.buf
        # A reply never precedes its request: wait first, and only re-poll the
        # socket without waiting while a long reply is streaming in.
        await _wait_readable(sock)
        while True:
            try:
                count = sock.recv_into(buf)
            except BlockingIOError:
                await _wait_readable(sock)
                continue
            except OSError as exc:
                raise self.lose(exc) from exc
            if not count:
                raise self.lose(None)
            reader.feed(buf, 0, count)  # type: ignore[arg-type]  # stub says bytes; any buffer works
            reply = reader.gets()
            if reply is not False:
                return reply

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            trio.lowlevel.notify_closing(self.sock)
        except RuntimeError:  # outside trio.run: nobody can be waiting
            pass
        self.sock.close()


class StreamConnection(Connection):
    """A connection over a trio stream (used for TLS)."""

    __slots__ = ("_socket_stream", "_stream")

    def __init__(
        self, stream: trio.abc.Stream, socket_stream: trio.SocketStream, description: str
    ) -> None:
        super().__init__(description)
        self._stream = stream
        self._socket_stream = socket_stream

    async def send(self, data: bytes) -> None:
        try:
            await self._stream.send_all(data)
        except STREAM_ERRORS as exc:
            raise self.lose(exc) from exc
        except BaseException:
            self.close()
            raise

    async def read_reply(self) -> Any:
        reader = self.reader
        reply = reader.gets()
        while reply is False:
            try:
                data = await self._stream.receive_some(RECEIVE_BUFFER_BYTES)
            except STREAM_ERRORS as exc:
                raise self.lose(exc) from exc
            if not data:
                raise self.lose(None)
            reader.feed(cast(bytes, data))
            reply = reader.gets()
        return reply

    def fileno(self) -> int:
        return self._socket_stream.socket.fileno()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._socket_stream.socket.close()


def describe_error(exc: BaseException) -> str:
    """A short reason for a failed connection, for one-line error messages."""
    if isinstance(exc, ProtocolError):
        return f"not a Redis server? (protocol error: {exc})"
    if isinstance(exc, ConnectionLostError):
        return "the server closed the connection during the handshake"
    if isinstance(exc, trio.BrokenResourceError) and exc.__cause__ is not None:
        exc = exc.__cause__  # e.g. the ssl.SSLError behind a failed handshake
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
