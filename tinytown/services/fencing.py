"""Fencing of agent-side commands by the round token (decision 7).

A model round runs with ``TINYTOWN_ROUND_TOKEN`` in its environment; the
agent record holds the token of the round in progress (``round_token``) and
loses it when the round is settled, and a new incarnation (another runtime,
``tt recover``, ``tt restart``) replaces the record's ``incarnation``. A
command carrying a token that is no longer the record's comes from a round
that timed out, was cancelled or was taken over — a tool that outlived its
round — and is refused before it changes anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tinytown.errors import FencedError
from tinytown.models.fencing import RoundToken

if TYPE_CHECKING:
    from tinytown.redis.client import Redis
    from tinytown.redis.pipeline import Transaction
    from tinytown.town import Town


def fence_error(token: RoundToken, current: object) -> FencedError:
    why = "it has ended" if not current else "the agent has moved on"
    return FencedError(
        f"Refused: round {token.round_no} of incarnation {token.incarnation} of agent "
        f"{token.agent_id} is no longer current ({why}); nothing was changed"
    )


async def check_in(client: Redis | Transaction, agent_key: str, token: RoundToken) -> None:
    """Raise FencedError unless ``token`` is the round in progress of the live incarnation."""
    incarnation, current = await client.execute(
        "HMGET", agent_key, "incarnation", "round_token")
    if str(incarnation) != str(token.incarnation):
        raise fence_error(token, "superseded")
    if current is None or str(current) != str(token):
        raise fence_error(token, current)


async def check_round(town: Town, token_text: str | None) -> RoundToken | None:
    """Check the caller's round token (None or empty: not called from a round).

    Raises:
        FencedError: the round was superseded.
        InvalidInputError: the token is malformed.
    """
    if not token_text or not token_text.strip():
        return None
    token = RoundToken.parse(token_text)
    await check_in(town.redis, town.channel.keys.agent(token.agent_id), token)
    return token
