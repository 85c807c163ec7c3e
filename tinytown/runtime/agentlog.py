"""The per-agent loop log, ``.tt/logs/<name>.log``: plain lines, as ``tt status --deep`` reads them.

A foreground runtime also echoes every line to its terminal.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("tinytown.runtime")


def agent_log_path(root: Path, name: str) -> Path:
    return root / ".tt" / "logs" / f"{name}.log"


def round_log_path(root: Path, name: str, round_no: int) -> Path:
    return root / ".tt" / "logs" / f"{name}_round_{round_no}.log"


def prompt_path(root: Path, name: str) -> Path:
    return root / ".tt" / f"agent_{name}_prompt.md"


def clean_round_logs(root: Path, name: str) -> int:
    """Delete ``<name>_round_*.log`` files; returns how many were deleted."""
    logs = root / ".tt" / "logs"
    n = 0
    for path in logs.glob(f"{glob.escape(name)}_round_*.log"):
        suffix = path.name[len(name) + len("_round_"):-len(".log")]
        if suffix.isdigit():
            path.unlink(missing_ok=True)
            n += 1
    return n


class AgentLog:
    """Appends lines to one agent's log file (and echoes them when asked).

    The file is opened for each line and closed at once: an idle agent holds
    no log file open (a runtime hosting a thousand agents must not spend a
    thousand file descriptors on logs). Write errors (disk full, directory
    removed) are reported once on the runtime's logger and otherwise ignored:
    logging must never stop an agent; a temporary "too many open files" only
    loses that line.
    """

    def __init__(self, path: Path, echo: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._echo = echo
        self._broken = False
        self._dir_made = False

    def line(self, text: str) -> None:
        if self._echo is not None:
            self._echo(text)
        if self._broken:
            return
        data = (text + "\n").encode("utf-8", "surrogateescape")
        try:
            if not self._dir_made:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._dir_made = True
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                log.warning("cannot write %s now: %s", self.path, exc)
                return
            self._broken = True
            log.warning("cannot write %s: %s", self.path, exc)

    def close(self) -> None:
        """Nothing is held open; kept so callers can end a log explicitly."""
