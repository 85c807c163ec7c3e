"""The "needs you" inbox, as pure decisions: which facts of a town need a human now.

Gathering the facts is the async shell's job (:mod:`tinytown.runtime.attention`); this
module turns them into one ranked list without I/O, so the ranking is tested
without Redis. Each entry has a stable id (the same condition keeps the same id
from one read to the next, so a dashboard can tell new entries from old ones),
a reason, the time it has been true since, and the actions that resolve it.

Ranking: explicit asks first (a question for the supervisor/conductor, a
reviewer-gate decision, a mission's help request), then work that is stuck
(an agent in Error, pending work no runtime will run, dead-lettered
messages), then what may be stuck (a task running far longer than usual, a
watch failing repeatedly). Inside a class, the oldest first. Conditions that
share one cause are folded into one entry (one per agent for dead letters,
one per stranded agent) so the list never repeats itself.
"""

from __future__ import annotations

import enum
import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from tinytown.models.text import ELLIPSIS, cut

LONG_TASK_FACTOR: Final = 3.0
"""A running task needs a look once it has run this many times the usual duration…"""
LONG_TASK_MIN_S: Final = 15 * 60.0
"""…and at least this long (short tasks vary a lot in relative terms)."""
LONG_TASK_DEFAULT_S: Final = 60 * 60.0
"""The threshold while fewer than :data:`USUAL_SAMPLES_MIN` tasks have completed."""
USUAL_SAMPLES_MIN: Final = 5
WATCH_FAILURES_MIN: Final = 3
"""A watch is reported once it has failed this many times in a row."""


class Kind(enum.StrEnum):
    """Why an entry needs a human."""

    QUERY = "query"
    REVIEW_GATE = "review_gate"
    MISSION_HELP = "mission_help"
    AGENT_ERROR = "agent_error"
    STRANDED_WORK = "stranded_work"
    DEAD_LETTER = "dead_letter"
    LONG_TASK = "long_task"
    FAILING_WATCH = "failing_watch"


class Action(enum.StrEnum):
    """What a human can do about an entry (each maps to an existing route or command)."""

    ANSWER = "answer"
    APPROVE = "approve"
    REJECT = "reject"
    RESTART = "restart"
    RECLAIM = "reclaim"
    START_RUNTIME = "start_runtime"
    RESUME = "resume"
    NOTE = "note"
    INSPECT = "inspect"


_CLASS: Final = {
    Kind.QUERY: 0,
    Kind.REVIEW_GATE: 0,
    Kind.MISSION_HELP: 0,
    Kind.AGENT_ERROR: 1,
    Kind.STRANDED_WORK: 1,
    Kind.DEAD_LETTER: 1,
    Kind.LONG_TASK: 2,
    Kind.FAILING_WATCH: 2,
}


@attrs.frozen
class Entry:
    """One thing that needs a human.

    Attributes:
        id: Stable identifier of the condition (``kind:subject``).
        kind: Why it needs a human.
        reason: One plain sentence, without decoration.
        since: When the condition became true (as far as the town knows).
        actions: What resolves it, most likely first.
        agent: The agent's name, when one is concerned.
        task_id: The task concerned, if any.
        mission_id: The mission concerned, if any.
        message_id: The message to answer, for queries.
        work_item_id: The work item concerned, for gates and watches.
        count: How many underlying facts were folded into this entry.
    """

    id: str
    kind: Kind
    reason: str
    since: datetime
    actions: tuple[Action, ...]
    agent: str | None = None
    task_id: str | None = None
    mission_id: str | None = None
    message_id: str | None = None
    work_item_id: str | None = None
    count: int = 1

    @property
    def priority(self) -> int:
        """0 = an explicit ask, 1 = stuck work, 2 = possibly stuck."""
        return _CLASS[self.kind]


# ---- facts, as the shell reads them -------------------------------------------------


@attrs.frozen
class QueryFact:
    """A question addressed to the supervisor/conductor mailbox, not yet answered."""

    message_id: str
    from_agent: str
    question: str
    sent_at: datetime


