"""Dead letters: messages an agent's runtime set aside as poison (``Keys.deadletter``).

A message too large, not JSON, nested too deeply or with fields of the wrong
type never reaches a model; the runtime moves it to the agent's dead-letter
list with the reason (see :mod:`tinytown.runtime.intake`). ``tt inbox`` and
``tt status --deep`` show them. An entry that cannot be read is reported on
the log and skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final

import attrs

from tinytown.channel import reply_or
from tinytown.codec.deadletter import deadletter_from_json
from tinytown.errors import CorruptRecordError
from tinytown.models import AgentId
from tinytown.models.deadletter import DeadLetter
from tinytown.redis.pipeline import Pipeline
from tinytown.town import Town

log = logging.getLogger("tinytown")

SHOWN: Final = 3
"""How many of the newest dead letters a view shows."""


@attrs.frozen
class DeadLetters:
    """How many dead letters an agent has, and the newest ones (newest last)."""

    count: int = 0
    latest: tuple[DeadLetter, ...] = ()


def decode_entries(raw: Iterable[object], key: str) -> tuple[DeadLetter, ...]:
    """Decode dead-letter entries, skipping (and logging) those that cannot be read."""
    out = []
    for entry in raw:
        try:
            out.append(deadletter_from_json(str(entry), key))
        except CorruptRecordError as exc:
            log.warning("skipping unreadable dead letter: %s", exc)
    return tuple(out)


def queue_reads(pipe: Pipeline, town: Town, agent_id: AgentId, n: int = SHOWN) -> None:
    """Queue the two reads of :func:`from_replies` on a pipeline."""
    key = town.channel.keys.deadletter(agent_id)
    pipe.cmd("LLEN", key)
    pipe.cmd("LRANGE", key, -n, -1)


def from_replies(length: object, entries: object, key: str) -> DeadLetters:
    """The summary from the replies of :func:`queue_reads` (a wrong-type key reads as empty)."""
    count = reply_or(length, key, 0)
    if not count:
        return DeadLetters()
    return DeadLetters(int(count), decode_entries(reply_or(entries, key, []), key))


async def dead_letters(town: Town, agent_id: AgentId, n: int = SHOWN) -> DeadLetters:
    """One agent's dead letters: the count and the ``n`` newest (one round trip)."""
    pipe = town.redis.pipeline()
    queue_reads(pipe, town, agent_id, n)
    length, entries = await pipe.execute(raise_on_error=False)
    return from_replies(length, entries, town.channel.keys.deadletter(agent_id))
