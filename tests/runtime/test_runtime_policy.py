"""Pure decisions of the runtime, with explicit times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tinytown.errors import ConfigError
from tinytown.models import AgentState
from tinytown.runtime.policy import (
    BatchAction,
    ExitReason,
    RestartPolicy,
    exit_reason,
    failed_round_backoff,
    idle_deadline,
    idle_timed_out,
    plan_batch,
)
from tinytown.runtime.settings import RuntimeSettings

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_stop_flag_wins_over_everything() -> None:
    for state in AgentState:
        assert exit_reason(state, True, 0, 10) is ExitReason.STOP_REQUESTED


def test_exit_reasons_without_a_flag() -> None:
    assert exit_reason(AgentState.IDLE, False, 3, 10) is None
    assert exit_reason(AgentState.PAUSED, False, 3, 10) is None
    assert exit_reason(AgentState.IDLE, False, 10, 10) is ExitReason.ROUNDS_EXHAUSTED
    assert exit_reason(AgentState.IDLE, False, 0, 0) is ExitReason.ROUNDS_EXHAUSTED
    assert exit_reason(AgentState.STOPPED, False, 0, 10) is ExitReason.ALREADY_TERMINAL
    assert exit_reason(AgentState.ERROR, False, 0, 10) is ExitReason.ALREADY_TERMINAL


def test_final_states() -> None:
    assert ExitReason.STOP_REQUESTED.final_state is AgentState.STOPPED
    assert ExitReason.IDLE_TIMEOUT.final_state is AgentState.STOPPED
    assert ExitReason.ROUNDS_EXHAUSTED.final_state is AgentState.STOPPED
    assert ExitReason.MODEL_MISSING.final_state is AgentState.ERROR
    assert ExitReason.TOO_MANY_FAILURES.final_state is AgentState.ERROR
    assert ExitReason.SUPERSEDED.final_state is None
    assert ExitReason.GONE.final_state is None
    assert ExitReason.ALREADY_TERMINAL.final_state is None


def test_plan_batch() -> None:
    assert plan_batch(1, 2, 0, 0, 0, 0).action is BatchAction.RUN_MODEL
    assert plan_batch(1, 1, 0, 0, 5, 9).action is BatchAction.RUN_MODEL
    assert plan_batch(1, 0, 1, 0, 2, 3).action is BatchAction.NUDGE_BACKLOG
    plan = plan_batch(4, 0, 2, 3, 0, 0)
    assert plan.action is BatchAction.AUTO_HANDLE
    assert plan.note == "Round 4: ⏭️ auto-handled 2 informational, 3 confirmations"
    plan = plan_batch(2, 0, 1, 0, 0, 7)
    assert plan.note == "Round 2: ⏭️ no direct work and 7 backlog task(s) did not match role hint"


def test_idle_timeout_counts_whole_seconds_and_is_blocked_by_a_task() -> None:
    assert not idle_timed_out(T0, T0 + timedelta(seconds=9.99), 10, False)
    assert idle_timed_out(T0, T0 + timedelta(seconds=10), 10, False)
    assert not idle_timed_out(T0, T0 + timedelta(hours=5), 10, True)
    assert not idle_timed_out(T0, T0 + timedelta(hours=5), 0, False)


def test_idle_deadline() -> None:
    now = T0 + timedelta(seconds=4)
    assert idle_deadline(T0, now, 10, False) == T0 + timedelta(seconds=10)
    assert idle_deadline(T0, now, 0, False) is None
    assert idle_deadline(T0, now, 10, True) == now + timedelta(seconds=10)
    late = T0 + timedelta(seconds=30)
    assert idle_deadline(T0, late, 10, False) == late


def test_failed_round_backoff_doubles_up_to_a_cap() -> None:
    assert [failed_round_backoff(n, 2.0, 60.0) for n in range(8)] == [
        0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0,
    ]


def test_restart_policy_backs_off_then_gives_up() -> None:
    policy = RestartPolicy(base_s=1.0, cap_s=5.0, budget=3, window_s=100.0)
    delays = [policy.on_crash(t) for t in (0.0, 1.0, 3.0)]
    assert [(d.restart, d.delay_s, d.crashes_in_window) for d in delays] == [
        (True, 1.0, 1), (True, 2.0, 2), (True, 4.0, 3),
    ]
    last = policy.on_crash(7.0)
    assert (last.restart, last.crashes_in_window) == (False, 4)


def test_restart_policy_forgets_old_crashes() -> None:
    policy = RestartPolicy(base_s=1.0, cap_s=3.0, budget=2, window_s=10.0)
    assert policy.on_crash(0.0).restart
    assert policy.on_crash(5.0).delay_s == 2.0
    later = policy.on_crash(12.0)  # the crash at 0 s left the window
    assert (later.restart, later.delay_s, later.crashes_in_window) == (True, 2.0, 2)
    assert policy.on_crash(100.0).delay_s == 1.0
    assert policy.on_crash(100.5).delay_s == 2.0
    assert not policy.on_crash(101.0).restart  # a third crash in 10 s: budget 2 spent


def test_settings_from_env() -> None:
    s = RuntimeSettings.from_env({"TINYTOWN_HEARTBEAT_S": "0.5", "TINYTOWN_MAX_FAILED_ROUNDS": "7"})
    assert (s.heartbeat_s, s.max_failed_rounds, s.kill_grace_s) == (0.5, 7, 3.0)
    with pytest.raises(ConfigError, match="TINYTOWN_HEARTBEAT_S must be a number"):
        RuntimeSettings.from_env({"TINYTOWN_HEARTBEAT_S": "fast"})
    with pytest.raises(ConfigError, match="must be positive"):
        RuntimeSettings.from_env({"TINYTOWN_RESTART_BUDGET": "0"})
    with pytest.raises(ConfigError, match="must be a number"):
        RuntimeSettings.from_env({"TINYTOWN_RESTART_BUDGET": "1.5"})
