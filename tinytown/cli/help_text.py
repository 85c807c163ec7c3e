"""``tt --help`` (and bare ``tt``) for a reader that is not a terminal, without cyclopts.

Agents read ``tt --help`` through a pipe, and loading cyclopts and rich to
draw it costs more than many commands. When standard output is not a
terminal, this module writes the very text cyclopts would (same box, same
wrapping, at the width rich would pick; a test compares the two at every
width this renders). On a terminal (colours, styles) or a width too narrow
for the help text, it declines and cyclopts draws the help.
"""

from __future__ import annotations

import os
import textwrap

BUILT_IN = (
    ("--help (-h)", "Display this message and exit."),
    ("--version (-V)", "Display application version."),
)
TITLE = "╭─ Commands "


def plain_width() -> int | None:
    """The width rich uses for output that is not a terminal; None when stdout is one."""
    if os.isatty(1):
        return None
    width = None
    for fd in (0, 1, 2):
        try:
            width = os.get_terminal_size(fd).columns
        except OSError:
            continue
        break
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        width = int(columns)
    return width or 80


def render(width: int) -> str | None:
    """The top-level help at ``width`` columns, or None if it would need rich's wrapping."""
    from tinytown.cli.app import ABOUT, COMMANDS
    from tinytown.cli.context import GLOBAL_HELP

    text = f"{ABOUT}\n\n{GLOBAL_HELP}".splitlines()
    rows = sorted((name, about) for _, name, about in COMMANDS) + list(BUILT_IN)
    name_w = max(len(name) for name, _ in rows)
    desc_w = width - name_w - 6  # "│ " name "  " description " │"
    if any(len(line) > width for line in text) or desc_w < 20:
        return None
    out = ["Usage: tt COMMAND", "", *text, "", TITLE + "─" * (width - len(TITLE) - 1) + "╮"]
    for name, about in rows:
        parts = textwrap.wrap(about, desc_w, break_on_hyphens=False) or [""]
        for i, part in enumerate(parts):
            out.append(f"│ {(name if i == 0 else '').ljust(name_w)}  {part.ljust(desc_w)} │")
    out.append("╰" + "─" * (width - 2) + "╯")
    return "\n".join(out) + "\n"


def fast_help() -> str | None:
    """The help text when this module can write it exactly, else None."""
    width = plain_width()
    return None if width is None else render(width)
