"""``tt recover`` and ``tt reclaim``: agents whose runtime died, and the work they held.

Outputs as the book shows them (cli.md §6). ``tt reclaim`` without a
destination is a preview that changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import Parameter

from tinytown.cli.output import emit_json, say, usage_error

if TYPE_CHECKING:
    from tinytown.services.orphan_tasks import OrphanAction, OrphanTask
    from tinytown.services.reclaim import DeadInbox, Moved, QueuedItem
    from tinytown.town import Town

JsonFlag = Annotated[bool, Parameter(name="--json", negative=())]
Flag = Annotated[bool, Parameter(negative=())]

DEFAULT_THRESHOLD_S = 120.0  # mirrors tinytown.services.recovery.ORPHAN_THRESHOLD_S (lazy import)
SUMMARY_LEN = 60


def format_silence(seconds: float) -> str:
    """Pure: how long ago, as the book prints it: ``2h 5m``, ``5m`` or ``42s``."""
    s = max(int(seconds), 0)
    if s >= 3600:
        return f"{s // 3600}h {s // 60 % 60}m"
    if s >= 60:
        return f"{s // 60}m"
    return f"{s}s"


def recover(*, threshold: float = DEFAULT_THRESHOLD_S, json: JsonFlag = False) -> None:
    """Find agents whose runtime died and mark them Stopped.

    An agent is orphaned when it is not Stopped, Error or Cold and its runtime
    has not refreshed its heartbeat for more than --threshold seconds. A live
    agent in a long model run keeps its heartbeat fresh and is never touched.
    Messages a recovered agent had taken but not finished go back to its inbox.
    If the town's runtime on this host is not running, it says so (agents not yet
    silent for --threshold seconds wait for it: 'tt start --detach' resumes them).

    Parameters
    ----------
    threshold : float
        Seconds without a heartbeat after which an agent counts as orphaned.
    json : bool
        Print one JSON document with the recovered agents instead of text.
    """
    from tinytown.cli.display import agent_doc
    from tinytown.cli.notices import runtime_lines, strand_doc
    from tinytown.cli.runner import run_town
    from tinytown.runtime.strands import runtime_health
    from tinytown.services.recovery import RECOVER_ACTIVITY_CLI, check_threshold
    from tinytown.services.recovery import recover as recover_agents

    check = _validated(check_threshold, threshold)

    async def body(town: Town) -> None:
        from tinytown.runtime.containment import end_orphans
        from tinytown.runtime.settings import RuntimeSettings

        report = await recover_agents(town, threshold_s=check, activity=RECOVER_ACTIVITY_CLI)
        ended = await end_orphans(town.root, RuntimeSettings.from_env().kill_grace_s)
        # Agents not silent long enough to recover may still wait for a dead runtime: say so.
        health = await runtime_health(town, await town.channel.list_agents())
        if json:
            emit_json(
                {
                    **strand_doc([], health),
                    "checked": report.checked,
                    "recovered": [
                        {**agent_doc(o.agent), "silent_s": round(o.silent_s, 3)}
                        for o in report.recovered
                    ],
                    "requeued_messages": report.requeued,
                    "ended_processes": len(ended),
                }
            )
            return
        say("🔍 Scanning for orphaned agents...")
        for o in report.recovered:
            say(
                f"   🔄 Recovered '{o.agent.name}' ({o.agent.state.label}) - "
                f"last heartbeat {format_silence(o.silent_s)} ago"
            )
        if report.requeued:
            say(f"   ↩️  Returned {report.requeued} unfinished message(s) to their inboxes")
        if ended:
            say(f"   🧹 Ended {len(ended)} model process(es) left by a dead runtime")
        say()
        down = runtime_lines(health)
        if not report.recovered:
            say(f"✨ No orphaned agents found ({report.checked} agents checked)")
            for line in down:
                say(line)
            return
        for line in down:
            say(line)
        say(
            f"✨ Recovered {len(report.recovered)} orphaned agent(s) "
            f"({report.checked} total checked)"
        )
        say("   Run 'tt prune' to remove them from Redis")

    run_town(body)


def _validated(check: Any, value: float) -> float:
    from tinytown.cli.runner import fail
    from tinytown.errors import TinytownError

    try:
        result: float = check(value)
    except TinytownError as exc:
        fail(exc)
    return result


def reclaim(
    *,
    to_backlog: Flag = False,
    to: str | None = None,
    from_agent: Annotated[str | None, Parameter(name=["--from", "--from-agent"])] = None,
    orphan_tasks: Flag = False,
    cancel: Flag = False,
    delete: Flag = False,
    json: JsonFlag = False,
) -> None:
    """Move work held by dead agents (Stopped, Error, Cold) to the backlog or another agent.

    Without --to-backlog or --to, lists what would be reclaimed and changes nothing.
    By default the queued messages of dead agents are reclaimed; with
    --orphan-tasks, live tasks assigned to missing or dead agents instead.

    Parameters
    ----------
    to_backlog : bool
        Move the reclaimed tasks to the backlog.
    to : str, optional
        Move the reclaimed work to this agent (name, short id or full id).
    from_agent : str, optional
        Only reclaim from the dead agent with this exact name.
    orphan_tasks : bool
        Scan the task records instead of dead inboxes.
    cancel : bool
        With --orphan-tasks: cancel the orphan tasks.
    delete : bool
        With --orphan-tasks: delete the orphan tasks.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.runner import run_town

    if to_backlog and to is not None:
        usage_error("--to-backlog and --to cannot be used together")
    if (cancel or delete) and not orphan_tasks:
        usage_error("--cancel and --delete need --orphan-tasks")
    if sum([cancel, delete, to_backlog or to is not None]) > 1:
        usage_error("choose one of --to-backlog, --to, --cancel and --delete")

    async def body(town: Town) -> None:
        if orphan_tasks:
            await _orphan_tasks(
                town,
                to_backlog=to_backlog,
                to=to,
                from_name=from_agent,
                cancel=cancel,
                delete=delete,
                json=json,
            )
        else:
            await _inboxes(town, to_backlog=to_backlog, to=to, from_name=from_agent, json=json)

    run_town(body)


