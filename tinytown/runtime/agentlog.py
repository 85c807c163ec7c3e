"""The per-agent loop log ``.tt/logs/<agent id>.log``: plain lines, read by ``tt status --deep``.

Per-agent files are named by the agent's id, never by its name: a name comes
from a user or from Redis and must never become a path (issue 10). A
foreground runtime also echoes every line to its terminal.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
from collections.abc import Callable
from pathlib import Path

from tinytown.files import PRIVATE_FILE, private_dir
from tinytown.models import AgentId

log = logging.getLogger("tinytown.runtime")


def _stem(agent_id: object) -> str:
    return str(AgentId.parse(str(agent_id)))  # a UUID: never ".." or a separator


def agent_log_path(root: Path, agent_id: object) -> Path:
    return root / ".tt" / "logs" / f"{_stem(agent_id)}.log"


def round_log_path(root: Path, agent_id: object, round_no: int) -> Path:
    return root / ".tt" / "logs" / f"{_stem(agent_id)}_round_{round_no}.log"


def prompt_path(root: Path, agent_id: object) -> Path:
    return root / ".tt" / f"agent_{_stem(agent_id)}_prompt.md"


def clean_round_logs(root: Path, agent_id: object) -> int:
    """Delete ``<agent id>_round_*.log`` files; returns how many were deleted."""
    logs = root / ".tt" / "logs"
    stem = _stem(agent_id)
    n = 0
    for path in logs.glob(f"{glob.escape(stem)}_round_*.log"):
        suffix = path.name[len(stem) + len("_round_"):-len(".log")]
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
                private_dir(self.path.parent)
                self._dir_made = True
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
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
