"""``tt attention`` and ``tt answer``: what needs a human now, and answering agents' questions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from cyclopts import Parameter

from tinytown.cli.output import emit_json, say

if TYPE_CHECKING:
    from tinytown.services.attention_rank import Entry
    from tinytown.town import Town

ICONS = {
    "query": "❓",
    "review_gate": "🔍",
    "mission_help": "🆘",
    "agent_error": "❌",
    "stranded_work": "🧊",
    "dead_letter": "☠️",
    "long_task": "🐢",
    "failing_watch": "👀",
}
NOTHING = "✅ Nothing needs you right now."


def _hint(entry: Entry) -> str:
    first = entry.actions[0].value
    if first == "answer":
        return f"tt answer {entry.message_id} \"...\""
    if first == "restart":
        return f"tt restart {entry.agent}"
    if first == "start_runtime":
        return "tt start --detach"
    if first in ("approve", "reject"):
        return f"tt mission status {entry.mission_id}"
    if first in ("note", "resume"):
        return f"tt mission resume {entry.mission_id}"
    if entry.task_id:
        return f"tt task show {entry.task_id}"
    if entry.agent:
        return f"tt inbox {entry.agent}"
    return ""


def attention(*, json: Annotated[bool, Parameter(negative=())] = False) -> None:
    """What needs a human now, the most pressing first.

    Questions addressed to the supervisor/conductor, reviewer-gate decisions,
    mission help requests, agents in Error, work waiting for an agent that
    will not run it, dead-lettered messages, tasks running far longer than
    usual and repeatedly failing watches — one line each, with the command
    that resolves it.

    Parameters
    ----------
    json : bool
        Print one JSON document instead of text.
    """
    from tinytown.cli.display import format_ago
    from tinytown.cli.runner import run_town
    from tinytown.runtime.attention import attention as gather
    from tinytown.services.attention_rank import entry_to_dict
    from tinytown.town import utcnow

    async def body(town: Town) -> None:
        now = utcnow()
        entries = await gather(town, now)
        if json:
            emit_json({"count": len(entries), "entries": [entry_to_dict(e) for e in entries]})
            return
        if not entries:
            say(NOTHING)
            return
        say(f"🔔 {len(entries)} item(s) need you:")
        for e in entries:
            say(f"  {ICONS.get(e.kind.value, '•')} {e.reason}  ({format_ago(now - e.since)})")
            hint = _hint(e)
            if hint:
                say(f"     → {hint}")

    run_town(body)


def answer(query: str, text: str, /) -> None:
    """Answer an agent's question to the supervisor/conductor.

    The answer reaches the asking agent's inbox as a task correlated with the
    question, and the question leaves the supervisor's inbox (``tt attention``
    lists open questions with their ids).

    Parameters
    ----------
    query : str
        The question's message id (a unique prefix is enough).
    text : str
        The answer.
    """
    from tinytown.cli.runner import run_town
    from tinytown.services import queries

    async def body(town: Town) -> None:
        reply = await queries.answer(town, query, text)
        say(f"✅ Answered; the reply ({reply.id}) is in the asker's inbox.")

    run_town(body)
