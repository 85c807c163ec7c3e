"""``tt start`` while the town's runtime already runs: follow its log instead of failing.

The book's quick start runs ``tt start`` right after ``tt spawn``, which has
already started the runtime in the background. Rather than exit with
"already running", ``tt start`` says what runs and follows the runtime's log
(``.tt/logs/runtime.log``) in the foreground; Ctrl+C detaches and leaves the
runtime running. It ends by itself when the runtime exits.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Final

import trio

from tinytown.cli.output import flush_or_stop, say

if TYPE_CHECKING:
    from tinytown.town import Town

POLL_S: Final = 0.2
"""How often the log is re-read. A growing file has no event to wait on without inotify
(not in the standard library; no such dependency), so the log is polled; the runtime's
exit is not: it is awaited on a pidfd in between, and ends the follow at once."""


async def attach(town: Town, host: str, pid: int, shown_log: Path) -> None:
    """Follow the runtime ``pid``'s log until Ctrl+C (detach) or until it exits."""
    from tinytown.runtime.launch import runtime_log_path

    hosted = [a for a in await town.list_agents() if a.host == host and not a.state.is_terminal]
    path = runtime_log_path(town.root)
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        say(f"🚀 Town runtime already running (pid {pid}), hosting {len(hosted)} agent(s)")
        say(f"   Following {shown_log} (Ctrl+C detaches; the runtime keeps running)")
        flush_or_stop()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_follow, path, pid, nursery.cancel_scope)
            async for _ in signals:
                say("👋 Detached (the runtime keeps running)")
                nursery.cancel_scope.cancel()
                break


def _read_new(path: Path, offset: int | None) -> tuple[list[str], int | None]:
    """Lines appended to ``path`` since ``offset`` (``None``: start at its current end)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            if offset is None:
                return [], log.seek(0, 2)
            log.seek(offset)
            lines = log.readlines()
            return [line.rstrip("\n") for line in lines], log.tell()
    except OSError:
        return [], offset


async def _follow(path: Path, pid: int, scope: trio.CancelScope) -> None:
    from tinytown.procwait import wait_pid_gone

    offset: int | None = None
    exited = False
    while True:
        lines, offset = await trio.to_thread.run_sync(_read_new, path, offset)
        for line in lines:
            say(line)
        flush_or_stop()
        if exited:  # its last lines are shown first
            say(f"🏁 The runtime (pid {pid}) exited")
            scope.cancel()
            return
        exited = await wait_pid_gone(pid, POLL_S)
