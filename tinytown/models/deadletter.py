"""A poison message set aside in an agent's dead-letter list (``Keys.deadletter``)."""

from __future__ import annotations

from datetime import datetime

import attrs


@attrs.frozen
class DeadLetter:
    """A message an agent could not handle, kept with the reason.

    Attributes:
        reason: Why it was set aside (one line).
        at: When.
        message: The raw message text, unchanged (possibly huge or malformed).
    """

    reason: str
    at: datetime
    message: str

    @property
    def size(self) -> int:
        """The raw message's length in bytes (UTF-8)."""
        return len(self.message.encode("utf-8", "surrogatepass"))
