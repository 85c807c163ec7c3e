"""A bounded pool of Redis connections.

At most ``max_connections`` connections exist at once, idle or in use (a
counter of free slots, with a ``trio.lowlevel.ParkingLot`` of waiting tasks
to which a released slot is handed over first-come first-served; this is
``trio.Semaphore`` without its per-call overhead). Idle connections are
reused last-in first-out so that a quiet client keeps few sockets warm.

A connection comes back to the idle list only if it is still open: one whose
request was cancelled mid-flight or whose transport broke has already closed
itself (see :mod:`tinytown.redis.connection`), and is dropped. A *lost*
connection also drops every idle one, which are most likely dead for the same
reason (a server restart), so that the pool recovers after one failed command.
Connections not lent for a while are probed (a zero-timeout ``poll``) before
reuse, which catches servers that restarted while the client was quiet. The
clock is read once per command, when a connection is lent (``lent_at``), not
again when it comes back: the command's reply is on its way to the caller then
(measured: one clock read less is 0.13 µs less hand-off latency). A connection
held by a long blocking command is thus probed at its next lending; the probe
is one ``poll`` call.
"""

from __future__ import annotations

import time
from typing import Final

import trio

from tinytown.errors import ConfigError, RedisError
from tinytown.redis.connect import open_connection
from tinytown.redis.connection import Connection
from tinytown.redis.url import ConnectionSettings

IDLE_CHECK_AFTER_S: Final = 1.0
"""Connections last lent longer ago than this are probed before reuse."""

_monotonic = time.monotonic


class ConnectionPool:
    """Connections to one server, bounded and reused.

    Args:
        settings: Where the connections go.
        max_connections: Upper bound on open connections (idle plus in use).
    """

    __slots__ = ("_closed", "_free", "_idle", "_waiters", "max_connections", "settings")

    def __init__(self, settings: ConnectionSettings, *, max_connections: int = 32) -> None:
        if max_connections < 1:
            raise ConfigError(f"max_connections must be at least 1, got {max_connections}")
        self.settings = settings
        self.max_connections = max_connections
        self._free = max_connections
        self._waiters = trio.lowlevel.ParkingLot()
        self._idle: list[Connection] = []
        self._closed = False

    @property
    def in_use(self) -> int:
        """Number of connections currently lent out (or being opened)."""
        return self.max_connections - self._free

    @property
    def idle(self) -> tuple[Connection, ...]:
        """The idle connections, most recently used last."""
        return tuple(self._idle)

    def take_idle(self) -> Connection | None:
        """Lend an idle connection if one is free right now, else return ``None``.

        The synchronous fast path of :meth:`acquire` (same pairing rule).
        """
        idle = self._idle
        if idle and self._free:  # free slots mean nobody is waiting
            conn = idle.pop()
            now = _monotonic()
            if now - conn.lent_at < IDLE_CHECK_AFTER_S or not conn.is_stale():
                conn.lent_at = now
                self._free -= 1
                return conn
            conn.close()
        return None

    async def acquire(self) -> Connection:
        """Lend a connection, opening one if no idle one is usable.

        Waits while ``max_connections`` are lent out. Every successful call
        must be paired with exactly one :meth:`release`.

        Raises:
            RedisError: The pool is closed.
            RedisUnavailableError: A new connection could not be opened.
        """
        if self._free:
            self._free -= 1
        else:
            await self._waiters.park()  # woken by release(), which hands us its slot
        if self._closed:
            self._release_slot()
            raise RedisError("The Redis client is closed")
        idle = self._idle
        while idle:
            conn = idle.pop()
            now = _monotonic()
            if now - conn.lent_at < IDLE_CHECK_AFTER_S or not conn.is_stale():
                conn.lent_at = now
                return conn
            conn.close()
        try:
            conn = await open_connection(self.settings)
        except BaseException:
            self._release_slot()
            raise
        conn.lent_at = _monotonic()
        return conn

    def release(self, conn: Connection) -> None:
        """Take back a connection lent by :meth:`acquire`.

        Closed connections, and those with a reply still due, are closed and
        dropped; a lost one drops the idle ones too.
        """
        if conn.closed or conn.awaiting_reply or self._closed:
            conn.close()
            if conn.lost:
                self._close_idle()
        else:
            self._idle.append(conn)
        if self._free:  # free slots mean nobody is waiting (the common case, inlined)
            self._free += 1
        else:
            self._release_slot()

    def _release_slot(self) -> None:
        if self._waiters:
            self._waiters.unpark()
        else:
            self._free += 1

    def close(self) -> None:
        """Close idle connections now and lent ones when they come back."""
        self._closed = True
        self._close_idle()

    def _close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
