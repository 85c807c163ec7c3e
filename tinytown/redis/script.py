"""Lua scripts run by SHA, loaded on demand.

Usage::

    CLAIM = Script("return redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')")
    moved = await CLAIM(redis, keys=[src, dst], args=[])

A :class:`Script` sends ``EVALSHA`` (only the 40-byte digest travels) and falls
back to ``EVAL`` with the full source when the server answers ``NOSCRIPT``
(after a restart or ``SCRIPT FLUSH``); ``EVAL`` also caches the script, so the
next call is an ``EVALSHA`` again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from tinytown.errors import NoScriptError
from tinytown.redis.resp import CommandArg


class Executor(Protocol):
    """Anything with ``execute``: a :class:`~tinytown.redis.client.Redis` or a ``Transaction``."""

    async def execute(self, *args: CommandArg) -> Any: ...


class Queue(Protocol):
    """Anything with ``cmd``: a :class:`~tinytown.redis.client.Pipeline`."""

    def cmd(self, *args: CommandArg) -> Any: ...


class Script:
    """A Lua script, identified by the SHA-1 of its source.

    Args:
        source: The Lua source.

    Attributes:
        source: The Lua source.
        sha: Its SHA-1, lower-case hex, as Redis computes it.
    """

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode("utf-8"), usedforsecurity=False).hexdigest()

    def __repr__(self) -> str:
        return f"<Script {self.sha[:12]}>"

    async def __call__(
        self, redis: Executor, keys: Sequence[str], args: Sequence[CommandArg]
    ) -> Any:
        """Run the script and return its reply.

        Args:
            redis: Where to run it.
            keys: Its ``KEYS``.
            args: Its ``ARGV``.

        Raises:
            ResponseError: The script raised an error, or is invalid.
        """
        try:
            return await redis.execute("EVALSHA", self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await redis.execute("EVAL", self.source, len(keys), *keys, *args)

    def queue(self, pipe: Queue, keys: Sequence[str], args: Sequence[CommandArg]) -> None:
        """Queue the script on a pipeline as ``EVAL`` with its source.

        Inside ``MULTI`` a ``NOSCRIPT`` could not be retried, so pipelines
        carry the source.
        """
        pipe.cmd("EVAL", self.source, len(keys), *keys, *args)

    async def load(self, redis: Executor) -> None:
        """Load the script into the server's cache (``SCRIPT LOAD``)."""
        sha = await redis.execute("SCRIPT", "LOAD", self.source)
        if sha != self.sha:  # pragma: no cover - would mean Redis hashes differently
            raise AssertionError(f"SCRIPT LOAD returned {sha}, expected {self.sha}")
