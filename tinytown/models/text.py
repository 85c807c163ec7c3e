"""Shortening text for one-line displays and prompts: pure, no I/O."""

from __future__ import annotations

from typing import Final

ELLIPSIS: Final = "..."


def truncate_summary(text: str, n: int) -> str:
    """The first line of ``text``, trimmed; cut to ``n`` characters with ``...``.

    Args:
        text: Any text, possibly several lines.
        n: The longest result allowed (at least 4 to be meaningful).

    Returns:
        The first line when it fits in ``n`` characters, else its first
        ``n - 3`` characters followed by ``...``.
    """
    lines = text.splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) <= n:
        return first
    return first[: max(n - len(ELLIPSIS), 0)] + ELLIPSIS


def cut(text: str, keep: int, *, over: int | None = None) -> str:
    """``text`` cut to its first ``keep`` characters plus ``...`` when longer than ``over``.

    ``over`` defaults to ``keep``: ``cut(s, 50)`` keeps 50 characters and adds
    ``...`` only if something was cut. ``cut(s, 47, over=50)`` is the status
    form: texts of up to 50 characters are kept whole.
    """
    limit = keep if over is None else over
    return text if len(text) <= limit else text[:keep] + ELLIPSIS


def first_line(text: str) -> str:
    """The first line of ``text`` (empty for empty text)."""
    lines = text.splitlines()
    return lines[0] if lines else ""
