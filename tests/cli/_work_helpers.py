"""Helpers for the work/messages/status CLI tests: set up and inspect a town directly.

CLI tests are synchronous (``tt`` runs its own Trio loop); these helpers run
short async bodies against the same town with ``trio.run``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from tinytown.models import AgentId
from tinytown.services.registration import register_agent
from tinytown.town import Town

T = TypeVar("T")
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def in_town(town_dir: Path, fn: Callable[[Town], Awaitable[T]]) -> T:
    """Run ``fn(town)`` against the town at ``town_dir`` and return its result."""

    async def main() -> T:
        async with Town.connect(town_dir) as town:
            return await fn(town)

    return trio.run(main)


def spawn(town_dir: Path, *names: str) -> dict[str, AgentId]:
    """Register agents (records only, no runtime) and return their ids by name."""

    async def body(town: Town) -> dict[str, AgentId]:
        return {n: (await register_agent(town, n, "claude")).id for n in names}

    return in_town(town_dir, body)


def snapshot(town_dir: Path) -> dict[str, Any]:
    """Every key of the town with its type and full value (to check "state unchanged")."""

    async def body(town: Town) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in sorted(await town.redis.execute("KEYS", town.channel.keys.all_pattern)):
            kind = await town.redis.execute("TYPE", key)
            if kind == "hash":
                value: Any = sorted(await town.redis.execute("HGETALL", key))
            elif kind == "list":
                value = await town.redis.execute("LRANGE", key, 0, -1)
            elif kind == "stream":
                value = await town.redis.execute("XRANGE", key, "-", "+")
            else:
                value = await town.redis.execute("DUMP", key)
            out[key] = (kind, value)
        return out

    return in_town(town_dir, body)


def assert_one_error_line(err: str, starts: str = "Error: ") -> None:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(starts), err


def uuids(text: str) -> list[str]:
    return re.findall(UUID_RE, text)