@attrs.frozen
class AgentFact:
    """An agent's state and what waits for it.

    ``runtime_up`` is False when no runtime serves the agent's host;
    ``will_run`` is False when the agent will not take work (Stopped, Error).
    """

    name: str
    state: str
    state_since: datetime
    pending: int
    will_run: bool
    runtime_up: bool
    error: str | None = None


@attrs.frozen
class DeadLetterFact:
    """Dead letters of one agent (``count`` of them, the oldest known one's reason and time)."""

    agent: str
    message_id: str
    reason: str
    at: datetime
    count: int = 1


@attrs.frozen
class RunningTaskFact:
    task_id: str
    description: str
    agent: str | None
    started_at: datetime


@attrs.frozen
class GateFact:
    """A work item waiting for a reviewer's decision."""

    mission_id: str
    work_item_id: str
    title: str
    since: datetime


@attrs.frozen
class HelpFact:
    """A mission that asked for help (blocked, escalated to the conductor)."""

    mission_id: str
    reason: str
    since: datetime


@attrs.frozen
class WatchFact:
    mission_id: str
    work_item_id: str
    target: str
    failures: int
    last_error: str
    since: datetime


@attrs.frozen
class Facts:
    """Everything the ranking looks at. Missing parts are simply empty."""

    queries: Sequence[QueryFact] = ()
    agents: Sequence[AgentFact] = ()
    dead_letters: Sequence[DeadLetterFact] = ()
    running: Sequence[RunningTaskFact] = ()
    completed_durations_s: Sequence[float] = ()
    gates: Sequence[GateFact] = ()
    help_requests: Sequence[HelpFact] = ()
    watches: Sequence[WatchFact] = ()


# ---- decisions ------------------------------------------------------------------------


def long_task_threshold_s(completed_durations_s: Sequence[float]) -> float:
    """How long a task may run before it counts as far longer than usual."""
    if len(completed_durations_s) < USUAL_SAMPLES_MIN:
        return LONG_TASK_DEFAULT_S
    usual = statistics.median(completed_durations_s)
    return max(LONG_TASK_MIN_S, LONG_TASK_FACTOR * usual)


def _short(text: str, limit: int = 80) -> str:
    """One line (whitespace folded), cut to ``limit`` characters."""
    return cut(" ".join(text.split()), limit - len(ELLIPSIS), over=limit)


def _queries(facts: Iterable[QueryFact]) -> Iterable[Entry]:
    for q in facts:
        yield Entry(
            id=f"query:{q.message_id}",
            kind=Kind.QUERY,
            reason=f"{q.from_agent} asks: {_short(q.question)}",
            since=q.sent_at,
            actions=(Action.ANSWER,),
            agent=q.from_agent,
            message_id=q.message_id,
        )


def _agents(facts: Iterable[AgentFact]) -> Iterable[Entry]:
    for a in facts:
        if a.state.lower() == "error":
            detail = f": {_short(a.error)}" if a.error else ""
            waiting = f", {a.pending} message(s) waiting" if a.pending else ""
            yield Entry(
                id=f"agent_error:{a.name}",
                kind=Kind.AGENT_ERROR,
                reason=f"{a.name} is in Error{detail}{waiting}",
                since=a.state_since,
                actions=(Action.RESTART, Action.RECLAIM),
                agent=a.name,
                count=max(1, a.pending),
            )
        elif a.pending and (not a.will_run or not a.runtime_up):
            why = "no runtime is running for it" if not a.runtime_up else f"it is {a.state}"
            fix = (Action.START_RUNTIME,) if not a.runtime_up else (Action.RESTART,)
            yield Entry(
                id=f"stranded_work:{a.name}",
                kind=Kind.STRANDED_WORK,
                reason=f"{a.pending} message(s) wait for {a.name} but {why}",
                since=a.state_since,
                actions=(*fix, Action.RECLAIM),
                agent=a.name,
                count=a.pending,
            )


