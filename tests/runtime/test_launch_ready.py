"""Starting the runtime in the background: the starter blocks on a readiness pipe, never polls."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import trio

from tinytown.errors import OperationTimeoutError
from tinytown.runtime.launch import (
    READY_FD_ENV,
    launch_detached,
    signal_ready,
    take_ready_fd,
    wait_ready,
)

Counter = Callable[[], AbstractContextManager[Any]]  # the ``wakeups`` fixture of conftest


def _writer(code: str) -> tuple[int, subprocess.Popen[bytes]]:
    """A process holding the write end of a fresh pipe (as fd ``W``); the read end for us."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", f"import os, time; W = {write_fd}; {code}"],
                            pass_fds=(write_fd,))
    os.close(write_fd)
    return read_fd, proc


async def test_returns_the_pid_when_it_is_written_after_one_wakeup(wakeups: Counter) -> None:
    read_fd, proc = _writer("time.sleep(1.0); os.write(W, b'4242\\n'); time.sleep(5)")
    try:
        with wakeups() as woken, trio.fail_after(30):
            assert await wait_ready(read_fd, timeout_s=30) == 4242
        assert woken.count <= 4  # a 0.05 s poll would have woken ~20 times in that second
    finally:
        proc.kill()
        proc.wait()


async def test_a_death_before_ready_is_seen_at_once_not_at_the_timeout(wakeups: Counter) -> None:
    read_fd, proc = _writer("time.sleep(0.5)")  # exits without writing: the kernel closes W
    with wakeups() as woken, trio.fail_after(10):
        assert await wait_ready(read_fd, timeout_s=60) is None
    assert woken.count <= 4
    proc.wait()


async def test_silence_times_out_with_a_clear_error() -> None:
    read_fd, proc = _writer("time.sleep(60)")
    try:
        with pytest.raises(OperationTimeoutError, match=r"did not start within 0\.3s"):
            await wait_ready(read_fd, timeout_s=0.3)
    finally:
        proc.kill()
        proc.wait()


def test_the_runtime_side_takes_the_fd_out_of_its_environment() -> None:
    read_fd, write_fd = os.pipe()
    env = {READY_FD_ENV: str(write_fd), "OTHER": "1"}
    fd = take_ready_fd(env)
    assert (fd, env) == (write_fd, {"OTHER": "1"})  # children never see it
    assert take_ready_fd({}) is None
    assert fd is not None
    signal_ready(fd, 77)
    assert os.read(read_fd, 100) == b"77\n"
    assert os.read(read_fd, 100) == b""  # closed after the pid
    os.close(read_fd)
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    signal_ready(write_fd, 1)  # a starter that went away (EPIPE) is not an error


async def test_a_real_runtime_that_cannot_start_is_reported_promptly(tmp_path: Path) -> None:
    """``python -m tinytown.runtime`` in a directory that is no town exits at once."""
    not_a_town = tmp_path / "nowhere"
    not_a_town.mkdir()
    read_fd = launch_detached(not_a_town, env={**os.environ, "HOME": str(tmp_path)})
    with trio.fail_after(60):
        assert await wait_ready(read_fd, timeout_s=120) is None
    log = (not_a_town / ".tt" / "logs" / "runtime.log").read_text()
    assert "Town not initialized" in log  # the reason is in the log the error points to
