"""A companion process that lives exactly as long as the runtime.

``python -m tinytown.runtime`` uses it for the town's command server (the
program names it; the runtime layer knows nothing of the CLI). The companion
runs in its own session (terminal signals go to the runtime, which ends it
by cancellation). ``TINYTOWN_CMDSERVER=0`` disables it; if it fails, ``tt``
simply runs commands in-process.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Sequence

import trio

log = logging.getLogger("tinytown.runtime")


async def run_companion(argv: Sequence[str]) -> None:
    """Run ``argv`` until cancelled (or until it exits by itself)."""
    if os.environ.get("TINYTOWN_CMDSERVER", "").strip() == "0":
        return
    try:
        done = await trio.run_process(list(argv), check=False, stdin=subprocess.DEVNULL,
                                      start_new_session=True)
    except OSError as exc:
        log.warning("companion %s not started: %s", argv, exc)
        return
    if done.returncode:
        log.warning("companion %s exited with status %s", argv, done.returncode)