def _dead_letters(facts: Iterable[DeadLetterFact]) -> Iterable[Entry]:
    by_agent: dict[str, list[DeadLetterFact]] = {}
    for d in facts:
        by_agent.setdefault(d.agent, []).append(d)
    for agent, letters in by_agent.items():
        first = min(letters, key=lambda d: d.at)
        total = sum(d.count for d in letters)
        more = f" (and {total - 1} more)" if total > 1 else ""
        yield Entry(
            id=f"dead_letter:{agent}",
            kind=Kind.DEAD_LETTER,
            reason=f"{total} message(s) to {agent} could not be delivered: "
            f"{_short(first.reason)}{more}",
            since=first.at,
            actions=(Action.INSPECT,),
            agent=agent,
            message_id=first.message_id or None,
            count=total,
        )


def _long_tasks(
    facts: Iterable[RunningTaskFact], threshold_s: float, now: datetime
) -> Iterable[Entry]:
    for t in facts:
        ran_s = (now - t.started_at).total_seconds()
        if ran_s < threshold_s:
            continue
        who = f" on {t.agent}" if t.agent else ""
        yield Entry(
            id=f"long_task:{t.task_id}",
            kind=Kind.LONG_TASK,
            reason=f"task {_short(t.description, 60)!r}{who} has run {_duration(ran_s)}, "
            f"usually done within {_duration(threshold_s)}",
            since=t.started_at,
            actions=(Action.INSPECT, Action.RECLAIM),
            agent=t.agent,
            task_id=t.task_id,
        )


def _missions(facts: Facts) -> Iterable[Entry]:
    for g in facts.gates:
        yield Entry(
            id=f"review_gate:{g.mission_id}:{g.work_item_id}",
            kind=Kind.REVIEW_GATE,
            reason=f"review needed: {_short(g.title)}",
            since=g.since,
            actions=(Action.APPROVE, Action.REJECT),
            mission_id=g.mission_id,
            work_item_id=g.work_item_id,
        )
    for h in facts.help_requests:
        yield Entry(
            id=f"mission_help:{h.mission_id}",
            kind=Kind.MISSION_HELP,
            reason=f"mission needs help: {_short(h.reason)}",
            since=h.since,
            actions=(Action.NOTE, Action.RESUME),
            mission_id=h.mission_id,
        )
    for w in facts.watches:
        if w.failures < WATCH_FAILURES_MIN:
            continue
        yield Entry(
            id=f"failing_watch:{w.mission_id}:{w.work_item_id}",
            kind=Kind.FAILING_WATCH,
            reason=f"watch on {w.target} failed {w.failures} times: {_short(w.last_error)}",
            since=w.since,
            actions=(Action.INSPECT, Action.RESUME),
            mission_id=w.mission_id,
            work_item_id=w.work_item_id,
            count=w.failures,
        )


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rank(facts: Facts, now: datetime) -> list[Entry]:
    """Every entry that needs a human now, the most pressing first."""
    threshold = long_task_threshold_s(facts.completed_durations_s)
    entries = [
        *_queries(facts.queries),
        *_agents(facts.agents),
        *_dead_letters(facts.dead_letters),
        *_long_tasks(facts.running, threshold, now),
        *_missions(facts),
    ]
    unique = {entry.id: entry for entry in entries}
    return sorted(unique.values(), key=lambda e: (e.priority, e.since, e.id))


def entry_to_dict(entry: Entry) -> dict[str, Any]:
    """The JSON form of an entry (``tt attention --json``, the REST API, the dashboard)."""
    doc: dict[str, Any] = {
        "id": entry.id,
        "kind": entry.kind.value,
        "priority": entry.priority,
        "reason": entry.reason,
        "since": entry.since.isoformat().replace("+00:00", "Z"),
        "actions": [a.value for a in entry.actions],
        "count": entry.count,
    }
    for name in ("agent", "task_id", "mission_id", "message_id", "work_item_id"):
        value = getattr(entry, name)
        if value is not None:
            doc[name] = value
    return doc
