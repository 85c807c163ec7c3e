"""Mission records in Redis (missions.md §3): missions, work, watches, notes, log, lease.

Listings skip corrupt entries with a warning (never crash) and come back in a
stable order (by ``created_at``, then id). The log list keeps the newest 100
lines; each line is also emitted as a ``mission_event`` on the town and
mission event streams, best effort.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Final, TypeVar

from tinytown.channel import Channel
from tinytown.codec.mission_codec import (
    control_from_json,
    control_to_json,
    mission_from_json,
    mission_to_json,
    watch_from_json,
    watch_to_json,
    work_item_from_json,
    work_item_to_json,
)
from tinytown.errors import CorruptRecordError, RedisError
from tinytown.keys import MISSION_KEY_SUFFIXES, MISSION_LOG_KEEP, Keys, glob_escape
from tinytown.models import Event, EventType
from tinytown.models.mission import (
    ControlMessage,
    MissionId,
    MissionRun,
    WatchItem,
    WorkItem,
    WorkItemId,
)
from tinytown.redis.client import Redis
from tinytown.redis.pipeline import Transaction
from tinytown.scripts import RELEASE_LEASE
from tinytown.services._txn import run_watched

log = logging.getLogger("tinytown.mission")
T = TypeVar("T")

LEASE_TTL_S: Final = 90



def log_line(text: str, now: datetime) -> str:
    """``[YYYY-MM-DD HH:MM:SS] text`` (UTC, no fraction)."""
    return f"[{now.strftime('%Y-%m-%d %H:%M:%S')}] {text}"


class MissionStore:
    """Mission records of one town."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.redis: Redis = channel.redis
        self.keys: Keys = channel.keys

    # --- missions -------------------------------------------------------------------

    async def save_mission(self, mission: MissionRun) -> None:
        await self.redis.execute("SET", self.keys.mission(mission.id), mission_to_json(mission))

    async def update_mission(
        self, mission_id: MissionId, change: Callable[[MissionRun], MissionRun | None]
    ) -> MissionRun | None:
        """Apply ``change`` to the stored mission atomically (WATCH/MULTI, retried on races).

        ``change`` gets the current record and returns the new one (None: leave it). A
        concurrent ``stop`` or ``note`` is never overwritten by a decision made on an older
        read. Returns the stored record, or None if there is no mission.
        """
        key = self.keys.mission(mission_id)

        async def body(tx: Transaction) -> MissionRun | None:
            raw = await tx.execute("GET", key)
            if raw is None:
                return None
            current = mission_from_json(raw, key)
            updated = change(current)
            if updated is None:
                return current
            pipe = tx.pipeline(transaction=True)
            pipe.cmd("SET", key, mission_to_json(updated))
            await pipe.execute()
            return updated

        return await run_watched(self.redis, [key], body)

    async def get_mission(self, mission_id: MissionId) -> MissionRun | None:
        key = self.keys.mission(mission_id)
        raw = await self.redis.execute("GET", key)
        return None if raw is None else mission_from_json(raw, key)

    async def list_missions(self) -> list[MissionRun]:
        """Every mission record (key scan), oldest first; corrupt ones skipped with a warning."""
        found: list[str] = await self.redis.execute(
            "KEYS", f"{glob_escape(self.keys.prefix)}mission:*"
        )
        record_keys = sorted(
            k for k in found
            if not k.endswith(MISSION_KEY_SUFFIXES) and k != self.keys.mission_active
        )
        if not record_keys:
            return []
        values = await self.redis.execute("MGET", *record_keys)
        missions = [
            m for k, v in zip(record_keys, values, strict=True)
            if v is not None and (m := _or_warn(k, v, mission_from_json)) is not None
        ]
        return sorted(missions, key=lambda m: (m.created_at, m.id.text))

    async def delete_mission(self, mission_id: MissionId) -> bool:
        pipe = self.redis.pipeline(transaction=True)
        pipe.cmd("DEL", *self.keys.mission_keys(mission_id))
        pipe.cmd("SREM", self.keys.mission_active, mission_id.text)
        replies = await pipe.execute()
        return bool(replies[0])

    # --- the active set ----------------------------------------------------------------

    async def activate(self, mission_id: MissionId) -> None:
        await self.redis.execute("SADD", self.keys.mission_active, mission_id.text)

    async def deactivate(self, mission_id: MissionId) -> None:
        await self.redis.execute("SREM", self.keys.mission_active, mission_id.text)

    async def active_ids(self) -> list[MissionId]:
        members: list[str] = await self.redis.execute("SMEMBERS", self.keys.mission_active)
        out = []
        for text in sorted(members):
            try:
                out.append(MissionId.parse(text))
            except Exception:
                log.warning("Skipping invalid id %r in %s", text, self.keys.mission_active)
        return out

    # --- work items, watches, notes ---------------------------------------------------------

    async def save_work_items(self, items: Iterable[WorkItem]) -> None:
        await self._save(items, self.keys.mission_work, work_item_to_json)

    async def list_work_items(self, mission_id: MissionId) -> list[WorkItem]:
        return await self._list(self.keys.mission_work(mission_id), work_item_from_json)

    async def get_work_item(self, mission_id: MissionId, item_id: WorkItemId) -> WorkItem | None:
        key = self.keys.mission_work(mission_id)
        raw = await self.redis.execute("HGET", key, item_id.text)
        return None if raw is None else _or_warn(key, raw, work_item_from_json)

    async def save_watches(self, watches: Iterable[WatchItem]) -> None:
        await self._save(watches, self.keys.mission_watch, watch_to_json)

    async def list_watches(self, mission_id: MissionId) -> list[WatchItem]:
        watches = await self._list(self.keys.mission_watch(mission_id), watch_from_json)
        return sorted(watches, key=lambda w: (w.next_due_at, w.kind.value, w.id.text))

    async def save_controls(self, notes: Iterable[ControlMessage]) -> None:
        await self._save(notes, self.keys.mission_control, control_to_json)

    async def list_controls(self, mission_id: MissionId) -> list[ControlMessage]:
        notes = await self._list(self.keys.mission_control(mission_id), control_from_json)
        return sorted(notes, key=lambda c: (c.created_at, c.id))

    async def _save(
        self, records: Iterable[T], key_of: Callable[[MissionId], str], encode: Callable[[T], str]
    ) -> None:
        by_key: dict[str, list[str]] = {}
        for record in records:
            mid: MissionId = record.mission_id  # type: ignore[attr-defined]
            rid: object = record.id  # type: ignore[attr-defined]
            by_key.setdefault(key_of(mid), []).extend((str(rid), encode(record)))
        if not by_key:
            return
        pipe = self.redis.pipeline()
        for key, pairs in by_key.items():
            pipe.cmd("HSET", key, *pairs)
        await pipe.execute()

    async def _list(self, key: str, decode: Callable[[str, str], T]) -> list[T]:
        values: list[str] = await self.redis.execute("HVALS", key)
        records = [r for v in values if (r := _or_warn(key, v, decode)) is not None]
        if records and hasattr(records[0], "created_at"):
            records.sort(key=lambda r: (r.created_at, str(r.id)))  # type: ignore[attr-defined]
        return records

    # --- the log --------------------------------------------------------------------------------

    async def log(self, mission_id: MissionId, text: str, now: datetime) -> None:
        """Append a line to the mission log and, best effort, to the event streams."""
        key = self.keys.mission_log(mission_id)
        pipe = self.redis.pipeline()
        pipe.cmd("LPUSH", key, log_line(text, now))
        pipe.cmd("LTRIM", key, 0, MISSION_LOG_KEEP - 1)
        await pipe.execute()
        try:
            await self.channel.emit(
                Event(event_type=EventType.MISSION_EVENT, message=text, timestamp=now,
                      mission_id=mission_id.text)
            )
        except RedisError as exc:
            log.warning("Mission event not streamed: %s", exc)

    async def recent_log(self, mission_id: MissionId, count: int) -> list[str]:
        """The newest ``count`` log lines, newest first."""
        if count <= 0:
            return []
        lines: list[str] = await self.redis.execute(
            "LRANGE", self.keys.mission_log(mission_id), 0, count - 1
        )
        return lines

    # --- the dispatcher lease ---------------------------------------------------------------

    async def acquire_lease(self, mission_id: MissionId, token: str,
                            ttl_s: int = LEASE_TTL_S) -> bool:
        reply = await self.redis.execute(
            "SET", self.keys.mission_dispatch_lock(mission_id), token, "NX", "EX", ttl_s
        )
        return reply is not None

    async def release_lease(self, mission_id: MissionId, token: str) -> bool:
        released = await RELEASE_LEASE(
            self.redis, [self.keys.mission_dispatch_lock(mission_id)], [token]
        )
        return bool(released)


def _or_warn(key: str, raw: str, decode: Callable[[str, str], T]) -> T | None:
    try:
        return decode(raw, key)
    except CorruptRecordError as exc:
        log.warning("Skipping corrupt mission record: %s", exc)
        return None
