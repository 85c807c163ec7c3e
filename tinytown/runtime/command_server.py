"""The runtime keeps the town's command server (:mod:`tinytown.cli.cmdserver`) running.

It is a separate process in its own session (terminal signals go to the
runtime, which ends it by cancellation). ``TINYTOWN_CMDSERVER=0`` disables
it; if it fails, ``tt`` simply runs commands in-process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import trio

log = logging.getLogger("tinytown.runtime")


async def run_command_server(root: Path) -> None:
    """Run the command server for ``root`` until cancelled (or until it exits)."""
    if os.environ.get("TINYTOWN_CMDSERVER", "").strip() == "0":
        return
    cmd = [sys.executable, "-m", "tinytown.cli.cmdserver", str(root)]
    try:
        done = await trio.run_process(cmd, check=False, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
    except OSError as exc:
        log.warning("command server not started: %s", exc)
        return
    if done.returncode:
        log.warning("command server exited with status %s", done.returncode)
