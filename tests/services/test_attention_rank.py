"""The attention inbox's ranking, as pure decisions (no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tinytown.services.attention_rank import (
    LONG_TASK_DEFAULT_S,
    LONG_TASK_MIN_S,
    Action,
    AgentFact,
    DeadLetterFact,
    Facts,
    GateFact,
    HelpFact,
    Kind,
    QueryFact,
    RunningTaskFact,
    WatchFact,
    long_task_threshold_s,
    rank,
)

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


def agent(name: str, state: str = "idle", *, pending: int = 0, will_run: bool = True,
          runtime_up: bool = True, since: float = 5, error: str | None = None) -> AgentFact:
    return AgentFact(name=name, state=state, state_since=ago(since), pending=pending,
                     will_run=will_run, runtime_up=runtime_up, error=error)


def test_a_quiet_town_needs_nobody() -> None:
    facts = Facts(agents=[agent("a"), agent("b", "working", pending=3)],
                  running=[RunningTaskFact("t1", "fix it", "b", ago(2))])
    assert rank(facts, NOW) == []


def test_explicit_asks_come_before_stuck_work_and_stuck_work_before_slow_tasks() -> None:
    facts = Facts(
        queries=[QueryFact("m1", "alice", "Which database?", ago(1))],
        agents=[agent("bob", "error", since=120, error="model crashed")],
        running=[RunningTaskFact("t9", "long job", "carol", ago(600))],
        gates=[GateFact("mis1", "w1", "Review the login API", ago(3))],
    )
    kinds = [e.kind for e in rank(facts, NOW)]
    # Within the ask class, the older gate comes before the newer query.
    assert kinds == [Kind.REVIEW_GATE, Kind.QUERY, Kind.AGENT_ERROR, Kind.LONG_TASK]


def test_query_entry_says_who_asks_what_and_how_to_resolve_it() -> None:
    (entry,) = rank(Facts(queries=[QueryFact("m1", "alice", "Which\n database  now?",
                                             ago(4))]), NOW)
    assert entry.id == "query:m1"
    assert entry.reason == "alice asks: Which database now?"
    assert entry.since == ago(4)
    assert entry.actions == (Action.ANSWER,)
    assert entry.message_id == "m1"
    assert entry.agent == "alice"


def test_pending_work_that_will_not_run_is_stranded_with_the_fix() -> None:
    entries = rank(Facts(agents=[
        agent("stopped", "stopped", pending=2, will_run=False),
        agent("orphan", "idle", pending=1, runtime_up=False),
        agent("stopped-empty", "stopped", pending=0, will_run=False),
    ]), NOW)
    by_agent = {e.agent: e for e in entries}
    assert set(by_agent) == {"stopped", "orphan"}
    assert by_agent["stopped"].kind is Kind.STRANDED_WORK
    assert by_agent["stopped"].actions[0] is Action.RESTART
    assert "it is stopped" in by_agent["stopped"].reason
    assert by_agent["orphan"].actions[0] is Action.START_RUNTIME
    assert "no runtime" in by_agent["orphan"].reason
    assert by_agent["stopped"].count == 2


def test_dead_letters_fold_into_one_entry_per_agent() -> None:
    letters = [DeadLetterFact("a", f"m{i}", "JSON nested too deep", ago(10 - i)) for i in range(4)]
    letters.append(DeadLetterFact("b", "mb", "not JSON", ago(1)))
    entries = rank(Facts(dead_letters=letters), NOW)
    assert [(e.agent, e.count) for e in entries] == [("a", 4), ("b", 1)]
    assert entries[0].since == ago(10)
    assert "and 3 more" in entries[0].reason


def test_long_task_threshold_follows_the_usual_duration() -> None:
    assert long_task_threshold_s([60.0] * 4) == LONG_TASK_DEFAULT_S  # too few samples
    assert long_task_threshold_s([60.0] * 10) == LONG_TASK_MIN_S  # floor
    assert long_task_threshold_s([1200.0] * 9 + [5.0]) == 3 * 1200.0


def test_only_tasks_far_longer_than_usual_are_reported() -> None:
    usual = [600.0] * 10  # 10 min usual -> threshold 30 min
    facts = Facts(
        running=[RunningTaskFact("short", "a", "x", ago(29)),
                 RunningTaskFact("long", "b", "y", ago(31))],
        completed_durations_s=usual,
    )
    assert [e.task_id for e in rank(facts, NOW)] == ["long"]


def test_watches_are_reported_only_after_repeated_failures() -> None:
    facts = Facts(watches=[
        WatchFact("m", "w1", "PR #4", 2, "gh: timeout", ago(5)),
        WatchFact("m", "w2", "PR #5", 3, "gh: not authenticated", ago(5)),
    ])
    (entry,) = rank(facts, NOW)
    assert entry.work_item_id == "w2"
    assert entry.kind is Kind.FAILING_WATCH


def test_same_condition_keeps_one_stable_id() -> None:
    facts = Facts(help_requests=[HelpFact("m1", "blocked: no reviewer", ago(3)),
                                 HelpFact("m1", "blocked: no reviewer", ago(3))])
    first = rank(facts, NOW)
    again = rank(facts, NOW + timedelta(minutes=5))
    assert [e.id for e in first] == ["mission_help:m1"]
    assert [e.id for e in again] == [e.id for e in first]
