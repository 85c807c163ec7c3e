"""Questions agents ask the supervisor/conductor, and answering them.

An agent asks with ``tt send supervisor --query …`` (or ``conductor``); the
question waits in the supervisor mailbox's queues until someone answers. An
answer goes to the asker's inbox as a message correlated with the question,
and the question leaves the mailbox in the same step (one script): it is
answered once, and neither the question nor the answer can be lost between
the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import attrs

from tinytown.channel import reply_or
from tinytown.codec import message_from_json, message_to_json
from tinytown.errors import CorruptRecordError, InvalidInputError, NotFoundError
from tinytown.models import AgentId, Message, MessageType
from tinytown.scripts import ANSWER_QUERY
from tinytown.town import Town

QUERY_SCAN: Final = 1000
"""How many queued messages of the supervisor mailbox are looked at (per queue)."""


@attrs.frozen
class OpenQuery:
    """A question still waiting in the supervisor mailbox (``raw`` is its wire text)."""

    message: Message
    raw: str
    urgent: bool

    @property
    def question(self) -> str:
        kind = self.message.kind
        return kind.question if isinstance(kind, MessageType.Query) else ""


async def open_queries(town: Town) -> list[OpenQuery]:
    """The questions waiting for the supervisor, urgent ones first, oldest first.

    Undecodable entries are skipped (they are reported by ``tt inbox``, not here).
    """
    keys = town.channel.keys
    sup = AgentId.supervisor()
    pipe = town.redis.pipeline()
    pipe.cmd("LRANGE", keys.urgent(sup), 0, QUERY_SCAN - 1)
    pipe.cmd("LRANGE", keys.inbox(sup), 0, QUERY_SCAN - 1)
    urgent_raw, normal_raw = await pipe.execute(raise_on_error=False)
    found: list[OpenQuery] = []
    for raws, key, urgent in ((urgent_raw, keys.urgent(sup), True),
                              (normal_raw, keys.inbox(sup), False)):
        for raw in reply_or(raws, key, []):
            try:
                message = message_from_json(raw)
            except CorruptRecordError:
                continue
            if isinstance(message.kind, MessageType.Query):
                found.append(OpenQuery(message, raw, urgent))
    return found


def find_query(queries: Sequence[OpenQuery], message_id: str) -> OpenQuery:
    """The open query whose id is (or starts with, if unique) ``message_id``."""
    clean = message_id.strip().lower()
    if not clean:
        raise InvalidInputError("A message id is required")
    exact = [q for q in queries if str(q.message.id) == clean]
    matches = exact or [q for q in queries if str(q.message.id).startswith(clean)]
    if len(matches) > 1:
        raise InvalidInputError(f"Message id '{message_id}' is ambiguous; give more characters")
    if not matches:
        raise NotFoundError(f"No open query with id '{message_id}' (answered already?)")
    return matches[0]


async def answer(town: Town, message_id: str, text: str) -> Message:
    """Answer an open query: the reply reaches the asker's inbox, the query leaves the mailbox.

    Raises:
        InvalidInputError: An empty answer or an ambiguous id.
        NotFoundError: No open query has that id (it may have been answered meanwhile).
    """
    if not text.strip():
        raise InvalidInputError("The answer is empty")
    query = find_query(await open_queries(town), message_id)
    # A task, not an informational: the asker waits for this, so it gets a round.
    reply = query.message.reply(
        MessageType.Task(description=f"Answer to your question {query.question!r}: {text}")
    )
    keys = town.channel.keys
    sup = AgentId.supervisor()
    done = await ANSWER_QUERY(
        town.redis,
        [keys.urgent(sup), keys.inbox(sup), keys.inbox(query.message.from_)],
        [query.raw, message_to_json(reply)],
    )
    if not done:
        raise NotFoundError(f"No open query with id '{message_id}' (answered already?)")
    return reply


def answered(reply: Message) -> dict[str, str]:
    """The answer's document, as REST and MCP return it (``Answered`` of townhall.md)."""
    return {"message_id": str(reply.id), "to_agent": str(reply.to),
            "correlation_id": str(reply.correlation_id)}
