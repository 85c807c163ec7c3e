"""Waiting for a process that is not our child: a pidfd wait, no polling."""

from __future__ import annotations

import os
import signal
import subprocess

import trio

from tinytown import procwait
from tinytown.procwait import pid_alive, wait_pid_gone


def _grandchild(seconds: float) -> int:
    """A ``sleep`` whose parent (``sh``) has exited: not our child, so no ``wait()``."""
    out = subprocess.run(["/bin/sh", "-c", f"sleep {seconds} >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


async def test_waits_for_a_foreign_pid_to_end() -> None:
    pid = _grandchild(0.3)
    assert pid_alive(pid)
    with trio.fail_after(20):
        assert await wait_pid_gone(pid)
    assert not pid_alive(pid)


async def test_times_out_while_it_runs_and_blocks_instead_of_polling(monkeypatch) -> None:
    pid = _grandchild(60)
    try:
        # A poll would call pid_alive; the pidfd wait never does.
        monkeypatch.setattr(procwait, "pid_alive", lambda p: (_ for _ in ()).throw(AssertionError))
        assert not await wait_pid_gone(pid, 0.2)
    finally:
        os.kill(pid, signal.SIGKILL)
    monkeypatch.undo()
    with trio.fail_after(20):
        assert await wait_pid_gone(pid)


async def test_no_such_process_counts_as_gone() -> None:
    assert await wait_pid_gone(0)
    assert await wait_pid_gone(2**22 + 12345, 0.1)  # beyond any pid_max: no such process
