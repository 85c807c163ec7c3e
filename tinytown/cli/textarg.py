"""Text arguments that need not appear in ``ps``: ``-`` reads stdin, ``--file`` a file.

Task descriptions, messages and results may be confidential, and every local
user can read a process's argv. Each command that takes such a text accepts
it as an argument, as ``-`` (read from stdin) or from ``--file PATH``
(issue 10 item 4). One trailing newline, as a heredoc or an editor leaves,
is dropped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tinytown.cli.output import usage_error

STDIN = "-"


def _trim(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def read_text(value: str | None, file: str | None, *, what: str, option: str = "--file") -> str:
    """The text given as ``value``, ``-`` (stdin) or ``--file`` (``file``; ``-`` is stdin too).

    Exits with a usage error when both or neither are given, or the file cannot be read.
    """
    if file is not None:
        if value not in (None, STDIN):
            usage_error(f"give the {what} as an argument or with {option}, not both")
        if file == STDIN:
            return _trim(sys.stdin.read())
        try:
            return _trim(Path(file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            usage_error(f"cannot read the {what} from {file}: {reason}")
    if value is None:
        usage_error(f"missing the {what}: give it as an argument, '-' for stdin, "
                    f"or {option} PATH")
    if value == STDIN:
        return _trim(sys.stdin.read())
    return value
