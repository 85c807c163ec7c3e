"""``tt task complete|show|list|current`` (cli.md §5.5, outputs as the book shows them)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import App, Parameter

from tinytown.cli.commands.work import AGENT_ID_ENV, AGENT_NAME_ENV
from tinytown.cli.output import emit_json, one_line_error, say, usage_error

if TYPE_CHECKING:
    from tinytown.models import Agent, AgentId, Task
    from tinytown.services.tasks import Completion, TaskView
    from tinytown.town import Town

app = App(
    name="task",
    help="Task operations: complete, show, list, current.",
    help_format="plaintext",
    error_formatter=one_line_error,
)


@app.command
def complete(
    task_id: str,
    *more_ids: str,
    result: Annotated[
        list[str] | None, Parameter(negative=(), allow_leading_hyphen=True)
    ] = None,
    result_file: Annotated[str | None, Parameter(allow_leading_hyphen=True)] = None,
    results_json: Annotated[str | None, Parameter(allow_leading_hyphen=True)] = None,
) -> None:
    """Mark tasks as completed.

    Clears the assignee's current-task pointer if it points at the task and
    counts the completion once in the agent's stats. Several tasks can be
    completed in one command (an agent finishing its round): one --result for
    all, or one --result per task, in order. A task that cannot be completed
    is reported and the others are still completed; the exit status is then
    that of the first failure.

    Parameters
    ----------
    task_id : str
        The task's UUID.
    more_ids : str
        More task UUIDs to complete.
    result : list[str]
        What was done (a short summary); repeat it to give each task its own. '-' reads
        it from stdin, so it does not show in 'ps'.
    result_file : str
        Read the result (one for all the tasks) from this file instead.
    results_json : str
        Read one result per task, in order, as a JSON array of strings from this file
        ('-': stdin): an agent finishing its round keeps every result out of 'ps'.
    """
    from tinytown.cli.exitcodes import exit_code_for
    from tinytown.cli.output import error_line
    from tinytown.cli.runner import round_token_text, run_town
    from tinytown.cli.textarg import read_text
    from tinytown.errors import TinytownError
    from tinytown.models.fencing import RoundToken
    from tinytown.services import tasks

    ids = [task_id, *more_ids]
    if results_json is not None:
        if result or result_file is not None:
            usage_error("give the results with one of --result, --result-file, --results-json")
        results = _json_results(read_text(None, results_json, what="results",
                                          option="--results-json"))
    elif result_file is not None:
        if result:
            usage_error("give the result with --result or --result-file, not both")
        results = [read_text(None, result_file, what="result", option="--result-file")]
    else:
        given = result or [tasks.DEFAULT_RESULT]
        results = [read_text(r, None, what="result") if r == "-" else r for r in given]
    if len(results) == 1:
        results = results * len(ids)
    elif len(results) != len(ids):
        usage_error(f"{len(ids)} tasks but {len(results)} --result values: "
                    "give one for all, or one per task")
    failed: list[int] = []

    token = round_token_text()

    async def body(town: Town) -> None:
        fence = RoundToken.parse(token) if token else None
        for tid, text in zip(ids, results, strict=True):
            if len(ids) == 1:
                done = await tasks.complete(town, tid, text, fence=fence)
            else:
                try:
                    done = await tasks.complete(town, tid, text, fence=fence)
                except TinytownError as exc:
                    error_line(str(exc))
                    failed.append(exit_code_for(exc))
                    continue
            for line in render_completion(done):
                say(line)

    run_town(body)
    if failed:
        raise SystemExit(failed[0])


def _json_results(raw: str) -> list[str]:
    import json

    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        usage_error(f"--results-json is not JSON: {exc}")
    if not isinstance(parsed, list) or not parsed or not all(isinstance(x, str) for x in parsed):
        usage_error("--results-json must be a non-empty JSON array of strings")
    return parsed


def render_completion(done: Completion) -> list[str]:
    from tinytown.models.text import truncate_summary

    t = done.task
    head = (f"ℹ️ Task {t.id} had already ended ({t.state.value}): kept as it was"
            if done.was_terminal else f"✅ Task {t.id} marked as completed")
    lines = [
        head,
        f"   Description: {truncate_summary(t.description, 60)}",
        f"   Result: {truncate_summary(t.result or '', 60)}",
    ]
    if done.cleared_current:
        lines.append("   Cleared current assignment pointer for agent")
    if done.tasks_completed is not None:
        lines.append(f"   Agent tasks completed: {done.tasks_completed}")
    if done.was_terminal:
        lines.append("   (It had already ended: not counted again.)")
    return lines + mission_sync_lines(done)


def mission_sync_lines(done: Completion) -> list[str]:
    """What completing a mission task did to its work item (missions.md §6.3)."""
    if done.mission_error is not None:
        return [f"   ⚠️  Mission sync failed: {done.mission_error}"]
    sync = done.mission
    if sync is None:
        return []
    from tinytown.mission.submission import Outcome

    text = {
        Outcome.COMPLETED: "work item completed; scheduler promoted "
                           f"{sync.promoted} and assigned {sync.assigned}",
        Outcome.WAITING_FOR_REVIEW: "work item is waiting on reviewer approval",
        Outcome.WAITING_FOR_EXTERNAL: "work item is waiting on PR/CI/Bugbot/merge watches",
        Outcome.MISSION_NOT_FOUND: f"mission {sync.mission_id} no longer exists; skipping "
                                   "work item completion sync",
        Outcome.ITEM_NOT_FOUND: f"work item {sync.work_item_id} was not found in mission "
                                f"{sync.mission_id}; skipping completion sync",
    }.get(sync.outcome, sync.outcome.value)
    return [f"   Mission sync: {text}"]


def _assignee_name(agent_id: AgentId | None, agent: Agent | None) -> str | None:
    if agent_id is None:
        return None
    if agent is not None:
        return agent.name
    return "supervisor" if agent_id.is_supervisor else agent_id.short


@app.command
def show(task_id: str, *, json: Annotated[bool, Parameter(negative=())] = False) -> None:
    """Show one task in full.

    Parameters
    ----------
    task_id : str
        The task's UUID.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.display import task_doc
    from tinytown.cli.runner import run_town
    from tinytown.services import tasks

    async def body(town: Town) -> None:
        view = await tasks.show(town, task_id)
        if json:
            doc = task_doc(view.task)
            doc["assignee_name"] = _assignee_name(view.task.assigned_to, view.assignee)
            emit_json(doc)
        else:
            for line in render_show(view):
                say(line)

    run_town(body)


