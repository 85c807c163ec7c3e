"""``tt status``: the town overview (cli.md §5.4, in the book's layout)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import Parameter

from tinytown.cli.output import emit_json, say

if TYPE_CHECKING:
    from tinytown.services.messages import CategoryCounts
    from tinytown.services.status import AgentStatus, StatusReport, TaskGroup
    from tinytown.town import Town

STATE_ROWS = (
    ("pending", "⏳ Pending:   "),
    ("assigned", "📌 Assigned:  "),
    ("running", "🔄 Running:   "),
    ("completed", "✅ Completed: "),
    ("failed", "❌ Failed:    "),
    ("cancelled", "🚫 Cancelled: "),
)


def status(
    *,
    deep: Annotated[bool, Parameter(negative=())] = False,
    tasks: Annotated[bool, Parameter(negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> None:
    """Town overview: agents with their pending messages, and task totals.

    Ends with warnings when work will not run: the town's runtime on this host
    is not running, an agent with pending messages is Stopped, Error or
    Paused, or an agent stopped after its idle timeout.

    Parameters
    ----------
    deep : bool
        Also show rounds, uptime, running tasks, recent activity and agent logs.
    tasks : bool
        Also show tasks by state and by agent.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.notices import strand_doc, strand_lines
    from tinytown.cli.runner import run_town
    from tinytown.runtime.strands import IDLE_TIMEOUT_KEY, runtime_health, stopped_for_idleness
    from tinytown.services.status import status as gather
    from tinytown.town import utcnow

    async def body(town: Town) -> None:
        report = await gather(town, deep=deep, tasks=tasks)
        agents = [row.agent for row in report.agents]
        health = await runtime_health(town, agents)
        idle_stopped = await stopped_for_idleness(town, agents)
        pending = [(row.agent, row.length + row.urgent) for row in report.agents]
        if json:
            doc = report_doc(report, utcnow())
            doc.update(strand_doc(pending, health))
            for entry in doc["agents"]:
                entry["stopped_for_idleness"] = entry["id"] in idle_stopped
            emit_json(doc)
            return
        for line in render_status(report, utcnow(), deep=deep, tasks=tasks):
            say(line)
        for agent in report.agents:
            if str(agent.agent.id) in idle_stopped:
                say(f"💤 {agent.agent.name} stopped after its idle timeout "
                    f"({IDLE_TIMEOUT_KEY} in tinytown.toml); 'tt restart {agent.agent.name}'")
        for line in strand_lines(pending, health):
            say(line)

    run_town(body)


def breakdown(counts: CategoryCounts) -> str:
    return (
        f"(tasks: {counts.needs_action}, queries: {counts.query}, "
        f"informational: {counts.informational}, confirmations: {counts.confirmation})"
    )


def _pending(row: AgentStatus, word: str) -> str:
    text = f"{row.length} {word}"
    if row.length:
        text += f" {breakdown(row.counts)}"
        if row.sampled < row.length:
            text += f" (sampled first {row.sampled})"
    return text


def agent_lines(row: AgentStatus, now: datetime, *, deep: bool) -> list[str]:
    """One agent's lines: the book's ``name (State) - N messages pending (...)`` form."""
    from tinytown.cli.display import format_ago, format_duration, task_short
    from tinytown.models.text import cut, first_line

    a = row.agent
    urgent = f" 🚨 {row.urgent} urgent" if row.urgent else ""
    if not deep:
        lines = [f"   {a.name} ({a.state.label}) - {_pending(row, 'messages pending')}{urgent}"]
        if row.running:
            desc = cut(first_line(row.running[0].description), 47, over=50)
            lines.append(f"      └─ Working: {desc}")
        return lines
    child = " (child)" if a.parent_agent_id is not None else ""
    uptime = format_duration(now - a.created_at)
    lines = [
        f"   {a.name}{child} ({a.state.label}) - {_pending(row, 'pending')}{urgent}, "
        f"{a.rounds_completed} rounds, uptime {uptime}"
    ]
    for t in row.running:
        since = format_ago(now - (t.started_at or t.updated_at))
        desc = cut(first_line(t.description), 52)
        lines.append(f"      └─ 🔄 {task_short(t.id)}: {desc} (started {since})")
    lines += [f"      └─ {entry}" for entry in row.activity]
    if row.dead.count:
        latest = row.dead.latest[-1].reason if row.dead.latest else "unreadable"
        lines.append(f"      └─ ☠️ {row.dead.count} dead-lettered message(s) (set aside, never "
                     f"delivered); latest: {cut(latest, 60)}")
    return lines


