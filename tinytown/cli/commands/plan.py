"""``tt plan`` and ``tt sync``: the ``tasks.toml`` plan file and its sync with Redis.

``tt plan`` never connects to Redis. ``tt sync push`` creates the plan's
tasks that Redis does not have yet; ``tt sync pull`` writes the current
state of the plan's tasks back into the file (cli.md §7.2–7.3, config.md §7).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from cyclopts import Parameter

from tinytown.cli.context import OPTIONS
from tinytown.cli.output import emit_json, say, warn

if TYPE_CHECKING:
    from tinytown.services.plan import PushReport
    from tinytown.services.plan_file import Plan, PlanEntry
    from tinytown.town import Town

JsonFlag = Annotated[bool, Parameter(name="--json", negative=())]
Flag = Annotated[bool, Parameter(negative=())]
InitFlag = Annotated[bool, Parameter(name=["--init", "-i"], negative=())]


def _shown_path() -> str:
    """The plan path as the user typed the town: ``./tasks.toml``."""
    from tinytown.services.plan_file import PLAN_FILE

    return os.path.join(OPTIONS.town, PLAN_FILE)


def _warn_notes(notes: tuple[str, ...]) -> None:
    for note in notes:
        warn(f"⚠️  {note}")


def entry_doc(entry: PlanEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "description": entry.description,
        "agent": entry.agent,
        "status": entry.status,
        "tags": list(entry.tags),
        "parent": entry.parent,
    }


def plan_doc(plan: Plan | None, path: str) -> dict[str, Any]:
    return {
        "path": path,
        "exists": plan is not None,
        "meta": None
        if plan is None
        else {
            "description": plan.meta.description,
            "default_agent": plan.meta.default_agent,
        },
        "tasks": [] if plan is None else [entry_doc(e) for e in plan.tasks],
    }


def plan(*, init: InitFlag = False, force: Flag = False, json: JsonFlag = False) -> None:
    """Show the task plan in tasks.toml, or write a starter plan with --init.

    Works offline: the plan is a file in the town directory, versioned with your
    code; 'tt sync push' sends it to Redis.

    Parameters
    ----------
    init : bool
        Write the template tasks.toml (refuses to overwrite an existing one).
    force : bool
        With --init: overwrite an existing tasks.toml.
    json : bool
        Print the plan as one JSON document instead of text.
    """
    from tinytown.cli.runner import fail
    from tinytown.errors import InvalidStateError, TinytownError
    from tinytown.services.plan_file import PLAN_FILE, read_plan, write_template

    path = Path(OPTIONS.town) / PLAN_FILE
    shown = _shown_path()
    try:
        if init:
            if not write_template(path, force=force):
                raise InvalidStateError(
                    f"{shown} already exists; use 'tt plan --init --force' to overwrite it"
                )
            if json:
                emit_json({"path": shown, "created": True})
            else:
                say("📝 Created tasks.toml - edit it to plan your work!")
            return
        current = read_plan(path)
    except TinytownError as exc:
        fail(exc)
    if current is not None:
        _warn_notes(current.notes)
    if json:
        emit_json(plan_doc(current, shown))
        return
    if current is None:
        say("No tasks.toml found. Run 'tt plan --init' first.")
        return
    from tinytown.cli.icons import plan_icon

    say(f"📋 Tasks in plan ({shown}):")
    for entry in current.tasks:
        lines = entry.description.splitlines()
        text = lines[0] if lines else ""
        say(f"  {plan_icon(entry.status)} [{entry.agent or 'unassigned'}] {entry.id} - {text}")
    if not current.tasks:
        say("  (no tasks)")


def sync(direction: Literal["push", "pull"] = "push", /, *, json: JsonFlag = False) -> None:
    """Sync tasks.toml with Redis.

    push (default) creates a task for every plan entry that Redis does not have
    yet, tagged plan:<id>; entries already pushed are left alone. An entry with
    'agent =' (or [meta] default_agent) naming an existing agent is assigned and
    delivered to it; the others go to the backlog. pull writes the current
    description, status, tags and agent of every task back into tasks.toml
    (plan tasks by id, ad-hoc tasks by task id), keeping the file's comments
    and unknown keys.

    Parameters
    ----------
    direction : {"push", "pull"}
        push: send tasks.toml to Redis; pull: save Redis tasks to tasks.toml.
    json : bool
        Print one JSON document with what was synced instead of text.
    """
    from tinytown.cli.runner import run_town

    async def body(town: Town) -> None:
        if direction == "push":
            await _push(town, json)
        else:
            await _pull(town, json)

    run_town(body)


async def _push(town: Town, json: bool) -> None:
    from tinytown.cli.notices import after_queueing
    from tinytown.services.plan import push

    report = await push(town)
    if json:
        emit_json(
            {
                "direction": "push",
                "created": [
                    {"plan_id": e.id, "task_id": str(t.id), "state": t.state.value,
                     "assigned_to": None if t.assigned_to is None else str(t.assigned_to),
                     "backlog": t.state.value == "pending"}
                    for e, t in report.created
                ],
                "unknown_agents": report.unknown_agents,
                "notes": list(report.notes),
                "skipped": [
                    {"plan_id": e.id, "task_id": str(t.id), "state": t.state.value}
                    for e, t in report.skipped
                ],
            }
        )
    else:
        _say_push(report)
    for agent_id in report.delivered:
        await after_queueing(town, await town.channel.get_agent(agent_id))


def _say_push(report: PushReport) -> None:
    _warn_notes(report.notes)
    say(f"⬆️  Pushed {len(report.created)} tasks from tasks.toml to Redis")
    for agent_id, name in report.delivered.items():
        n = sum(1 for _, t in report.assigned if t.assigned_to == agent_id)
        say(f"   📋 Assigned {n} task(s) to '{name}'")
    if report.backlogged:
        say(f"   📥 Put {len(report.backlogged)} task(s) in the backlog")
    if report.unknown_agents:
        warn(f"⚠️  No agent named {', '.join(report.unknown_agents)}: their tasks went to the "
             "backlog ('tt backlog claim <task> <agent>' once spawned)")
    if report.skipped:
        ids = ", ".join(e.id for e, _ in report.skipped)
        say(f"   Skipped {len(report.skipped)} already in Redis: {ids}")


async def _pull(town: Town, json: bool) -> None:
    from tinytown.services.plan import pull

    report = await pull(town)
    _warn_notes(report.plan.notes)
    if json:
        doc = plan_doc(report.plan, _shown_path())
        doc.update(
            direction="pull",
            updated=report.updated,
            added=report.added,
            created_template=report.created_template,
        )
        emit_json(doc)
        return
    say(f"⬇️  Pulled {report.count} tasks from Redis to tasks.toml")
    if report.created_template:
        say("   No plan tasks in Redis yet: wrote the tasks.toml template")
    elif report.added:
        say(f"   Added {len(report.added)} task(s) not yet in the file: {', '.join(report.added)}")
