"""Is a process alive, and waiting for one that is not our child to end, without polling.

``os.pidfd_open`` gives a file descriptor that becomes readable when the
process terminates, whoever its parent is; Trio waits on it like on a
socket. Where pidfds do not exist (macOS, Linux before 5.3) the wait falls
back to checking every ``FALLBACK_POLL_S``.
"""

from __future__ import annotations

import math
import os
from typing import Final

import trio

FALLBACK_POLL_S: Final = 0.05


async def wait_pid_gone(pid: int, timeout_s: float | None = None) -> bool:
    """Whether process ``pid`` has ended, waiting up to ``timeout_s`` (None: forever).

    A zombie counts as ended. ``pid <= 0`` names no process and counts as ended.
    """
    if pid <= 0:
        return True
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):  # no pidfd on this system (or not allowed): poll
        return await _poll_gone(pid, timeout_s)
    try:
        with trio.move_on_after(math.inf if timeout_s is None else timeout_s):
            await trio.lowlevel.wait_readable(fd)
            return True
        return False
    finally:
        os.close(fd)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs (a zombie counts as dead)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return True  # no /proc (macOS): trust kill(0)
    return text.rsplit(")", 1)[-1].split()[:1] != ["Z"]


async def _poll_gone(pid: int, timeout_s: float | None) -> bool:
    with trio.move_on_after(math.inf if timeout_s is None else timeout_s):
        while pid_alive(pid):  # noqa: ASYNC110 - no event exists for a non-child without pidfd
            await trio.sleep(FALLBACK_POLL_S)
        return True
    return not pid_alive(pid)
