"""The per-agent loop log, ``.tt/logs/<name>.log``: plain lines, as ``tt status --deep`` reads them.

A foreground runtime also echoes every line to its terminal.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

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

    Write errors (disk full, directory removed) are reported once on the
    runtime's logger and otherwise ignored: logging must never stop an agent.
    """

    def __init__(self, path: Path, echo: Callable[[str], None] | None = None) -> None:
        self.path = path
        self._echo = echo
        self._file: TextIO | None = None
        self._broken = False

    def line(self, text: str) -> None:
        if self._echo is not None:
            self._echo(text)
        if self._broken:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8", buffering=1)
            self._file.write(text + "\n")
        except OSError as exc:
            self._broken = True
            log.warning("cannot write %s: %s", self.path, exc)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
