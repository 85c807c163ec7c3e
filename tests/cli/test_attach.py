"""``tt start`` following a running runtime: the log is re-read, the runtime's exit awaited."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import trio

from tinytown import procwait
from tinytown.cli.attach import _follow


def _last_words(log: Path) -> int:
    """A process that is not our child, writes one last line and exits (as a runtime would)."""
    out = subprocess.run(["/bin/sh", "-c", f"(sleep 0.5; echo last words >> '{log}') "
                          ">/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout)


async def test_follow_shows_the_last_lines_and_ends_when_the_runtime_exits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "runtime.log"
    log.write_text("from before\n")
    pid = _last_words(log)

    def polled(_pid: int) -> bool:
        raise AssertionError("the runtime's liveness was polled")

    monkeypatch.setattr(procwait, "pid_alive", polled)
    with trio.fail_after(20):
        await _follow(log, pid, trio.CancelScope())
    shown = capsys.readouterr().out.splitlines()
    assert shown == ["last words", f"🏁 The runtime (pid {pid}) exited"]
