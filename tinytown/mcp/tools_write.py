"""The write group of tools (mcp.md §3.2), except missions: tasks, messages, backlog.

``task.complete`` is the very service ``tt task complete`` uses, so whatever
completing a task implies (the assignee's counter, the backlog, a mission's
submission) happens the same way from MCP.
"""

from __future__ import annotations

from typing import Any

from tinytown.mcp.args import Args, opt, req
from tinytown.mcp.spec import WRITE, ToolSpec, tool
from tinytown.mcp.tools_read import AGENT_ARG
from tinytown.mcp.views import agent_ref_name
from tinytown.services import backlog as backlog_svc
from tinytown.services import messages as message_svc
from tinytown.services import tasks as task_svc
from tinytown.services.tasks import Assignment
from tinytown.town import Town

_KINDS = ("task", "query", "info", "ack")


def _assignment(a: Assignment) -> dict[str, Any]:
    return {
        "task_id": str(a.task.id),
        "agent_id": str(a.agent_id),
        "agent_name": agent_ref_name(a.agent),
    }


@tool(
    "task.assign",
    "Create a task and assign it to an agent",
    WRITE,
    AGENT_ARG,
    req("description", "string", "What the agent should do"),
)
async def assign(town: Town, args: Args) -> Any:
    return _assignment(await task_svc.assign(town, args.text("agent"), args.text("description")))


@tool(
    "task.complete",
    "Mark a task as completed (as `tt task complete`)",
    WRITE,
    req("task_id", "string", "The task's UUID (or a unique short id)"),
    opt("result", "string", "What was done (default: Completed)"),
)
async def complete(town: Town, args: Args) -> Any:
    result = args.opt_text("result") or task_svc.DEFAULT_RESULT
    done = await task_svc.complete(town, args.text("task_id"), result)
    return {
        "task_id": str(done.task.id),
        "description": done.task.description,
        "result": done.task.result,
        "status": "completed",
        "cleared_current_task": done.cleared_current,
        "tasks_completed": done.tasks_completed,
    }


@tool(
    "message.send",
    "Send a message to an agent (kind: task, query, info or ack)",
    WRITE,
    req("to", "string", "The recipient (agent reference or 'supervisor')"),
    req("message", "string", "The text"),
    opt("from", "string", "The sender (agent reference or UUID; default: supervisor)"),
    opt("kind", "string", "task (default), query, info or ack", default="task"),
    opt("urgent", "boolean", "Use the urgent queue", default=False),
)
async def send(town: Town, args: Args) -> Any:
    kind = (args.opt_text("kind") or "task").strip().lower()
    kind = kind if kind in _KINDS else "task"
    sent = await message_svc.send(
        town,
        args.text("to"),
        args.text("message"),
        query=kind == "query",
        info=kind == "info",
        ack=kind == "ack",
        urgent=args.flag("urgent"),
        from_ref=args.opt_text("from"),
    )
    return {
        "message_id": str(sent.message.id),
        "to_agent": str(sent.message.to),
        "urgent": sent.urgent,
    }


@tool(
    "backlog.add",
    "Add a task to the backlog",
    WRITE,
    req("description", "string", "What needs doing"),
    opt("tags", "string[]", "Tags for role matching"),
)
async def backlog_add(town: Town, args: Args) -> Any:
    task = await backlog_svc.add(town, args.text("description"), args.texts("tags"))
    return {"task_id": str(task.id), "description": task.description}


@tool(
    "backlog.claim",
    "Assign one backlog task to an agent",
    WRITE,
    req("task_id", "string", "The backlog task's UUID"),
    AGENT_ARG,
)
async def backlog_claim(town: Town, args: Args) -> Any:
    return _assignment(await backlog_svc.claim(town, args.text("task_id"), args.text("agent")))


@tool(
    "backlog.assign_all",
    "Assign every backlog task to one agent",
    WRITE,
    AGENT_ARG,
)
async def backlog_assign_all(town: Town, args: Args) -> Any:
    ref = args.text("agent")
    aid, agent = await town.resolve(ref)
    tasks = await backlog_svc.assign_all(town, str(aid) if agent is not None else ref)
    name = agent_ref_name(agent)
    return [{"task_id": str(t.id), "agent_id": str(aid), "agent_name": name} for t in tasks]


@tool(
    "backlog.remove",
    "Remove a task from the backlog and delete it",
    WRITE,
    req("task_id", "string", "The backlog task's UUID"),
)
async def backlog_remove(town: Town, args: Args) -> Any:
    tid = await backlog_svc.remove(town, args.text("task_id"))
    return {"task_id": str(tid), "removed": True}


WRITE_TOOLS: tuple[ToolSpec, ...] = (
    assign,
    complete,
    send,
    backlog_add,
    backlog_claim,
    backlog_assign_all,
    backlog_remove,
)
