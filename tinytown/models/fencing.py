"""The fencing token of one model round: agent, incarnation, round number (decision 7).

The runtime puts it in the model's environment (``TINYTOWN_ROUND_TOKEN``) and
in the agent record (``round_token``) while the round runs; an agent-side
command carrying a token that is no longer the record's comes from a
superseded round and is refused.
"""

from __future__ import annotations

from typing import Final

import attrs

from tinytown.errors import InvalidInputError
from tinytown.models.ids import AgentId

ROUND_TOKEN_ENV: Final = "TINYTOWN_ROUND_TOKEN"
"""The environment variable holding a round's token (also marks its processes)."""


@attrs.frozen
class RoundToken:
    """Which round of which incarnation of which agent."""

    agent_id: AgentId
    incarnation: int
    round_no: int

    def __str__(self) -> str:
        return f"{self.agent_id}/{self.incarnation}/{self.round_no}"

    @classmethod
    def parse(cls, text: str) -> RoundToken:
        """Parse ``<agent id>/<incarnation>/<round>``; InvalidInputError otherwise."""
        parts = text.strip().split("/")
        if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
            raise InvalidInputError(f"Invalid round token {text!r} in ${ROUND_TOKEN_ENV}")
        return cls(AgentId.parse(parts[0]), int(parts[1]), int(parts[2]))
