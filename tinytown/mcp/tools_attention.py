"""Tools beyond 0.10's 42: the "needs you" inbox and answering an agent's question."""

from __future__ import annotations

from typing import Any

from tinytown.mcp.args import Args, req
from tinytown.mcp.spec import READ, WRITE, ToolSpec, tool
from tinytown.runtime.attention import attention
from tinytown.services import queries
from tinytown.services.attention_rank import entry_to_dict
from tinytown.town import Town


@tool(
    "attention.list",
    "What needs a human now (questions, reviewer gates, stuck agents and work), ranked",
    READ,
    read_only=True,
)
async def list_attention(town: Town, _args: Args) -> Any:
    entries = await attention(town)
    return {"count": len(entries), "entries": [entry_to_dict(e) for e in entries]}


@tool(
    "attention.answer",
    "Answer an agent's question to the supervisor/conductor (the reply goes to its inbox)",
    WRITE,
    req("message_id", "string", "The question's message id (a unique prefix is enough)"),
    req("answer", "string", "The answer"),
)
async def answer(town: Town, args: Args) -> Any:
    reply = await queries.answer(town, args.text("message_id"), args.text("answer"))
    return queries.answered(reply)


ATTENTION_TOOLS: tuple[ToolSpec, ...] = (list_attention, answer)
