"""``tt history`` and ``tt events``: what happened in the town (cli.md §7.8, §7.9)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from tinytown.cli.output import emit_json, flush_or_stop, say, usage_error

if TYPE_CHECKING:
    from tinytown.models import Agent, AgentId, Event
    from tinytown.town import Town

MESSAGE_SHOWN = 80
NO_EVENTS = "No events found. Events are emitted on state transitions."


def history(
    *,
    limit: Annotated[int, Parameter(name=["--limit", "-n"])] = 30,
    agent: Annotated[str | None, Parameter(name=["--agent", "-a"])] = None,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> None:
    """Recent town history, chat style, oldest first.

    Parameters
    ----------
    limit : int
        How many of the newest events to read (at least 1).
    agent : str
        Only events of the agent with this exact name.
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.display import event_doc
    from tinytown.cli.runner import run_town
    from tinytown.services import events as svc

    if limit < 1:
        usage_error(f"--limit must be at least 1 (got {limit})")

    async def body(town: Town) -> None:
        found = await svc.history(town, limit, agent)
        if json:
            docs = []
            for e in found.entries:
                doc = event_doc(e.entry_id, e.event)
                doc["who"] = svc.event_who(e.event, found.agents)
                docs.append(doc)
            emit_json({"read": found.read, "events": docs})
            return
        if found.read == 0:
            say("📜 No events recorded yet.")
            return
        say(f"📜 Recent History ({found.read} events):")
        say("")
        for e in found.entries:
            say(history_line(e.event, found.agents))

    run_town(body)


def history_line(event: Event, agents: dict[AgentId, Agent]) -> str:
    from tinytown.cli.display import clock
    from tinytown.cli.icons import event_icon
    from tinytown.models.text import cut
    from tinytown.services import events as svc

    who = svc.event_who(event, agents)
    text = cut(event.message, MESSAGE_SHOWN)
    return f"  {clock(event.timestamp)} {event_icon(event.event_type)} *{who}* {text}"


def event_line(event: Event) -> str:
    """``<HH:MM:SS> [<event_type>] <scope> — <message>``."""
    from tinytown.cli.display import clock
    from tinytown.services import events as svc

    kind = event.event_type.value
    return f"{clock(event.timestamp)} [{kind}] {svc.event_scope(event)} — {event.message}"


def events(
    *,
    count: Annotated[int, Parameter(name=["--count", "-c"])] = 20,
    agent: str | None = None,
    mission: str | None = None,
    follow: Annotated[bool, Parameter(name=["--follow", "-f"], negative=())] = False,
    json: Annotated[bool, Parameter(negative=())] = False,
) -> None:
    """The raw event stream: the newest events, then new ones as they come with --follow.

    Parameters
    ----------
    count : int
        How many of the newest events to show first (at least 1).
    agent : str
        Read the stream of the agent with this exact name.
    mission : str
        Read the stream of this mission (a UUID).
    follow : bool
        Keep running and print each new event once (Ctrl+C to stop).
    json : bool
        Print JSON: one document, or with --follow one object per line.
    """
    import json as jsonlib
    from contextlib import aclosing

    from tinytown.cli.display import event_doc
    from tinytown.cli.runner import run_town
    from tinytown.services import events as svc

    if count < 1:
        usage_error(f"--count must be at least 1 (got {count})")

    def show(entry_id: str, event: Event) -> None:
        if json:
            say(jsonlib.dumps(event_doc(entry_id, event), ensure_ascii=False))
        else:
            say(event_line(event))
        flush_or_stop()  # a reader that left ends --follow

    async def body(town: Town) -> None:
        stream = await svc.event_stream(town, agent, mission)
        first = await svc.recent(town, stream, count)
        if json and not follow:
            emit_json(
                {"stream": stream, "events": [event_doc(e.entry_id, e.event) for e in first]}
            )
            return
        for e in first:
            show(e.entry_id, e.event)
        if not follow:
            if not first:
                say(NO_EVENTS)
            return
        after = first[-1].entry_id if first else svc.START_ID
        async with aclosing(svc.follow(town, stream, after)) as feed:
            async for e in feed:
                show(e.entry_id, e.event)

    run_town(body)
