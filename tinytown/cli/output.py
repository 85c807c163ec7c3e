"""Printing: plain message lines on stdout, errors on stderr, ``--json`` documents.

A closed pipe (``tt status | head -1``) is handled like a Unix tool would,
without a traceback, but a command never stops half-way because its reader
left: :func:`say` and friends notice the closed stream, point it at
``/dev/null`` (:func:`stream_gone`) and the command finishes its work
(``tt init | head -1`` still registers the whole town). Output that streams
forever (``tt events --follow``) calls :func:`flush_or_stop` to end instead.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn, TextIO

from tinytown.cli.exitcodes import USAGE

BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it
_gone: set[int] = set()  # file descriptors whose reader left (now on /dev/null)


def stream_gone(stream: TextIO) -> None:
    """Send whatever is still written to ``stream`` (whose reader left) to ``/dev/null``."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        return  # not a real file (tests capture output): nothing to redirect
    _gone.add(fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _write(stream: TextIO, text: str) -> None:
    try:
        stream.write(text)
    except BrokenPipeError:
        stream_gone(stream)


def say(text: str = "") -> None:
    """One or more lines of human output on stdout."""
    _write(sys.stdout, text + "\n")


def warn(text: str) -> None:
    _write(sys.stderr, text + "\n")


def error_line(text: str) -> None:
    """The one-line error shown for a failed command."""
    first = text.strip().splitlines()[0] if text.strip() else "unknown error"
    _write(sys.stderr, f"Error: {first}\n")


def emit_json(document: Any) -> None:
    """One JSON document on stdout, for scripts (``--json``)."""
    _write(sys.stdout, json.dumps(document, ensure_ascii=False, indent=2, default=str) + "\n")


def flush_or_stop() -> None:
    """Flush stdout; if its reader left, end the command quietly (exit status 141)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        stream_gone(sys.stdout)
    try:
        gone = sys.stdout.fileno() in _gone
    except (OSError, ValueError):
        gone = False
    if gone:
        raise SystemExit(BROKEN_PIPE_EXIT)


def finish_output() -> None:
    """Flush both streams at the end of a command, quietly if their readers left."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            stream_gone(stream)
        except (OSError, ValueError):
            pass


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
