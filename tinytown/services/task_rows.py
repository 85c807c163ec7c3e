"""The few fields of every task that ``tt status`` counts, groups and orders, as read.

Each task is the list its ``HMGET`` of :data:`SUMMARY_FIELDS` returned: at
100,000 tasks, building an object, parsing ids or timestamps per task costs
more than fetching them. Counting reads states straight from the replies;
timestamps are parsed only for the rows that need ordering (running tasks;
with ``--tasks`` the states that fill each group's first rows), as
:func:`tinytown.codec.parse_ts` reads them, so the order is the one whole
records would give.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from heapq import nlargest
from itertools import chain
from operator import itemgetter
from typing import Final, cast

import attrs

from tinytown.codec import parse_ts, task_from_hash
from tinytown.errors import InvalidInputError
from tinytown.models import Agent, AgentId, Task, TaskId, TaskState
from tinytown.models.ids import CANONICAL_ID
from tinytown.town import Town

log = logging.getLogger(__name__)

SUMMARY_FIELDS: Final = ("id", "state", "assigned_to", "created_at", "updated_at", "started_at")
ID, STATE, OWNER, CREATED, UPDATED, STARTED = range(len(SUMMARY_FIELDS))
Row = list[str | None]
"""One task's :data:`SUMMARY_FIELDS` as read; ``row[ID]`` is the canonical id text."""

_STATES: Final = {s.value: s for s in TaskState} | {"in_flight": TaskState.RUNNING}
_RUNNING: Final = frozenset(text for text, s in _STATES.items() if s is TaskState.RUNNING)
_DONE: Final = frozenset(text for text, s in _STATES.items() if s.is_terminal)
# Listing order inside a task group: live work first.
_ORDER: Final = (TaskState.RUNNING, TaskState.ASSIGNED, TaskState.PENDING, TaskState.FAILED,
                 TaskState.COMPLETED, TaskState.CANCELLED)
_RANKS: Final = {text: _ORDER.index(s) for text, s in _STATES.items()}
_PENDING_RANK: Final = _ORDER.index(TaskState.PENDING)
_fromiso = datetime.fromisoformat


def state_of(text: str | None) -> TaskState:
    """A task's state as whole records read it (unknown or missing: pending)."""
    return _STATES.get(text or "", TaskState.PENDING)


def row_task(row: Row) -> Task:
    """A task of the summary fields alone (the shown task when its whole record is gone)."""
    fields = {k: v for k, v in zip(SUMMARY_FIELDS, row, strict=True) if v is not None}
    return task_from_hash(fields, row[ID] or "task")


@attrs.frozen
class TaskCounts:
    """Tasks per state."""

    pending: int = 0
    assigned: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.in_flight + self.done

    @property
    def in_flight(self) -> int:
        return self.assigned + self.running

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.cancelled

    def get(self, state: TaskState) -> int:
        value: int = getattr(self, state.value)
        return value


@attrs.frozen
class Grouping:
    """Tasks of one assignee (``agent_id`` None: unassigned): counts and the first rows."""

    agent_id: AgentId | None
    agent: Agent | None
    active: int
    done: int
    shown: list[Row]
    total: int


# --- reading -----------------------------------------------------------------------------


async def read_rows(town: Town) -> list[Row]:
    """Every readable task's :data:`SUMMARY_FIELDS`, in key order (2 round trips).

    Records are skipped (with a warning) exactly when the whole record would be:
    a key of another type, or no valid ``id``.
    """
    keys: list[str] = await town.redis.execute("KEYS", town.channel.keys.scan_pattern("task"))
    if not keys:
        return []
    pipe = town.redis.pipeline()
    for key in keys:
        pipe.cmd("HMGET", key, *SUMMARY_FIELDS)
    replies: list[Row | Exception] = await pipe.execute(raise_on_error=False)
    try:
        ids: list[str | None] = [r[ID] for r in replies]  # type: ignore[index]
    except TypeError:  # an error reply
        return _checked(keys, replies)
    return replies if _all_canonical(ids) else _checked(keys, replies)  # type: ignore[return-value]


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


# --- summaries (pure) --------------------------------------------------------------------


def count_rows(rows: Sequence[Row]) -> TaskCounts:
    """How many tasks are in each state."""
    n = dict.fromkeys(TaskState, 0)
    for text, k in Counter(map(itemgetter(STATE), rows)).items():
        n[state_of(text)] += k
    return TaskCounts(**{s.value: n[s] for s in TaskState})


def running_rows(rows: Sequence[Row]) -> dict[AgentId, list[Row]]:
    """Running tasks per assignee: oldest start first, then oldest created, then key order."""
    live = [r for r in rows if r[STATE] in _RUNNING]
    clock = Clock()
    started = clock.maybe(_texts(live, STARTED))
    begun = cast("list[datetime]", started)
    if None in started:  # not started (or unreadable): since the last update
        updated = clock.sure(_texts(live, UPDATED))
        begun = [u if s is None else s for s, u in zip(started, updated, strict=True)]
    order = sorted(range(len(live)), key=clock.sure(_texts(live, CREATED)).__getitem__)
    order.sort(key=begun.__getitem__)
    return _by_owner([live[i] for i in order])