# --- inbox mode ---------------------------------------------------------------------------


async def _inboxes(
    town: Town, *, to_backlog: bool, to: str | None, from_name: str | None, json: bool
) -> None:
    from tinytown.services.reclaim import (
        live_target,
        reclaim_to_agent,
        reclaim_to_backlog,
        scan_dead_inboxes,
    )

    dead = await scan_dead_inboxes(town, from_name)
    target = await live_target(town, to) if to is not None else None
    boxes = [b for b in dead if b.message_count]
    moves: list[list[Moved]] | None = None
    if to_backlog:
        moves = await reclaim_to_backlog(town, boxes)
    elif target is not None:
        moves = await reclaim_to_agent(town, boxes, target)
    action = "backlog" if to_backlog else "agent" if target is not None else "preview"
    if json:
        emit_json(_inbox_doc(dead, boxes, moves, action, to))
        return
    if not dead:
        say("✨ No dead agents found with tasks to reclaim")
        return
    say("🔄 Reclaiming orphaned tasks...")
    count = 0
    for i, box in enumerate(boxes):
        say(f"   {box.agent.name} ({box.agent.state.label}): {box.message_count} message(s)")
        if moves is None:
            for item in box.tasks:
                say(f"      task: {_shown(item)}")
                count += 1
            continue
        for m in moves[i]:
            dest = "backlog" if to_backlog else to
            shown = str(m.task_id) if m.task_id is not None else _shown(m.item)
            if m.ended:
                say(f"      ✔️  already ended, stale message dropped: {shown}")
            elif m.done:
                say(f"      → {dest}: {shown}")
                count += 1
            else:
                say(f"      ⚠️  no longer queued, skipped: {_shown(m.item)}")
    say()
    if count == 0:
        say("📋 No tasks found in dead agent inboxes")
    elif to_backlog:
        say(f"✅ Moved {count} task(s) to backlog")
    elif to is not None:
        say(f"✅ Moved {count} task(s) to '{to}'")
    else:
        say(f"📋 Found {count} orphaned task(s)")
        say("   Use --to-backlog or --to <agent> to reclaim them")


