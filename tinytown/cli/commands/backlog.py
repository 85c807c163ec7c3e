"""``tt backlog add|list|claim|assign-all|remove``: unassigned work (cli.md §5.6)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

from tinytown.cli.output import emit_json, one_line_error, say

if TYPE_CHECKING:
    from tinytown.services.backlog import BacklogEntry
    from tinytown.town import Town

app = App(
    name="backlog",
    help="The unassigned-task backlog: add, list, claim, assign-all, remove.",
    help_format="plaintext",
    error_formatter=one_line_error,
)

DESCRIPTION_SHOWN = 60


@app.command
def add(
    description: Annotated[str | None, Parameter(allow_leading_hyphen=True)] = None,
    *,
    tags: str | None = None,
    file: str | None = None,
) -> None:
    """Add a task to the backlog without assigning it.

    Parameters
    ----------
    description : str
        Task description; '-' reads it from stdin, so it does not show in 'ps'.
    tags : str
        Comma-separated tags, e.g. backend,security (used for role-based claiming).
    file : str
        Read the task description from this file instead.
    """
    from tinytown.cli.runner import run_town
    from tinytown.cli.textarg import read_text
    from tinytown.services import backlog

    text = read_text(description, file, what="task description")

    async def body(town: Town) -> None:
        task = await backlog.add(town, text, backlog.parse_tags(tags))
        say(f"📋 Added task to backlog: {task.id}")
        say(f"   Description: {text}")

    run_town(body)


@app.command(name="list")
def list_backlog(*, json: Annotated[bool, Parameter(negative=())] = False) -> None:
    """List backlog tasks in queue order, with tags.

    Parameters
    ----------
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.display import task_doc
    from tinytown.cli.runner import run_town
    from tinytown.services import backlog

    async def body(town: Town) -> None:
        entries = await backlog.list_backlog(town)
        if json:
            emit_json(
                {
                    "count": len(entries),
                    "entries": [
                        {"task_id": str(e.task_id), "task": task_doc(e.task) if e.task else None}
                        for e in entries
                    ],
                }
            )
            return
        for line in render_backlog(entries):
            say(line)

    run_town(body)


def render_backlog(entries: list[BacklogEntry]) -> list[str]:
    from tinytown.cli.display import task_short
    from tinytown.models.text import cut, first_line

    if not entries:
        return ["📋 Backlog is empty"]
    lines = [f"📋 Backlog ({len(entries)} tasks):", ""]
    for e in entries:
        head = f"   {task_short(e.task_id)} ({e.task_id}) - "
        if e.task is None:
            lines.append(head + "(task not found)")
            continue
        tags = f" [{', '.join(e.task.tags)}]" if e.task.tags else ""
        lines.append(head + cut(first_line(e.task.description), DESCRIPTION_SHOWN) + tags)
    return lines


@app.command
def claim(task_id: str, agent: str) -> None:
    """Take a task out of the backlog and assign it to an agent.

    If the agent or the task is unknown, the backlog is left unchanged.

    Parameters
    ----------
    task_id : str
        The backlog task's UUID.
    agent : str
        Agent to assign it to: name, nickname, short id or UUID.
    """
    from tinytown.cli.runner import run_town
    from tinytown.services import backlog

    async def body(town: Town) -> None:
        done = await backlog.claim(town, task_id, agent)
        say(f"✅ Claimed task {done.task.id} and assigned to '{agent}'")

    run_town(body)


@app.command(name="assign-all")
def assign_all(agent: str) -> None:
    """Assign every backlog task to one agent.

    Parameters
    ----------
    agent : str
        Agent to assign them to: name, nickname, short id or UUID.
    """
    from tinytown.cli.runner import run_town
    from tinytown.services import backlog

    async def body(town: Town) -> None:
        assigned = await backlog.assign_all(town, agent)
        if not assigned:
            say("📋 Backlog is empty, no tasks to assign")
        else:
            say(f"✅ Assigned {len(assigned)} task(s) from backlog to '{agent}'")

    run_town(body)


@app.command
def remove(task_id: str) -> None:
    """Remove a task from the backlog and delete it.

    Parameters
    ----------
    task_id : str
        The backlog task's UUID.
    """
    from tinytown.cli.runner import run_town
    from tinytown.services import backlog

    async def body(town: Town) -> None:
        removed = await backlog.remove(town, task_id)
        say(f"✅ Removed task {removed} from backlog")

    run_town(body)
