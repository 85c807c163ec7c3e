"""Printing: plain message lines on stdout, errors on stderr, ``--json`` documents."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from tinytown.cli.exitcodes import USAGE


def say(text: str = "") -> None:
    """One or more lines of human output on stdout."""
    sys.stdout.write(text + "\n")


def warn(text: str) -> None:
    sys.stderr.write(text + "\n")


def error_line(text: str) -> None:
    """The one-line error shown for a failed command."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    sys.stderr.write(f"Error: {first}\n")


def emit_json(document: Any) -> None:
    """One JSON document on stdout, for scripts (``--json``)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


def one_line_error(error: Exception) -> NoReturn:
    """cyclopts error formatter: a parser error is one ``Error:`` line and exit code 2.

    The line is written here (and the process exits) because the rich console
    wraps even ``no_wrap`` text at its width and adds a newline of its own.
    """
    error_line(" ".join(str(error).split()))
    raise SystemExit(USAGE)


def usage_error(text: str) -> NoReturn:
    """Report a command-line misuse (one line on stderr) and exit with the usage code."""
    error_line(text)
    raise SystemExit(USAGE)
