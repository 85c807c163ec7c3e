"""The Trio-native Redis client: commands, pipelines, transactions.

Usage::

    async with open_redis("unix:///tmp/redis.sock") as redis:
        await redis.execute("SET", "k", "v")
        values = await redis.pipeline().cmd("GET", "k").cmd("INCR", "n").execute()
        async with redis.watch("balance") as tx:
            balance = int(await tx.execute("GET", "balance") or 0)
            await tx.pipeline(transaction=True).cmd("SET", "balance", balance + 1).execute()

Commands are plain argument lists (``execute("HSET", key, field, value)``);
replies are decoded as described in :class:`~tinytown.redis.connection.Connection`
and error replies are raised as :class:`~tinytown.errors.ResponseError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Final

import trio

from tinytown.errors import ProtocolError, RedisError, ResponseError
from tinytown.redis.connect import open_connection
from tinytown.redis.connection import Connection, task_is_cancelled
from tinytown.redis.pipeline import Pipeline, Transaction
from tinytown.redis.pool import ConnectionPool
from tinytown.redis.pubsub import PubSub
from tinytown.redis.resp import CommandArg, pack_command, pack_utf8, specialize
from tinytown.redis.url import ConnectionSettings, parse_url

UNBLOCK_TIMEOUT_S: Final = 2.0
"""Bound on unblocking a cancelled blocking pop and reading its last reply."""

_UNBLOCK_POLL_S: Final = 0.05
_wait_readable = trio.lowlevel.wait_readable
_checkpoint_if_cancelled = trio.lowlevel.checkpoint_if_cancelled
# Blocking commands that take something when served: cancelling one must not lose it.
_TAKING_COMMANDS: Final = frozenset(
    {"BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP"}
    | {"XREADGROUP"}
)


def _takes(args: tuple[CommandArg, ...]) -> bool:
    name = args[0] if args else ""
    if isinstance(name, bytes):
        name = name.decode("ascii", "replace")
    return isinstance(name, str) and name.upper() in _TAKING_COMMANDS


class Redis:
    """A client for one Redis server, with a bounded connection pool.

    Safe to share between tasks: every command borrows a connection for its
    round trip. Blocking commands (``BLPOP``, ``BLMOVE``, ``XREAD BLOCK``…)
    hold their connection while they wait.

    A command cancelled after it was sent has its connection closed, except a
    blocking command that takes something (``_TAKING_COMMANDS``: ``BLPOP``,
    ``BLMOVE``, ``XREADGROUP``…): Redis may already have served it, and
    closing would lose what it took. Such a command is unblocked from a separate control
    connection (``CLIENT UNBLOCK``, shielded, within ``UNBLOCK_TIMEOUT_S``)
    and its final reply is read: if it took something, ``execute`` *returns*
    it although the scope is cancelled (as when a trio operation's abort fails;
    the next checkpoint raises ``Cancelled``); if not, ``Cancelled``
    propagates. The control connection is outside ``max_connections``.

    Attributes:
        settings: Where the server is.
        round_trips: Network round trips made so far (a pipeline counts one).
    """

    __slots__ = ("_control", "_control_lock", "_pool", "round_trips", "settings")

    def __init__(self, settings: ConnectionSettings | str, *, max_connections: int = 32) -> None:
        self.settings = parse_url(settings) if isinstance(settings, str) else settings
        self._pool = ConnectionPool(self.settings, max_connections=max_connections)
        self._control: Connection | None = None
        self._control_lock = trio.Lock()
        self.round_trips = 0

    def __repr__(self) -> str:
        return f"<Redis {self.settings.redacted()}>"

    @property
    def pool(self) -> ConnectionPool:
        """The connection pool (for introspection and tests)."""
        return self._pool

    def execute(self, *args: CommandArg) -> Coroutine[Any, Any, Any]:
        """Run one command and return its decoded reply (``await redis.execute(...)``).

        Args:
            *args: The command name and its arguments.

        Raises:
            ResponseError: Redis answered with an error (subclasses for
                ``NOSCRIPT``, ``WRONGPASS``/``NOAUTH``).
            ConnectionLostError: The connection broke mid-command.
            RedisUnavailableError: No connection could be opened.
        """
        # Packs, then hands over the coroutine: one coroutine frame per command.
        try:
            packed = pack_utf8(args)  # pack_command, inlined: this is the path of every command
        except UnicodeEncodeError:
            packed = pack_command(args)
        return self._run(packed, args)

    def execute_packed(self, packed: bytes, *, takes: bool = False) -> Coroutine[Any, Any, Any]:
        """:meth:`execute` for a command packed beforehand (:mod:`tinytown.redis.resp`).

        For commands sent again and again, packed once. ``takes``: a blocking
        command that takes something (``BLPOP``…), see the class docstring.
        """
        return self._run(packed, takes)

    async def _run(self, packed: bytes, command: tuple[CommandArg, ...] | bool) -> Any:
        """One round trip on a lent connection. ``command``: the arguments, or whether it takes.

        On a plain socket the request is written out here rather than called
        (:meth:`Connection.request`'s steps and invariants: nothing is sent when
        cancelled, a failure closes the connection, a cancel while waiting leaves
        ``awaiting_reply``): one coroutine frame per command instead of two,
        0.3 µs of a 25 µs hand-off (benchmarks/latency.py, client only).
        """
        pool = self._pool
        conn = pool.take_idle() or await pool.acquire()
        try:
            sock = conn.sock
            if sock is None:
                reply = await conn.request(packed)
            else:
                if task_is_cancelled():
                    await _checkpoint_if_cancelled()  # raises Cancelled: nothing is sent
                try:
                    sent = sock.send(packed)
                except BlockingIOError:
                    sent = 0
                except OSError as exc:
                    raise conn.lose(exc) from exc
                if sent != len(packed):
                    await conn.send(packed[sent:])
                reader = conn.reader
                buf = conn.buf
                try:
                    await _wait_readable(sock)  # no reply can be buffered before its request
                    while True:
                        try:
                            count = sock.recv_into(buf)
                        except BlockingIOError:
                            await _wait_readable(sock)
                            continue
                        if not count:
                            raise conn.lose(None)
                        reader.feed(buf, 0, count)  # type: ignore[arg-type]  # any buffer works
                        reply = reader.gets()
                        if reply is not False:
                            break
                except trio.Cancelled:
                    conn.awaiting_reply = True
                    raise
                except OSError as exc:
                    raise conn.lose(exc) from exc
                except ProtocolError:
                    conn.lost = True
                    conn.close()
                    raise
                except BaseException:
                    conn.close()
                    raise
        except trio.Cancelled:
            takes = command if isinstance(command, bool) else _takes(command)
            reply = await self._salvage(conn, takes)
            if reply is None:
                raise
        finally:
            pool.release(conn)
        self.round_trips += 1
        if isinstance(reply, ResponseError):
            raise specialize(reply)
        return reply

    async def _salvage(self, conn: Connection, takes: bool) -> Any:
        """After a cancel: what a taking command Redis already served took, or ``None``.

        ``conn``'s pending command is unblocked and its reply read: what it took
        is handed over rather than lost (the scope stays cancelled). ``None`` also
        for an error reply or one not read in time (then the pool closes ``conn``).
        """
        if not (takes and conn.awaiting_reply and conn.client_id is not None):
            return None
        unblock = pack_command(("CLIENT", "UNBLOCK", conn.client_id or 0))
        with trio.CancelScope(deadline=trio.current_time() + UNBLOCK_TIMEOUT_S, shield=True):
            try:
                while True:
                    # Repeat: the command may not have reached Redis at the first try.
                    await self._control_request(unblock)
                    with trio.move_on_after(_UNBLOCK_POLL_S):
                        reply = await conn.read_reply()
                        conn.awaiting_reply = False
                        return None if isinstance(reply, ResponseError) else reply
            except RedisError:
                pass
        return None

    async def _control_request(self, packed: bytes) -> Any:
        async with self._control_lock:
            control = self._control
            if control is None or control.closed:
                control = self._control = await open_connection(self.settings)
            (reply,) = await control.request_many(packed, 1)
            return reply

    def _close(self) -> None:
        self._pool.close()
        if self._control is not None:
            self._control.close()

    def pipeline(self, *, transaction: bool = False) -> Pipeline:
        """Return a new, empty :class:`Pipeline` bound to this client."""
        return Pipeline(self, transaction=transaction)

    async def _request_many(self, packed: bytes, count: int, transaction: bool) -> list[Any]:
        pool = self._pool
        conn = pool.take_idle() or await pool.acquire()
        try:
            replies = await conn.request_many(packed, count)
        finally:
            pool.release(conn)
        self.round_trips += 1
        return replies

    @asynccontextmanager
    async def watch(self, *keys: str) -> AsyncIterator[Transaction]:
        """Pin a connection, ``WATCH`` keys on it, and yield a :class:`Transaction`.

        Read with ``await tx.execute(...)``, then write with
        ``await tx.pipeline(transaction=True).cmd(...).execute()``, which
        raises :class:`~tinytown.errors.WatchError` if a watched key changed
        meanwhile (retry the whole block). Leaving the block without running
        a transaction sends ``UNWATCH``; leaving it by an exception while
        still watching closes the connection instead.

        Args:
            *keys: Keys to watch (at least one).
        """
        if not keys:
            raise ValueError("watch() needs at least one key")
        pool = self._pool
        conn = await pool.acquire()
        try:
            tx = Transaction(self, conn)
            await tx.execute("WATCH", *keys)
            tx.watching = True
            try:
                yield tx
            except BaseException:
                if tx.watching:
                    conn.close()
                raise
            if tx.watching:
                await tx.execute("UNWATCH")
        finally:
            pool.release(conn)

    @asynccontextmanager
    async def open_pubsub(self) -> AsyncIterator[PubSub]:
        """Open a :class:`PubSub` on its own connection, closed on exit.

        That connection is not taken from (nor counted in) the pool.
        """
        conn = await open_connection(self.settings)
        try:
            yield PubSub(conn)
        finally:
            conn.close()

    async def aclose(self) -> None:
        """Close the pool; connections lent out close when they come back."""
        self._close()
        await trio.lowlevel.checkpoint()


@asynccontextmanager
async def open_redis(
    settings: ConnectionSettings | str, *, max_connections: int = 32
) -> AsyncIterator[Redis]:
    """Open a :class:`Redis` client and close it on exit.

    One connection is opened up front, so an unreachable server or a wrong
    password fails here rather than on the first command.

    Args:
        settings: Connection settings, or a URL for :func:`parse_url`.
        max_connections: Bound of the connection pool.

    Raises:
        RedisUnavailableError: The server cannot be reached.
        AuthenticationError: The credentials were refused.
        ConfigError: ``settings`` is a malformed URL.
    """
    redis = Redis(settings, max_connections=max_connections)
    try:
        pool = redis.pool
        pool.release(await pool.acquire())
        yield redis
    finally:
        redis._close()
