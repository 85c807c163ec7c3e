"""The few fields of every task that ``tt status`` counts, groups and orders, as read.

Each task is the list its ``HMGET`` of :data:`SUMMARY_FIELDS` returned: at
100,000 tasks, building an object, parsing an id or a timestamp per task costs
more than fetching them (:mod:`tinytown.services.task_summary` works on them
column by column). Ids are checked in bulk; a record is skipped, with a
warning, exactly when its whole record would be.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from tinytown.codec import task_from_hash
from tinytown.errors import InvalidInputError
from tinytown.models import Task, TaskId
from tinytown.models.ids import CANONICAL_ID
from tinytown.town import Town

log = logging.getLogger(__name__)

SUMMARY_FIELDS: Final = ("id", "state", "assigned_to", "created_at", "updated_at", "started_at")
ID, STATE, OWNER, CREATED, UPDATED, STARTED = range(len(SUMMARY_FIELDS))
Row = list[str | None]
"""One task's :data:`SUMMARY_FIELDS` as read; ``row[ID]`` is the canonical id text."""


def row_task(row: Row) -> Task:
    """A task of the summary fields alone (the shown task when its whole record is gone)."""
    fields = {k: v for k, v in zip(SUMMARY_FIELDS, row, strict=True) if v is not None}
    return task_from_hash(fields, row[ID] or "task")


# --- reading -----------------------------------------------------------------------------


async def read_rows(town: Town) -> tuple[list[Row], list[str]]:
    """Every readable task's :data:`SUMMARY_FIELDS` and id, in key order (2 round trips).

    Records are skipped (with a warning) exactly when the whole record would be:
    a key of another type, or no valid ``id``.
    """
    keys: list[str] = await town.redis.execute("KEYS", town.channel.keys.scan_pattern("task"))
    if not keys:
        return [], []
    pipe = town.redis.pipeline()
    for key in keys:
        pipe.cmd("HMGET", key, *SUMMARY_FIELDS)
    replies: list[Any] = await pipe.execute(raise_on_error=False)
    try:
        ids: list[Any] = [r[ID] for r in replies]
    except TypeError:  # an error reply
        ids = []
    if ids and _all_canonical(ids):
        return replies, ids
    rows = _checked(keys, replies)
    return rows, [r[ID] or "" for r in rows]


def _all_canonical(ids: list[str | None]) -> bool:
    """Whether every id is a canonical UUID text (what ``CANONICAL_ID`` matches), in bulk.

    Joined with newlines, ``n`` canonical ids are ASCII of length ``37n - 1``
    with newlines exactly at every 37th place, dashes exactly at 8, 13, 18
    and 23 of each id, and only lowercase hex digits elsewhere.
    """
    try:
        joined = "\n".join(ids).encode("ascii")  # type: ignore[arg-type]  # None: TypeError
    except (TypeError, UnicodeEncodeError):
        return False
    n = len(ids)
    return n == 0 or (
        len(joined) == 37 * n - 1
        and joined.count(b"\n") == n - 1
        and joined.count(b"-") == 4 * n
        and joined[36::37] == b"\n" * (n - 1)
        and all(joined[at::37] == b"-" * n for at in (8, 13, 18, 23))
        and not joined.translate(None, b"0123456789abcdef-\n")
    )


def _checked(keys: Sequence[str], replies: Sequence[Row | Exception]) -> list[Row]:
    out = []
    for key, reply in zip(keys, replies, strict=True):
        if isinstance(reply, Exception):
            log.warning("skipping %s: %s", key, reply)
            continue
        task_id = reply[ID]
        if task_id is None:
            if any(v is not None for v in reply):
                log.warning("skipping corrupt record: %s: no id", key)
            continue  # deleted meanwhile, or no id
        if not CANONICAL_ID.fullmatch(task_id):
            try:
                reply[ID] = TaskId.parse(task_id).text
            except InvalidInputError as exc:
                log.warning("skipping corrupt record: %s: %s", key, exc)
                continue
        out.append(reply)
    return out
