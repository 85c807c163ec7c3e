"""``tt inbox`` and its alias ``tt tasks``: pending messages (cli.md §5.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from cyclopts import Parameter

from tinytown.cli.output import emit_json, say

if TYPE_CHECKING:
    from tinytown.services.inbox import AllInboxes, InboxSection, InboxView
    from tinytown.services.messages import CategoryCounts
    from tinytown.town import Town

PREVIEW_LEN = 120
BULLET_LEN = 90
SUPERVISOR_HEADING = "supervisor/conductor (well-known mailbox)"
NO_AGENTS = "No agents. Run 'tt spawn <name>' to create one."
USAGE_LINES = (
    "Usage: tt inbox <AGENT> or tt inbox --all",
    "  tt inbox <agent>  - Show inbox for a specific agent",
    "  tt inbox --all    - Show pending messages for all agents",
)


def inbox(
    agent: str | None = None,
    *,
    all: Annotated[bool, Parameter(name=["--all", "-a"], negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> None:
    """Show an agent's pending messages, or every agent's with --all.

    Messages are counted as [T] tasks requiring action, [Q] queries, [I]
    informational and [C] confirmations. The urgent queue is counted apart.
    Warnings follow when the pending work will not run (the town's runtime is
    down, or the agent is Stopped, Error or Paused).

    Parameters
    ----------
    agent : str
        Agent to show: name, nickname, short id or UUID ('conductor' for the supervisor mailbox).
    all : bool
        Show pending messages for all agents and the supervisor mailbox.
    json : bool
        Print one JSON document instead of text.
    """
    if all:
        _show_all(json)
    elif agent is not None:
        _show_one(agent, json)
    else:
        for line in USAGE_LINES:
            say(line)


def tasks(*, json: Annotated[bool, Parameter(negative=())] = False) -> None:
    """Pending work of every agent: an alias of 'tt inbox --all'.

    Parameters
    ----------
    json : bool
        Print one JSON document instead of text.
    """
    _show_all(json)


# --- one agent -----------------------------------------------------------------------------


def _show_one(ref: str, as_json: bool) -> None:
    from tinytown.cli.notices import strand_doc, strand_lines
    from tinytown.cli.runner import run_town
    from tinytown.runtime.strands import runtime_health
    from tinytown.services.inbox import inbox as read_inbox

    async def body(town: Town) -> None:
        view = await read_inbox(town, ref)
        agents = [view.agent] if view.agent is not None else []
        health = await runtime_health(town, agents)
        pending = [(a, view.length + view.urgent) for a in agents]
        if as_json:
            emit_json({**_view_doc(view), **strand_doc(pending, health)})
            return
        for line in [*render_inbox(ref, view), *strand_lines(pending, health)]:
            say(line)

    run_town(body)


def count_lines(counts: CategoryCounts, indent: str) -> list[str]:
    return [
        f"{indent}[T] {counts.needs_action} tasks requiring action",
        f"{indent}[Q] {counts.query} queries awaiting response",
        f"{indent}[I] {counts.informational} informational",
        f"{indent}[C] {counts.confirmation} confirmations",
    ]


def render_inbox(ref: str, view: InboxView) -> list[str]:
    """The text of ``tt inbox <AGENT>``."""
    from tinytown.models.text import truncate_summary

    display = ref
    if view.is_supervisor:
        display = f"{ref} (well-known supervisor/conductor mailbox)"
    lines = [f"📬 Inbox for '{display}': {view.length} messages"]
    if view.length > 0:
        lines += count_lines(view.counts, "   ")
    if view.urgent:
        lines.append(f"   🚨 {view.urgent} urgent message(s), read before the inbox")
    if view.previews:
        lines.append("")
        for p in view.previews:
            lines.append(f"   {p.category.prefix} {truncate_summary(p.summary, PREVIEW_LEN)}")
        if view.length > len(view.previews):
            lines.append(f"   …plus {view.length - len(view.previews)} more message(s)")
    if view.dead.count:
        lines.append(f"   ☠️ {view.dead.count} dead-lettered message(s), set aside and never "
                     "delivered:")
        for d in reversed(view.dead.latest):
            lines.append(f"      - {truncate_summary(d.reason, PREVIEW_LEN)} "
                         f"({d.size} bytes, {d.at:%Y-%m-%d %H:%M:%S}Z)")
    return lines


def _view_doc(view: InboxView) -> dict[str, Any]:
    from tinytown.cli.display import agent_doc
    from tinytown.codec import message_to_dict

    return {
        "agent_id": str(view.agent_id),
        "agent": agent_doc(view.agent) if view.agent is not None else None,
        "supervisor": view.is_supervisor,
        "length": view.length,
        "urgent": view.urgent,
        "sampled": view.sampled,
        "counts": view.counts.as_dict(),
        "previews": [
            {"category": p.category.prefix, "summary": p.summary,
             "message": message_to_dict(p.message)}
            for p in view.previews
        ],
        "dead_letters": view.dead.count,
        "latest_dead_letters": [
            {"reason": d.reason, "at": d.at.isoformat(), "bytes": d.size}
            for d in reversed(view.dead.latest)
        ],
    }


# --- every agent -----------------------------------------------------------------------------


def _show_all(as_json: bool) -> None:
    from tinytown.cli.notices import strand_doc, strand_lines
    from tinytown.cli.runner import run_town
    from tinytown.runtime.strands import runtime_health
    from tinytown.services.inbox import inbox_all

    async def body(town: Town) -> None:
        everything = await inbox_all(town)
        health = await runtime_health(town, await town.channel.list_agents())
        pending = [(s.agent, s.length + s.urgent) for s in everything.sections
                   if s.agent is not None]
        if as_json:
            emit_json({**_all_doc(everything), **strand_doc(pending, health)})
            return
        for line in [*render_all(everything), *strand_lines(pending, health)]:
            say(line)

    run_town(body)


def _heading(section: InboxSection) -> str:
    if section.agent is None:
        return SUPERVISOR_HEADING
    return f"{section.agent.name} ({section.agent.state.label})"


def render_all(everything: AllInboxes) -> list[str]:
    """The text of ``tt inbox --all`` (the book's layout)."""
    from tinytown.models.text import truncate_summary

    if everything.nothing_at_all:
        return [NO_AGENTS]
    lines = ["📋 Pending Messages by Agent:", ""]
    for s in everything.sections:
        lines.append(f"  {_heading(s)}:")
        lines += count_lines(s.counts, "    ")
        if s.urgent:
            lines.append(f"    🚨 {s.urgent} urgent message(s)")
        lines += [f"    • {truncate_summary(b, BULLET_LEN)}" for b in s.bullets]
        if s.more:
            lines.append(f"    …plus {s.more} more")
        lines.append("")
    if not everything.sections:
        lines.append("  (no pending messages)")
    else:
        lines.append(f"Total: {everything.total_actionable} actionable message(s)")
    return lines


def _all_doc(everything: AllInboxes) -> dict[str, Any]:
    return {
        "agents": everything.agent_count,
        "total_actionable": everything.total_actionable,
        "sections": [
            {
                "agent_id": str(s.agent_id),
                "name": s.agent.name if s.agent is not None else "supervisor",
                "state": s.agent.state.value if s.agent is not None else None,
                "length": s.length,
                "urgent": s.urgent,
                "sampled": s.sampled,
                "counts": s.counts.as_dict(),
                "bullets": s.bullets,
                "more": s.more,
            }
            for s in everything.sections
        ],
    }