def _shown(item: QueuedItem) -> str:
    from tinytown.models.text import truncate_summary

    if item.task_id is not None:
        return str(item.task_id)
    return truncate_summary(item.description or "", SUMMARY_LEN)


def _inbox_doc(
    dead: list[DeadInbox],
    boxes: list[DeadInbox],
    moves: list[list[Moved]] | None,
    action: str,
    to: str | None,
) -> dict[str, Any]:
    agents = []
    total = moved = 0
    for i, box in enumerate(boxes):
        tasks: list[dict[str, Any]] = []
        if moves is None:
            for item in box.tasks:
                tasks.append(_item_doc(item))
        else:
            for m in moves[i]:
                doc = _item_doc(m.item)
                doc["moved"] = m.moved
                doc["ended"] = m.ended
                if action == "backlog":
                    doc["backlog_task_id"] = str(m.task_id)
                tasks.append(doc)
                moved += m.moved
        total += len(tasks)
        agents.append(
            {
                "id": str(box.agent.id),
                "name": box.agent.name,
                "state": box.agent.state.value,
                "messages": box.message_count,
                "tasks": tasks,
            }
        )
    return {
        "mode": "inbox",
        "action": action,
        "to": to,
        "dead_agents": len(dead),
        "agents": agents,
        "tasks": total,
        "moved": moved,
    }


def _item_doc(item: QueuedItem) -> dict[str, Any]:
    return {
        "kind": item.message.kind.TAG,
        "queue": "urgent" if item.urgent else "inbox",
        "message_id": str(item.message.id),
        "task_id": None if item.task_id is None else str(item.task_id),
        "description": item.description,
    }


# --- orphan-task mode ---------------------------------------------------------------------


async def _orphan_tasks(
    town: Town,
    *,
    to_backlog: bool,
    to: str | None,
    from_name: str | None,
    cancel: bool,
    delete: bool,
    json: bool,
) -> None:
    from tinytown.services.orphan_tasks import (
        OrphanAction,
        act_on_orphan_tasks,
        scan_orphan_tasks,
    )

    orphans = await scan_orphan_tasks(town, from_name)
    action: OrphanAction | None = None
    target = None
    if to_backlog:
        action = OrphanAction.BACKLOG
    elif cancel:
        action = OrphanAction.CANCEL
    elif delete:
        action = OrphanAction.DELETE
    elif to is not None:
        action = OrphanAction.ASSIGN
        target, _ = await town.resolve(to)
    done = await act_on_orphan_tasks(town, orphans, action, target=target) if action else []
    if json:
        emit_json(
            {
                "mode": "orphan_tasks",
                "action": action.value if action else "preview",
                "to": to,
                "orphans": [_orphan_doc(o) for o in orphans],
                "done": [str(o.task.id) for o in done],
            }
        )
        return
    if not orphans:
        say("✨ No orphan tasks found")
        return
    say(f"🔎 Found {len(orphans)} orphan task(s):")
    for o in orphans:
        say(
            f"   task {o.task.id} (state={o.task.state.label}) → "
            f"{o.task.assigned_to} [{o.reason.value}]"
        )
    say()
    _orphan_trailer(action, len(done), to)


def _orphan_trailer(action: OrphanAction | None, n: int, to: str | None) -> None:
    from tinytown.services.orphan_tasks import OrphanAction

    if action is None:
        say("   Use --to-backlog, --to <agent>, --cancel, or --delete to act on them")
    elif action is OrphanAction.BACKLOG:
        say(f"✅ Requeued {n} task(s) to backlog")
    elif action is OrphanAction.CANCEL:
        say(f"✅ Cancelled {n} task(s)")
    elif action is OrphanAction.DELETE:
        say(f"✅ Deleted {n} task(s)")
    else:
        say(f"✅ Assigned {n} task(s) to '{to}'")


def _orphan_doc(o: OrphanTask) -> dict[str, Any]:
    from tinytown.cli.display import task_doc

    return {
        "task": task_doc(o.task),
        "reason": o.reason.value,
        "assignee": None if o.assignee is None else o.assignee.name,
    }
