"""One round of an agent actor (agent-loop.md §3.2 steps 7–17).

The batch is already in the agent's processing list. Poison and assignments
of ended tasks are set aside first (:mod:`~tinytown.runtime.intake`). The
round classifies the rest, acknowledges informational messages and
confirmations without running the model, or builds the prompt, marks the
agent working (with the round's fencing token) and its current task running,
runs the model, ends whatever the model left running, and settles the batch:
acknowledged after a successful round; after a failed one the actionable
messages go back to the head of their queues (urgent ones to the urgent
queue), in order, and the task returns to ``assigned``. Settling and
counting the round are one atomic step, checked against the actor's
incarnation. A round whose actor is superseded is cancelled (its model
killed) and settles nothing: the new incarnation owns the batch.
"""

from __future__ import annotations

import errno
import os
from datetime import datetime
from typing import TYPE_CHECKING

import attrs
import trio

from tinytown.files import private_opener
from tinytown.models import Agent, AgentState, Task, TaskId, classify
from tinytown.models.fencing import ROUND_TOKEN_ENV, RoundToken
from tinytown.runtime.agentlog import prompt_path, round_log_path
from tinytown.runtime.containment import RUNTIME_PID_ENV, end_round_processes
from tinytown.runtime.delivery import InFlight
from tinytown.runtime.intake import Entry, take_in
from tinytown.runtime.launch_env import load_launch_env
from tinytown.runtime.model import ModelOutcome, build_model_command, run_model
from tinytown.runtime.policy import BatchAction, ExitReason, plan_batch
from tinytown.runtime.procfiles import model_marker, write_pid
from tinytown.runtime.prompt import (
    PromptContext,
    PromptItem,
    batch_messages,
    build_prompt,
    synthetic_backlog_query,
    tracked_task_id,
)
from tinytown.runtime.stalls import check_progress
from tinytown.services.backlog import snapshot_for_agent
from tinytown.town import utcnow

if TYPE_CHECKING:
    from tinytown.runtime.actor import AgentActor

_WORKING_FROM = (AgentState.STARTING, AgentState.IDLE, AgentState.WORKING)


@attrs.frozen
class RoundResult:
    """What a round did: ran the model or not, failed or not, ends the actor or not."""

    ran_model: bool = False
    failed: bool = False
    exit: ExitReason | None = None
    detail: str = ""
    temporary: bool = False
    """The failure was a lack of resources (too many open files): retry, never Error."""