def group_lines(group: TaskGroup) -> list[str]:
    from tinytown.cli.display import task_short
    from tinytown.cli.icons import TASK_STATES
    from tinytown.models.text import cut, first_line

    if group.agent_id is None:
        head = f"   (unassigned) ({group.total} tasks):"
    else:
        name = group.agent.name if group.agent is not None else group.agent_id.short
        if group.agent_id.is_supervisor:
            name = "supervisor"
        head = f"   {name} ({group.active} active, {group.done} done):"
    lines = [head]
    for t in group.tasks:
        desc = cut(first_line(t.description), 50)
        lines.append(f"      {TASK_STATES[t.state]} {task_short(t.id)} {desc}")
    if group.more:
        lines.append(f"      ... and {group.more} more task(s)")
    return lines


def render_status(report: StatusReport, now: datetime, *, deep: bool, tasks: bool) -> list[str]:
    """The text of ``tt status``."""
    lines = [
        f"🏘️  Town: {report.town}",
        f"📂 Root: {report.root}",
        f"📡 Redis: {report.redis}",
        f"🤖 Agents: {len(report.agents)}",
    ]
    for row in report.agents:
        lines += agent_lines(row, now, deep=deep)
    if report.terminal_agents:
        lines.append(
            f"   Note: {report.terminal_agents} terminal agent(s) are still listed. "
            "Run 'tt prune' to remove them from Redis."
        )
    c = report.tasks
    lines.append(
        f"📋 Tasks: {c.total} total ({c.pending} pending, {c.in_flight} in-flight, {c.done} done)"
    )
    if tasks:
        lines += ["", "📊 Task Breakdown by State:"]
        lines += [f"   {label}{getattr(c, field)}" for field, label in STATE_ROWS]
        lines += [f"   📋 Backlog:   {report.backlog}", "", "📋 Tasks by Agent:"]
        for group in report.groups:
            lines += group_lines(group)
    if deep:
        lines += ["", "📊 Stats: rounds completed, uptime since spawn"]
        lines += ["", "📜 Recent Agent Activity:"]
        for log in report.logs:
            lines += ["", f"--- {log.name} ---"]
            lines += [f"  {text}" for text in log.lines]
            if log.latest_round is not None and log.round_lines:
                lines += ["", f"  📋 Latest Round {log.latest_round} Activity:"]
                lines += [f"     {text}" for text in log.round_lines]
    return lines


def report_doc(report: StatusReport, now: datetime) -> dict[str, Any]:
    """``tt status --json``."""
    from tinytown.cli.display import task_doc

    c = report.tasks
    doc: dict[str, Any] = {
        "town": report.town,
        "root": str(report.root),
        "redis": report.redis,
        "agents": [
            {
                "id": str(r.agent.id),
                "name": r.agent.name,
                "nickname": r.agent.nickname,
                "label": r.agent.label,
                "role": r.agent.role,
                "state": r.agent.state.value,
                "inbox": r.length,
                "urgent": r.urgent,
                "sampled": r.sampled,
                "counts": r.counts.as_dict(),
                "rounds_completed": r.agent.rounds_completed,
                "tasks_completed": r.agent.tasks_completed,
                "uptime_s": int((now - r.agent.created_at).total_seconds()),
                "running": r.running_texts,
                "activity": r.activity,
            }
            for r in report.agents
        ],
        "tasks": {
            **{field: getattr(c, field) for field, _ in STATE_ROWS},
            "total": c.total,
            "in_flight": c.in_flight,
            "done": c.done,
        },
        "backlog": report.backlog,
        "terminal_agents": report.terminal_agents,
    }
    doc["groups"] = [
        {
            "agent_id": str(g.agent_id) if g.agent_id is not None else None,
            "name": g.agent.name if g.agent is not None else None,
            "active": g.active,
            "done": g.done,
            "total": g.total,
            "tasks": [task_doc(t) for t in g.tasks],
        }
        for g in report.groups
    ]
    doc["logs"] = [
        {"name": log.name, "lines": log.lines, "latest_round": log.latest_round,
         "round_lines": log.round_lines}
        for log in report.logs
    ]
    return doc