def _by_owner(rows: list[Row]) -> dict[AgentId, list[Row]]:
    """Rows per assignee (none or invalid: left out), in their order."""
    by_text: defaultdict[str | None, list[Row]] = defaultdict(list)
    for r in rows:
        by_text[r[OWNER]].append(r)
    named = {text: who for text in by_text if (who := _owner(text)) is not None}
    if len(set(named.values())) == len(named):
        return {who: by_text[text] for text, who in named.items()}
    out: dict[AgentId, list[Row]] = {}  # several texts name one agent: regroup in order
    for r in rows:
        if (who := named.get(r[OWNER])) is not None:
            out.setdefault(who, []).append(r)
    return out


def group_rows(rows: Sequence[Row], agents: Sequence[Agent], shown: int) -> list[Grouping]:
    """Tasks by assignee: known agents in their order, then unknown ids, then unassigned.

    Each group's first ``shown`` rows: live work first (running, assigned,
    pending, failed, completed, cancelled), then latest update, oldest created,
    key order.
    """
    parts: dict[AgentId | None, dict[int, list[list[int]]]] = {}
    for (text, state), part in _buckets(rows).items():
        rank = _RANKS.get(state or "", _PENDING_RANK)
        parts.setdefault(_owner(text), {}).setdefault(rank, []).append(part)
    known = {a.id: a for a in agents}
    order: list[AgentId | None] = [a.id for a in agents if a.id in parts]
    order += sorted((k for k in parts if k is not None and k not in known), key=str)
    if None in parts:
        order.append(None)
    pick = _Picker(rows)
    groups = []
    for who in order:
        ranks = parts[who]
        total = sum(len(part) for split in ranks.values() for part in split)
        done = sum(len(part) for rank, split in ranks.items() if _ORDER[rank].is_terminal
                   for part in split)
        first: list[int] = []
        for rank in sorted(ranks):
            if len(first) >= shown:
                break
            first += pick.latest(sorted(chain(*ranks[rank])), shown - len(first))
        groups.append(Grouping(agent_id=who, agent=known.get(who) if who is not None else None,
                               active=total - done, done=done, shown=[rows[i] for i in first],
                               total=total))
    return groups


def _buckets(rows: Sequence[Row]) -> dict[tuple[str | None, str | None], list[int]]:
    """Row positions by (``assigned_to``, ``state``) text, ascending."""
    out: defaultdict[tuple[str | None, str | None], list[int]] = defaultdict(list)
    for i, key in enumerate(zip(_texts(rows, OWNER), _texts(rows, STATE), strict=True)):
        out[key].append(i)
    return out


class _Picker:
    """Chooses the rows shown; timestamps read column by column, each text once."""

    def __init__(self, rows: Sequence[Row]) -> None:
        self._rows = rows
        self._clock = Clock()
        self._updated: list[datetime] = []
        self._created: list[datetime] = []

    def latest(self, at: list[int], k: int) -> list[int]:
        """The first ``k`` of the rows ``at`` (one state): latest update, oldest created, position.

        Update times are read for every row; creation times only for the rows
        that can still be shown (updated at or after the ``k``-th latest update).
        """
        if k <= 0:
            return []
        if not self._updated:
            self._updated = self._clock.sure(_texts(self._rows, UPDATED))
        updated = self._updated
        if len(at) > k:
            kth = nlargest(k, map(updated.__getitem__, at))[-1]
            at = [i for i in at if updated[i] >= kth]
        if not self._created:
            self._created = self._clock.sure(_texts(self._rows, CREATED))
        at.sort(key=self._created.__getitem__)
        at.sort(key=updated.__getitem__, reverse=True)  # stable: ties keep the order above
        return at[:k]


def _texts(rows: Sequence[Row], field: int) -> list[str | None]:
    return list(map(itemgetter(field), rows))


def _owner(text: str | None) -> AgentId | None:
    if text is None:
        return None
    try:
        return AgentId.parse(text)
    except InvalidInputError:
        return None


class Clock:
    """Timestamp fields read as :func:`parse_ts` reads them, each distinct text once.

    ``now`` (one instant for the whole summary) stands in for a missing or
    unreadable creation or update time, as whole records read them.
    """

    def __init__(self) -> None:
        self.now = datetime.now(UTC)
        self._maybe: dict[str | None, datetime | None] = {}
        self._sure: dict[str | None, datetime] = {}

    def maybe(self, texts: list[str | None]) -> list[datetime | None]:
        """Each text's instant; None where absent or unreadable."""
        read = self._maybe
        for text in set(texts).difference(read):
            read[text] = _when(text)
        return list(map(read.__getitem__, texts))

    def sure(self, texts: list[str | None]) -> list[datetime]:
        """Each text's instant; ``now`` where absent or unreadable."""
        read = self._sure
        for text in set(texts).difference(read):
            read[text] = _when(text) or self.now
        return list(map(read.__getitem__, texts))


def _when(text: str | None) -> datetime | None:
    if text is not None and len(text) == 32 and text[10] == "T" and text[26:] == "+00:00":
        try:
            return _fromiso(text)  # the form we write: parse_ts would do just this
        except ValueError:
            return None
    try:
        return None if text is None else parse_ts(text)
    except ValueError:
        return None
