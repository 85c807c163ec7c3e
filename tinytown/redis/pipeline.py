"""Commands sent together: :class:`Pipeline` (one round trip) and :class:`Transaction`
(a pinned connection with watched keys, for ``WATCH``/``MULTI``/``EXEC``).

Made by :meth:`Redis.pipeline <tinytown.redis.client.Redis.pipeline>` and
:meth:`Redis.watch <tinytown.redis.client.Redis.watch>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

import trio

from tinytown.errors import ConnectionLostError, ResponseError, WatchError
from tinytown.redis.connection import Connection
from tinytown.redis.resp import CommandArg, pack_command, specialize

if TYPE_CHECKING:
    from tinytown.redis.client import Redis

_MULTI: Final = pack_command(("MULTI",))
_EXEC: Final = pack_command(("EXEC",))


class _Requester(Protocol):
    async def _request_many(self, packed: bytes, count: int, transaction: bool) -> list[Any]: ...


def _check_replies(replies: list[Any], raise_on_error: bool) -> list[Any]:
    """Specialize error replies in place; raise the first one if asked to."""
    for index, reply in enumerate(replies):
        if isinstance(reply, ResponseError):
            replies[index] = error = specialize(reply)
            if raise_on_error:
                error.add_note(f"(reply #{index} of a pipeline of {len(replies)} commands)")
                raise error
    return replies


class Pipeline:
    """Commands queued to be sent together, in one round trip.

    Build with :meth:`Redis.pipeline` (or :meth:`Transaction.pipeline`), queue
    with :meth:`cmd`, then :meth:`execute`. With ``transaction=True`` the
    commands are wrapped in ``MULTI``/``EXEC`` and run atomically.
    """

    __slots__ = ("_commands", "_owner", "transaction")

    def __init__(self, owner: _Requester, *, transaction: bool = False) -> None:
        self._owner = owner
        self._commands: list[tuple[CommandArg, ...]] = []
        self.transaction = transaction

    def cmd(self, *args: CommandArg) -> Pipeline:
        """Queue one command; returns the pipeline, so calls can be chained."""
        self._commands.append(args)
        return self

    def __len__(self) -> int:
        return len(self._commands)

    async def execute(self, *, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command in one round trip and return their replies.

        The queue is emptied, so the pipeline can be filled and run again.
        An empty pipeline returns ``[]`` without touching the network.

        Args:
            raise_on_error: Raise the first error reply (the connection stays
                usable and every other command still ran). When false, error
                replies are returned in place as :class:`ResponseError` objects.

        Returns:
            One reply per queued command, in order. For a transaction these
            are the results of ``EXEC``.

        Raises:
            WatchError: A transaction under :meth:`Redis.watch` was aborted
                because a watched key changed; nothing was applied.
            ResponseError: With ``raise_on_error``, the first error reply; for
                a transaction also a command refused while queuing (then
                ``EXEC`` aborts with ``EXECABORT`` and nothing was applied,
                whatever ``raise_on_error`` says).
            ConnectionLostError: The connection broke; commands may or may not
                have run.
        """
        commands, self._commands = self._commands, []
        if not commands:
            await trio.lowlevel.checkpoint()
            return []
        packed = b"".join([pack_command(command) for command in commands])
        if not self.transaction:
            replies = await self._owner._request_many(packed, len(commands), False)
            return _check_replies(replies, raise_on_error)
        replies = await self._owner._request_many(_MULTI + packed + _EXEC, len(commands) + 2, True)
        result = replies[-1]
        if result is None:
            raise WatchError("Transaction aborted: a watched key changed before EXEC")
        if isinstance(result, ResponseError):
            for reply in replies[:-1]:
                if isinstance(reply, ResponseError):
                    raise specialize(reply)
            raise specialize(result)
        return _check_replies(result, raise_on_error)


class Transaction:
    """A pinned connection with watched keys; made by :meth:`Redis.watch`.

    Not for concurrent use by several tasks.

    Attributes:
        watching: Keys are still watched (no ``EXEC`` ran since ``WATCH``).
    """

    __slots__ = ("_busy", "_conn", "_redis", "watching")

    def __init__(self, redis: Redis, conn: Connection) -> None:
        self._redis = redis
        self._conn = conn
        self._busy = False
        self.watching = False

    async def execute(self, *args: CommandArg) -> Any:
        """Run one command on the pinned connection (see :meth:`Redis.execute`)."""
        (reply,) = await self._request_many(pack_command(args), 1, False)
        if isinstance(reply, ResponseError):
            raise specialize(reply)
        return reply

    def pipeline(self, *, transaction: bool = True) -> Pipeline:
        """Return a pipeline on the pinned connection (``MULTI``/``EXEC`` by default)."""
        return Pipeline(self, transaction=transaction)

    async def _request_many(self, packed: bytes, count: int, transaction: bool) -> list[Any]:
        conn = self._conn
        if conn.closed:
            raise ConnectionLostError(
                f"The transaction's connection to Redis at {conn.description} is closed"
            )
        if self._busy:
            raise trio.BusyResourceError("A Transaction is used by two tasks at once")
        self._busy = True
        try:
            replies = await conn.request_many(packed, count)
        finally:
            self._busy = False
        self._redis.round_trips += 1
        if transaction:
            self.watching = False  # EXEC (even aborted) forgets the watched keys
        return replies