async def run_round(actor: AgentActor, agent: Agent, batch: InFlight) -> RoundResult:
    """Handle one in-flight batch."""
    town = actor.ctx.town
    r = agent.rounds_completed + 1
    actor.log.line("")
    actor.log.line(f"📍 Round {r}/{actor.max_rounds}")
    intake = await take_in(actor.delivery, town.channel, batch, utcnow())
    if intake is None:
        return RoundResult(exit=ExitReason.SUPERSEDED)
    for dead in intake.dead:
        actor.log.line(f"   ☠️ Dead-lettered a message: {dead.reason}")
    if intake.dead:
        await actor.activity(f"Round {r}: ☠️ {len(intake.dead)} message(s) dead-lettered")
    if intake.dropped:
        actor.log.line(f"   ⏭️ Dropped {intake.dropped} assignment(s) of tasks already ended")
    entries = intake.entries
    rb = batch_messages(
        [e.message for e in entries if e.urgent], [e.message for e in entries if not e.urgent]
    )
    actor.log.line(
        f"   📬 batched: {len(rb.items)} actionable, {len(rb.info_summaries)} informational, "
        f"{rb.confirmation_total} confirmations"
    )
    snapshot = await snapshot_for_agent(town, agent.name)
    plan = plan_batch(r, len(rb.items), len(rb.info_summaries), rb.confirmation_total,
                      snapshot.matching, snapshot.total_backlog)
    now = utcnow()
    if plan.action is BatchAction.AUTO_HANDLE:
        actor.log.line(f"   {plan.note}")
        await actor.activity(plan.note)
        if await actor.delivery.settle(batch, count_round=False) is None:
            return RoundResult(exit=ExitReason.SUPERSEDED)
        await actor.delivery.update(AgentState.IDLE, only_from=_WORKING_FROM,
                                    last_active_at=now, last_heartbeat=now)
        return RoundResult()
    items = list(rb.items)
    if plan.action is BatchAction.NUDGE_BACKLOG:
        actor.log.line(
            f"   📋 No direct actionable messages; {snapshot.matching} backlog task(s) match "
            "this role, prompting claim review"
        )
        items.append(PromptItem(synthetic_backlog_query(actor.agent_id, agent.name,
                                                        snapshot.matching)))
    tasks = intake.tasks
    items = [attrs.evolve(i, task=tasks.get(i.task_id)) if i.task_id else i for i in items]
    tracked = tracked_task_id(items)
    if tracked is not None:
        await actor.delivery.update(current_task=tracked, last_heartbeat=now)
    current = await _current_task(actor, agent, tracked, tasks)
    text = build_prompt(PromptContext(
        town_name=town.name, agent_name=agent.name, round_no=r, max_rounds=actor.max_rounds,
        items=items, info_summaries=rb.info_summaries,
        confirmation_counts=rb.confirmation_counts, backlog=snapshot,
        current_task=current.id if current is not None else None,
    ))
    token = RoundToken(actor.agent_id, actor.delivery.incarnation, r)
    if await actor.delivery.update(AgentState.WORKING, only_from=_WORKING_FROM,
                                   last_active_at=now, last_heartbeat=now,
                                   round_token=str(token)) is None:
        return RoundResult(exit=ExitReason.SUPERSEDED)
    if current is not None and not current.is_terminal:
        if await actor.delivery.start_task(current.id, now) is None:
            return RoundResult(exit=ExitReason.SUPERSEDED)
        actor.started_task = current.id
    with trio.CancelScope() as scope:
        actor.round_scope = scope
        outcome = await _run_model(actor, agent, r, text, token)
    actor.round_scope = None
    if scope.cancelled_caught:
        actor.log.line(f"   🪦 Round {r} cancelled: this incarnation was superseded")
        return RoundResult(exit=ExitReason.SUPERSEDED)
    actionable = [e for e in entries if classify(e.message.kind).is_actionable]
    return await _finish_round(actor, batch, r, outcome, actionable)


async def _current_task(
    actor: AgentActor, agent: Agent, tracked: TaskId | None, tasks: dict[TaskId, Task]
) -> Task | None:
    """agent-loop.md §5.2, without scanning every task: the pointer, else the batch's only one."""
    pointer = tracked or agent.current_task
    if pointer is not None:
        return tasks.get(pointer) or await actor.ctx.town.channel.get_task(pointer)
    mine = [t for t in tasks.values() if t.assigned_to == actor.agent_id and not t.is_terminal]
    return mine[0] if len(mine) == 1 else None


_TEMPORARY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM})


async def _run_model(
    actor: AgentActor, agent: Agent, r: int, text: str, token: RoundToken
) -> ModelOutcome:
    ctx = actor.ctx
    cfg = ctx.config()
    prompt = prompt_path(ctx.root, agent.id)
    marker = model_marker(ctx.root, actor.agent_id)
    cmd = build_model_command(
        cfg, agent.cli or cfg.default_cli, ctx.root, prompt, ctx.env,
        agent_id=actor.agent_id, agent_name=agent.name, python=ctx.python,
        launch=load_launch_env(ctx.root, actor.agent_id),
        marks={ROUND_TOKEN_ENV: str(token), RUNTIME_PID_ENV: str(os.getpid())},
    )
    actor.log.line(f"   🤖 Running {cmd.cli_name}...")
    try:
        _write_text(prompt, text)
        outcome = await run_model(
            cmd, prompt, round_log_path(ctx.root, agent.id, r),
            kill_grace_s=ctx.settings.kill_grace_s,
            on_started=lambda pid: write_pid(marker, pid),
        )
    except OSError as exc:
        if exc.errno in _TEMPORARY_ERRNOS:
            return ModelOutcome("deferred", detail=f"cannot prepare the round: {exc}")
        return ModelOutcome("not_started", detail=f"cannot prepare the round: {exc}")
    finally:
        # Nothing the round started outlives it, not even what left its process group.
        with trio.CancelScope(shield=True), trio.move_on_after(ctx.settings.kill_grace_s + 5):
            ended = await end_round_processes(str(token), ctx.settings.kill_grace_s)
            if ended:
                actor.log.line(f"   🧹 Ended {len(ended)} process(es) left by round {r}")
        marker.unlink(missing_ok=True)
        prompt.unlink(missing_ok=True)
    return outcome


