"""Pure decisions of the runtime: no I/O, no clock (times are arguments).

* why an actor stops (:func:`exit_reason`) and what it writes then;
* what a round does with its batch (:func:`plan_batch`);
* the idle timeout (:func:`idle_deadline`, :func:`idle_timed_out`);
* the state after a round (:func:`state_after_round`);
* backoff after failed rounds (:func:`failed_round_backoff`);
* the actor restart policy (:class:`RestartPolicy`).
"""

from __future__ import annotations

import enum
from collections import deque
from datetime import datetime, timedelta

import attrs

from tinytown.models import AgentState


class ExitReason(enum.Enum):
    """Why an actor's loop ended; decides the agent's final state."""

    STOP_REQUESTED = "stop requested"
    ALREADY_TERMINAL = "agent is terminal"
    ROUNDS_EXHAUSTED = "round budget used"
    IDLE_TIMEOUT = "idle timeout"
    MODEL_MISSING = "model CLI could not be started"
    TOO_MANY_FAILURES = "model CLI failed repeatedly"
    SUPERSEDED = "another incarnation took over"
    GONE = "agent record deleted"

    @property
    def final_state(self) -> AgentState | None:
        """The state written at exit; ``None`` means write nothing."""
        if self in (ExitReason.SUPERSEDED, ExitReason.GONE, ExitReason.ALREADY_TERMINAL):
            return None
        if self in (ExitReason.MODEL_MISSING, ExitReason.TOO_MANY_FAILURES):
            return AgentState.ERROR
        return AgentState.STOPPED


def exit_reason(
    state: AgentState, stop_flag: bool, rounds_completed: int, max_rounds: int
) -> ExitReason | None:
    """Whether the loop must end before its next round (agent-loop.md §3.2 steps 1 and 3).

    The stop flag wins over everything (kill/close work while paused). A
    terminal state without a flag (``tt recover``, a flag that expired) also
    ends the loop, without rewriting the state.
    """
    if stop_flag:
        return ExitReason.STOP_REQUESTED
    if state.is_terminal:
        return ExitReason.ALREADY_TERMINAL
    if rounds_completed >= max_rounds:
        return ExitReason.ROUNDS_EXHAUSTED
    return None


# --- batches -----------------------------------------------------------------------------


class BatchAction(enum.Enum):
    RUN_MODEL = "run the model on the actionable items"
    NUDGE_BACKLOG = "run the model with a synthetic backlog query"
    AUTO_HANDLE = "acknowledge without a round"


@attrs.frozen
class BatchPlan:
    """What to do with one batch; ``note`` is the activity text of an auto-handled batch."""

    action: BatchAction
    note: str = ""


def plan_batch(
    round_no: int,
    actionable: int,
    informational: int,
    confirmations: int,
    backlog_matching: int,
    backlog_total: int,
) -> BatchPlan:
    """agent-loop.md §3.2 step 8: run, nudge to the backlog, or just acknowledge."""
    if actionable:
        return BatchPlan(BatchAction.RUN_MODEL)
    if backlog_matching:
        return BatchPlan(BatchAction.NUDGE_BACKLOG)
    if backlog_total:
        note = (
            f"Round {round_no}: ⏭️ no direct work and {backlog_total} backlog task(s) "
            "did not match role hint"
        )
    else:
        note = (
            f"Round {round_no}: ⏭️ auto-handled {informational} informational, "
            f"{confirmations} confirmations"
        )
    return BatchPlan(BatchAction.AUTO_HANDLE, note)


# --- idle timeout ------------------------------------------------------------------------

IDLE_TIMEOUT_ACTIVITY_PREFIX = "🔻 Idle timeout reached"
"""How the activity line of an agent stopped for idleness starts (``tt status`` looks for it)."""


def idle_timed_out(
    last_active_at: datetime, now: datetime, idle_timeout_s: int, has_current_task: bool
) -> bool:
    """Whole seconds since ``last_active_at`` reached the timeout (0 disables it)."""
    if idle_timeout_s <= 0 or has_current_task:
        return False
    return int((now - last_active_at).total_seconds()) >= idle_timeout_s


def idle_deadline(
    last_active_at: datetime, now: datetime, idle_timeout_s: int, has_current_task: bool
) -> datetime | None:
    """When an idle agent should next check its idle timeout; ``None``: never.

    While a live current task blocks the timeout, re-check one timeout period
    from now (the task may be completed meanwhile without anyone waking us).
    """
    if idle_timeout_s <= 0:
        return None
    period = timedelta(seconds=idle_timeout_s)
    if has_current_task:
        return now + period
    return max(last_active_at + period, now)


# --- failures and restarts ---------------------------------------------------------------


def failed_round_backoff(consecutive_failures: int, base_s: float, cap_s: float) -> float:
    """Pause after the n-th consecutive failed round: ``base · 2^(n-1)``, at most ``cap``."""
    if consecutive_failures <= 0:
        return 0.0
    return float(min(base_s * 2 ** (consecutive_failures - 1), cap_s))


@attrs.frozen
class RestartDecision:
    """``restart`` after ``delay_s`` seconds, or give up (budget spent)."""

    restart: bool
    delay_s: float
    crashes_in_window: int


@attrs.define
class RestartPolicy:
    """Exponential backoff with a restart budget per sliding window.

    Each crash at time ``now`` (seconds on any monotonic clock) is recorded;
    crashes older than ``window_s`` are forgotten. With ``n`` crashes in the
    window the actor restarts after ``base · 2^(n-1)`` seconds (capped),
    unless ``n`` exceeds ``budget``: then it gives up.
    """

    base_s: float = 1.0
    cap_s: float = 30.0
    budget: int = 5
    window_s: float = 300.0
    _crashes: deque[float] = attrs.field(factory=deque, init=False)

    def on_crash(self, now: float) -> RestartDecision:
        """Record a crash and decide."""
        self._crashes.append(now)
        while self._crashes and now - self._crashes[0] > self.window_s:
            self._crashes.popleft()
        n = len(self._crashes)
        if n > self.budget:
            return RestartDecision(False, 0.0, n)
        delay = min(self.base_s * 2 ** (n - 1), self.cap_s)
        return RestartDecision(True, float(delay), n)