def render_show(view: TaskView) -> list[str]:
    """The book's ``tt task show`` layout."""
    from tinytown.cli.display import book_ts

    t = view.task
    lines = [f"📋 Task: {t.id}", f"   Description: {t.description}", f"   State: {t.state.label}"]
    who = _assignee_name(t.assigned_to, view.assignee)
    if who is not None:
        lines.append(f"   Assigned to: {who}")
    lines += [f"   Created: {book_ts(t.created_at)}", f"   Updated: {book_ts(t.updated_at)}"]
    if t.started_at is not None:
        lines.append(f"   Started: {book_ts(t.started_at)}")
    if t.completed_at is not None:
        lines.append(f"   Completed: {book_ts(t.completed_at)}")
    if t.result is not None:
        lines.append(f"   Result: {t.result}")
    if t.tags:
        lines.append(f"   Tags: {', '.join(t.tags)}")
    return lines


@app.command(name="list")
def list_tasks(
    *,
    state: str | None = None,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> None:
    """List tasks, optionally only those in one state.

    Parameters
    ----------
    state : str
        Only tasks in this state: pending, assigned, running, completed, failed, cancelled.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.display import task_doc, task_ref
    from tinytown.cli.icons import TASK_STATES
    from tinytown.cli.runner import run_town
    from tinytown.errors import InvalidInputError
    from tinytown.models.text import truncate_summary
    from tinytown.services import tasks

    wanted = None
    if state is not None:
        try:
            wanted = tasks.parse_state(state)
        except InvalidInputError as exc:
            usage_error(str(exc))

    async def body(town: Town) -> None:
        listing = await tasks.list_tasks(town, wanted)

        def who(t: Task) -> str | None:
            if t.assigned_to is None:
                return None
            agent = listing.agents.get(t.assigned_to)
            if agent is None:
                return "supervisor" if t.assigned_to.is_supervisor else None
            return agent.name

        if json:
            docs = []
            for t in listing.tasks:
                doc = task_doc(t)
                doc["assignee_name"] = who(t)
                docs.append(doc)
            filt = wanted.value if wanted else None
            emit_json({"count": len(docs), "state": filt, "tasks": docs})
            return
        if not listing.tasks:
            empty = "📋 No tasks found"
            say(empty if wanted is None else f"{empty} with state '{state}'")
            return
        say(f"📋 Tasks ({len(listing.tasks)}):")
        for t in listing.tasks:
            desc = truncate_summary(t.description, 50)
            say(f"   {TASK_STATES[t.state]} {task_ref(t.id)} - {desc} [{who(t) or 'unassigned'}]")

    run_town(body)


@app.command
def current(
    agent: str | None = None, *, json: Annotated[bool, Parameter(negative=())] = False
) -> None:
    """Show the task an agent is working on.

    Without AGENT, the agent of the calling loop (TINYTOWN_AGENT_ID or
    TINYTOWN_AGENT_NAME) is used.

    Parameters
    ----------
    agent : str
        Agent: name, nickname, short id or UUID.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.display import task_doc, task_short
    from tinytown.cli.runner import run_town
    from tinytown.services import tasks

    async def body(town: Town) -> None:
        found = await tasks.current(
            town,
            agent,
            env_agent_id=os.environ.get(AGENT_ID_ENV),
            env_agent_name=os.environ.get(AGENT_NAME_ENV),
        )
        name = _assignee_name(found.agent_id, found.agent) or str(found.agent_id)
        if json:
            doc: dict[str, Any] = {
                "agent_id": str(found.agent_id),
                "agent_name": name,
                "task": task_doc(found.task) if found.task is not None else None,
            }
            emit_json(doc)
            return
        t = found.task
        if t is None:
            say(f"📭 No current task tracked for '{name}'")
            return
        say(f"📋 Current task for '{name}': {task_short(t.id)} ({t.id})")
        say(f"   Description: {t.description}")
        say(f"   State: {t.state.label}")
        say(f'   Complete with: tt task complete {t.id} --result "what was done"')
        if t.tags:
            say(f"   Tags: {', '.join(t.tags)}")

    run_town(body)
