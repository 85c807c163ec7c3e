"""What ``tt status`` tells of every task, from the rows read: counts, running tasks, groups.

The rows are :mod:`tinytown.services.task_rows` replies, worked on column by
column: one pass over all rows per field, in read order (at 100,000 tasks the
row objects are far from the CPU caches, and reaching one costs more than
what is done with it), then row positions. Timestamps are read as
:func:`tinytown.codec.parse_ts` reads them, each distinct text once, so every
order is the one whole records would give; creation times only when update
times tie.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from itertools import chain, compress, count
from operator import itemgetter
from typing import Final, cast

import attrs

from tinytown.codec import parse_ts
from tinytown.codec.hash_codec import TASK_STATE_TEXTS, task_state
from tinytown.errors import InvalidInputError
from tinytown.models import Agent, AgentId, TaskState
from tinytown.services.task_rows import CREATED, ID, OWNER, STARTED, STATE, UPDATED, Row

_STATES: Final = TASK_STATE_TEXTS
_RUNNING: Final = frozenset(text for text, s in _STATES.items() if s is TaskState.RUNNING)
# Listing order inside a task group: live work first.
_ORDER: Final = (TaskState.RUNNING, TaskState.ASSIGNED, TaskState.PENDING, TaskState.FAILED,
                 TaskState.COMPLETED, TaskState.CANCELLED)
_RANKS: Final = {text: _ORDER.index(s) for text, s in _STATES.items()}
_fromiso = datetime.fromisoformat


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


class Summaries:
    """The summaries of one read of every task's rows."""

    def __init__(self, rows: Sequence[Row], ids: Sequence[str] | None = None) -> None:
        self.rows = rows
        self.ids = [r[ID] or "" for r in rows] if ids is None else ids
        self.clock = Clock()

    @cached_property
    def _states(self) -> list[str | None]:
        return _texts(self.rows, STATE)

    @cached_property
    def _updated(self) -> list[datetime]:
        return self.clock.sure(_texts(self.rows, UPDATED))

    @cached_property
    def _created(self) -> list[datetime]:
        return self.clock.sure(_texts(self.rows, CREATED))

    def counts(self) -> TaskCounts:
        """How many tasks are in each state."""
        n = dict.fromkeys(TaskState, 0)
        if "_buckets" in self.__dict__:  # read for the groups already
            for (_, text), at in self._buckets.items():
                n[task_state(text)] += len(at)
        else:
            for text, k in Counter(self._states).items():
                n[task_state(text)] += k
        return TaskCounts(**{s.value: n[s] for s in TaskState})

    @cached_property
    def _buckets(self) -> dict[tuple[str | None, str | None], list[int]]:
        """Row positions by (``assigned_to``, ``state``) text, ascending."""
        out: defaultdict[tuple[str | None, str | None], list[int]] = defaultdict(list)
        for i, key in zip(count(), map(itemgetter(OWNER, STATE), self.rows)):
            out[key].append(i)
        return out

    def running(self) -> dict[AgentId, list[int]]:
        """Positions of the running tasks per assignee: oldest start first, then oldest
        created, key order."""
        if "_buckets" in self.__dict__:  # read for the groups already
            found = [(text, at) for (text, state), at in self._buckets.items() if state in _RUNNING]
        else:
            live = list(compress(count(), map(_RUNNING.__contains__, self._states)))
            by_text: defaultdict[str | None, list[int]] = defaultdict(list)
            for i, text in zip(live, _texts([self.rows[i] for i in live], OWNER), strict=True):
                by_text[text].append(i)
            found = list(by_text.items())
        mine: dict[AgentId, list[int]] = {}
        for text, at in found:
            if (who := _owner(text)) is not None:
                mine.setdefault(who, []).extend(at)
        return {who: self._by_start(at) for who, at in mine.items()}

    def _by_start(self, at: list[int]) -> list[int]:
        """The positions ``at``: oldest start (else last update) first, then oldest created."""
        at.sort()  # key order, whatever texts they came from
        rows, clock = [self.rows[i] for i in at], self.clock
        started = clock.maybe(_texts(rows, STARTED))
        begun = cast("list[datetime]", started)
        if None in started:  # not started (or unreadable): since the last update
            updated = clock.sure(_texts(rows, UPDATED))
            begun = [u if s is None else s for s, u in zip(started, updated, strict=True)]
        if "_created" in self.__dict__:
            created = [self._created[i] for i in at]
        else:
            created = clock.sure(_texts(rows, CREATED))
        order = sorted(range(len(at)), key=created.__getitem__)
        order.sort(key=begun.__getitem__)
        return [at[j] for j in order]

    def groups(self, agents: Sequence[Agent], shown: int) -> list[Grouping]:
        """Tasks by assignee: known agents in their order, then unknown ids, then unassigned.

        Each group's first ``shown`` rows: live work first (running, assigned,
        pending, failed, completed, cancelled), then latest update, oldest
        created, key order.
        """
        parts: dict[AgentId | None, dict[int, list[list[int]]]] = {}
        for (text, state), at in self._buckets.items():
            rank = _RANKS.get(state or "", _ORDER.index(TaskState.PENDING))
            parts.setdefault(_owner(text), {}).setdefault(rank, []).append(at)
        known = {a.id: a for a in agents}
        order: list[AgentId | None] = [a.id for a in agents if a.id in parts]
        order += sorted((k for k in parts if k is not None and k not in known), key=str)
        if None in parts:
            order.append(None)
        groups = []
        for who in order:
            ranks = parts[who]
            total = sum(len(at) for split in ranks.values() for at in split)
            done = sum(len(at) for rank, split in ranks.items() if _ORDER[rank].is_terminal
                       for at in split)
            first: list[int] = []
            for rank in sorted(ranks):
                if len(first) >= shown:
                    break
                split = ranks[rank]  # several texts of one state or agent: merged in key order
                first += self._latest(split[0] if len(split) == 1 else sorted(chain(*split)),
                                      shown - len(first))
            groups.append(Grouping(
                agent_id=who, agent=known.get(who) if who is not None else None,
                active=total - done, done=done, shown=[self.rows[i] for i in first], total=total,
            ))  # fmt: skip
        return groups

    def _latest(self, at: list[int], k: int) -> list[int]:
        """The first ``k`` of the rows ``at`` (in key order): latest update, oldest created."""
        if k <= 0:
            return []
        updated = self._updated
        ordered = sorted(at, key=updated.__getitem__, reverse=True)  # stable, as all below
        ends = [updated[i] for i in ordered[: k + 1]]
        if len(set(ends)) < len(ends):  # ties that decide what is shown, or in what order
            ordered = sorted(at, key=self._created.__getitem__)
            ordered.sort(key=updated.__getitem__, reverse=True)
        return ordered[:k]


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

    def when(self, text: str | None) -> datetime | None:
        """One text's instant; None where absent or unreadable."""
        read = self._maybe
        try:
            return read[text]
        except KeyError:
            found = read[text] = _when(text)
            return found

    def maybe(self, texts: list[str | None]) -> list[datetime | None]:
        """Each text's instant; None where absent or unreadable."""
        read = self._maybe
        try:
            return list(map(read.__getitem__, texts))  # every text read before
        except KeyError:
            for text in set(texts).difference(read):
                read[text] = _when(text)
        return list(map(read.__getitem__, texts))

    def sure(self, texts: list[str | None]) -> list[datetime]:
        """Each text's instant; ``now`` where absent or unreadable."""
        read = self._sure
        try:
            return list(map(read.__getitem__, texts))  # every text read before
        except KeyError:
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
