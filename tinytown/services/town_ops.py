"""Town-wide operations: stop every agent, reset the town's keys, ``.gitignore`` checks.

``tt stop`` asks every live agent to stop at its next round boundary (the
*kill* operation of cli.md §4.1 for each); ``tt reset`` deletes the town's
keys, everything or only what belongs to agents (cli.md §2.4).

Key patterns come from :class:`~tinytown.keys.Keys`; the town part of a
pattern is glob-escaped so that a town named ``a*`` never matches (and a
reset never deletes) the keys of another town on a shared server.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from tinytown.epoch import start_new_epoch
from tinytown.errors import AgentNotFoundError
from tinytown.keys import Keys, glob_escape
from tinytown.models import Agent
from tinytown.redis.client import Redis
from tinytown.services.agents import kill
from tinytown.town import TT_DIR, Town

SCAN_COUNT = 1000
DELETE_BATCH = 1000

# Per-agent key kinds removed by ``reset --agents-only``: 0.10's five, plus our
# processing lists, in-flight urgent counts and per-agent event streams (they would be
# orphans otherwise).
AGENT_KEY_KINDS = (
    "agent", "inbox", "urgent", "processing", "inflight", "stop", "activity", "events:agent",
)

def town_pattern(keys: Keys, pattern: str) -> str:
    """A pattern from :class:`Keys` with its town prefix glob-escaped."""
    if not pattern.startswith(keys.prefix):
        raise ValueError(f"pattern {pattern!r} is not under {keys.prefix!r}")
    return glob_escape(keys.prefix) + pattern[len(keys.prefix) :]


async def scan_keys(redis: Redis, pattern: str) -> list[str]:
    """Every key matching ``pattern`` (``SCAN``, so the server is never blocked)."""
    found: set[str] = set()
    cursor = "0"
    while True:
        cursor, batch = await redis.execute("SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT)
        found.update(batch)
        if cursor == "0":
            return sorted(found)


async def delete_keys(redis: Redis, keys: Iterable[str]) -> int:
    """Delete ``keys`` in batches (one pipeline); returns how many existed."""
    batch = list(keys)
    if not batch:
        return 0
    pipe = redis.pipeline()
    for start in range(0, len(batch), DELETE_BATCH):
        pipe.cmd("DEL", *batch[start : start + DELETE_BATCH])
    return sum(int(n) for n in await pipe.execute())


# --- stop -----------------------------------------------------------------------------


def agents_to_stop(agents: Iterable[Agent]) -> list[Agent]:
    """The agents ``tt stop`` asks to stop: every one not Stopped, Error or Cold."""
    return [a for a in agents if not a.state.is_terminal]


async def stop_all_agents(town: Town) -> list[Agent]:
    """Request a graceful stop of every live agent; returns the agents asked.

    Each gets the *kill* operation of ``tt kill`` (:func:`tinytown.services.agents.kill`):
    stop flag set, state Stopped, activity logged. An agent deleted meanwhile is skipped.
    """
    asked: list[Agent] = []
    for agent in agents_to_stop(await town.list_agents()):
        try:
            await kill(town, str(agent.id))
        except AgentNotFoundError:
            continue
        asked.append(agent)
    return asked


# --- reset ----------------------------------------------------------------------------


@attrs.frozen
class ResetPreview:
    """What a reset would delete: counts of agents, tasks and backlog entries."""

    town: str
    agents: int
    tasks: int
    backlog: int


def reset_patterns(keys: Keys, *, agents_only: bool) -> list[str]:
    """The ``SCAN`` patterns a reset deletes (escaped town prefix)."""
    if not agents_only:
        return [town_pattern(keys, keys.all_pattern)]
    return [town_pattern(keys, keys.pattern(kind)) for kind in AGENT_KEY_KINDS]


async def preview_reset(town: Town, *, agents_only: bool) -> ResetPreview:
    """Count what ``reset`` would delete; changes nothing."""
    keys = Keys(town.name)
    agents = len(await scan_keys(town.redis, town_pattern(keys, keys.pattern("agent"))))
    tasks = backlog = 0
    if not agents_only:
        tasks = len(await scan_keys(town.redis, town_pattern(keys, keys.pattern("task"))))
        backlog = int(await town.redis.execute("LLEN", keys.backlog))
    return ResetPreview(town.name, agents, tasks, backlog)


async def reset_town(town: Town, *, agents_only: bool) -> int:
    """Delete the town's keys (or only its agents' keys); returns how many were deleted."""
    keys = Keys(town.name)
    found: set[str] = set()
    for pattern in reset_patterns(keys, agents_only=agents_only):
        found.update(await scan_keys(town.redis, pattern))
    found.discard(keys.epoch)  # the town goes on (emptied): it keeps, or starts, its epoch
    deleted = await delete_keys(town.redis, sorted(found))
    if not agents_only:
        await start_new_epoch(town.redis, keys, town.root)
    return deleted


# --- init helpers ---------------------------------------------------------------------


def gitignore_has_tt(root: Path) -> bool:
    """Whether ``<root>/.gitignore`` already ignores ``.tt`` (as ``tt init`` checks)."""
    try:
        lines = (root / ".gitignore").read_text().splitlines()
    except OSError:
        return False
    return any(line.strip().rstrip("/") in (TT_DIR, f"/{TT_DIR}") for line in lines)
