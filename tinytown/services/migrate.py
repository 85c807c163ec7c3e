"""``tt migrate``: bring keys of older tinytown versions into the current format.

Two migrations (config.md §8):

* **town isolation**: pre-isolation keys ``tt:<kind>:<id>`` and ``tt:backlog``
  become ``tt:<town>:<kind>:<id>`` and ``tt:<town>:backlog`` of the current town;
* **JSON to hash** (``--hash``): agent and task records stored as JSON
  strings become hashes, as tinytown 0.10 and this port store them.

Previews change nothing. Differences from 0.10, on purpose: a key whose new
name is already taken is reported as a failure instead of being overwritten
(``RENAMENX``; 0.10's ``RENAME`` silently replaced, e.g., a live inbox); a
stray ``tt:broadcast`` key is migrated too (0.10 never renamed it, so it
asked for a migration forever); a JSON record is converted through the
codec, so every field survives (0.10 dropped nickname, role and parent),
and each conversion is one ``MULTI`` transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from tinytown.codec import agent_from_json, agent_to_hash, task_from_json, task_to_hash
from tinytown.errors import CorruptRecordError, RedisError, WatchError
from tinytown.keys import LEGACY_BACKLOG, LEGACY_BROADCAST, LEGACY_ID_KINDS, Keys, legacy_pattern
from tinytown.redis.client import Redis
from tinytown.services.town_ops import scan_keys, town_pattern
from tinytown.town import Town

RECORD_KINDS = ("agent", "task")
LEGACY_SINGLE_KEYS = (LEGACY_BACKLOG, LEGACY_BROADCAST)


# --- town isolation -----------------------------------------------------------------


def is_legacy_key(key: str) -> bool:
    """A pre-isolation key: ``tt:<kind>:<id>`` for a known kind, or ``tt:backlog``/``tt:broadcast``.

    A town-isolated key has four parts (``tt:<town>:<kind>:<id>``) or three
    with a non-kind in second position, so it never counts.
    """
    parts = key.split(":")
    if key in LEGACY_SINGLE_KEYS:
        return True
    return len(parts) == 3 and parts[0] == "tt" and parts[1] in LEGACY_ID_KINDS and bool(parts[2])


def plan_isolation(town: str, keys: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs ``(old, new)`` for the legacy keys among ``keys``, in a stable order.

    Kinds in 0.10's order (agent, inbox, urgent, task, activity, stop), then
    the backlog and the broadcast key.
    """
    k = Keys(town)
    legacy = sorted({key for key in keys if is_legacy_key(key)})
    order = {kind: i for i, kind in enumerate((*LEGACY_ID_KINDS, "backlog", "broadcast"))}
    legacy.sort(key=lambda key: (order[key.split(":")[1]], key))
    return [(old, k.migrated(old)) for old in legacy]


@attrs.define
class IsolationReport:
    """Outcome of a town-isolation migration: per-kind counts and failed keys."""

    counts: dict[str, int] = attrs.field(factory=dict)
    failed: list[tuple[str, str]] = attrs.field(factory=list)

    def count(self, kind: str) -> int:
        return self.counts.get(kind, 0)

    @property
    def other(self) -> int:
        """Urgent queues, activity logs, stop flags, the backlog and broadcast key."""
        return sum(self.count(k) for k in ("urgent", "activity", "stop", "backlog", "broadcast"))


async def find_legacy_keys(redis: Redis) -> list[str]:
    """Every pre-isolation key on the server (``SCAN`` per kind, then the single keys)."""
    found: list[str] = []
    for kind in LEGACY_ID_KINDS:
        found += [key for key in await scan_keys(redis, legacy_pattern(kind)) if is_legacy_key(key)]
    pipe = redis.pipeline()
    for key in LEGACY_SINGLE_KEYS:
        pipe.cmd("EXISTS", key)
    exists = await pipe.execute()
    found += [key for key, n in zip(LEGACY_SINGLE_KEYS, exists, strict=True) if n]
    return found


async def preview_isolation(town: Town) -> list[tuple[str, str]]:
    """The renames a town-isolation migration would do; changes nothing."""
    return plan_isolation(town.name, await find_legacy_keys(town.redis))


async def migrate_isolation(town: Town) -> IsolationReport:
    """Rename every legacy key into this town; a key whose new name exists is not touched."""
    report = IsolationReport()
    for old, new in await preview_isolation(town):
        kind = old.split(":")[1]
        try:
            moved = await town.redis.execute("RENAMENX", old, new)
        except RedisError as exc:
            report.failed.append((old, str(exc)))
            continue
        if moved:
            report.counts[kind] = report.count(kind) + 1
        elif await town.redis.execute("EXISTS", old):
            report.failed.append((old, f"{new} already exists"))
    return report


# --- JSON strings to hashes ---------------------------------------------------------


@attrs.define
class HashReport:
    """Outcome of a JSON-to-hash migration."""

    agents: int = 0
    tasks: int = 0
    already_hash: int = 0
    skipped: list[tuple[str, str]] = attrs.field(factory=list)
    failed: list[tuple[str, str]] = attrs.field(factory=list)


async def _record_types(town: Town) -> list[tuple[str, str, str]]:
    """``(kind, key, redis type)`` of every agent and task key of the town."""
    keys = Keys(town.name)
    listed: list[tuple[str, str]] = []
    for kind in RECORD_KINDS:
        pattern = town_pattern(keys, keys.pattern(kind))
        listed += [(kind, key) for key in await scan_keys(town.redis, pattern)]
    if not listed:
        return []
    pipe = town.redis.pipeline()
    for _, key in listed:
        pipe.cmd("TYPE", key)
    types = await pipe.execute()
    return [(kind, key, str(t)) for (kind, key), t in zip(listed, types, strict=True)]


async def preview_hash(town: Town) -> list[str]:
    """Agent and task keys still stored as JSON strings; changes nothing."""
    return [key for _, key, typ in await _record_types(town) if typ == "string"]


def json_to_hash_fields(kind: str, text: str, key: str) -> tuple[dict[str, str], list[str]]:
    """Decode a JSON record and encode it as hash fields (``HSET`` fields, empty optionals).

    Raises:
        CorruptRecordError: the JSON is not a valid record.
    """
    if kind == "agent":
        return agent_to_hash(agent_from_json(text, key))
    return task_to_hash(task_from_json(text, key))


async def _convert(redis: Redis, kind: str, key: str) -> bool:
    """Replace one JSON string by its hash, unless the key changes meanwhile (``WATCH``)."""
    async with redis.watch(key) as tx:
        text = await tx.execute("GET", key)
        if text is None:
            return False
        fields, _ = json_to_hash_fields(kind, text, key)
        flat = [x for pair in fields.items() for x in pair]
        await tx.pipeline(transaction=True).cmd("DEL", key).cmd("HSET", key, *flat).execute()
    return True


async def migrate_hash(town: Town) -> HashReport:
    """Convert every JSON-string agent/task record of the town into a hash."""
    report = HashReport()
    for kind, key, typ in await _record_types(town):
        if typ == "hash":
            report.already_hash += 1
            continue
        if typ != "string":
            report.skipped.append((key, f"unexpected type {typ}"))
            continue
        try:
            if not await _convert(town.redis, kind, key):
                continue  # deleted or converted meanwhile
        except WatchError:
            report.failed.append((key, "changed during the migration; run it again"))
            continue
        except (CorruptRecordError, RedisError) as exc:
            report.failed.append((key, str(exc)))
            continue
        if kind == "agent":
            report.agents += 1
        else:
            report.tasks += 1
    return report