def _write_text(path: os.PathLike[str], text: str) -> None:
    with open(path, "w", encoding="utf-8", opener=private_opener) as fh:
        fh.write(text)


async def _finish_round(
    actor: AgentActor, batch: InFlight, r: int, outcome: ModelOutcome, actionable: list[Entry]
) -> RoundResult:
    now = utcnow()
    delivery = actor.delivery
    if outcome.ok:
        actor.log.line(f"   ✅ Round {r} complete")
        await actor.activity(f"Round {r}: ✅ completed")
        retry = await check_progress(
            actor, r, [(e.raw, e.message.kind, e.urgent) for e in actionable])
        if retry.urgent or retry.normal:
            await revert_started_task(actor)
            await delivery.update(current_task=None)
        rounds = await delivery.settle(batch, list(retry.urgent), list(retry.normal),
                                       count_round=True)
        actor.started_task = None
        if rounds is None:
            return RoundResult(exit=ExitReason.SUPERSEDED)
        await _after_round(actor, now)
        actor.log.line(f"   📊 Rounds completed: {rounds}")
        return RoundResult(ran_model=True)
    if outcome.status == "deferred":
        actor.log.line(f"   ⏳ Out of resources, will retry: {outcome.detail}")
    elif outcome.status == "not_started":
        actor.log.line(f"   ❌ Failed to run CLI: {outcome.detail}")
        await actor.activity(f"Round {r}: ❌ failed: {outcome.detail}")
    else:
        actor.log.line(f"   ⚠️ CLI exited with error ({outcome.detail})")
        await actor.activity(f"Round {r}: ⚠️ CLI error ({outcome.detail})")
    actor.log.line(f"   ↩️ Re-queueing {len(actionable)} actionable message(s)")
    await revert_started_task(actor)
    await delivery.update(current_task=None)
    rounds = await delivery.settle(
        batch,
        [e.raw for e in actionable if e.urgent],
        [e.raw for e in actionable if not e.urgent],
        count_round=outcome.status not in ("not_started", "deferred"),
    )
    if rounds is None:
        return RoundResult(exit=ExitReason.SUPERSEDED)
    await delivery.update(AgentState.IDLE, only_from=(AgentState.WORKING,), last_heartbeat=now)
    if outcome.status == "not_started":
        return RoundResult(ran_model=False, failed=True, exit=ExitReason.MODEL_MISSING,
                           detail=outcome.detail)
    if outcome.status == "deferred":
        return RoundResult(ran_model=False, failed=True, temporary=True, detail=outcome.detail)
    return RoundResult(ran_model=True, failed=True, detail=outcome.detail)


async def _after_round(actor: AgentActor, now: datetime) -> None:
    """§3.2 step 17: drop a finished current task; back to idle unless a control state is set."""
    agent, _ = await actor.delivery.read()
    if agent is None:
        return
    if agent.current_task is not None:
        task = await actor.ctx.town.channel.get_task(agent.current_task)
        if task is None or task.is_terminal:
            await actor.delivery.update(current_task=None)
    await actor.delivery.update(
        AgentState.IDLE, only_from=(AgentState.WORKING,), last_active_at=now, last_heartbeat=now
    )


async def revert_started_task(actor: AgentActor) -> None:
    """The round's task goes back to ``assigned`` if it is still running."""
    tid = actor.started_task
    actor.started_task = None
    if tid is not None:
        await actor.delivery.revert_task(tid, utcnow())
