"""A closed pipe is handled like a Unix tool does (issue 9, item 10), through the installed ``tt``.

The reader of ``tt``'s stdout is gone before ``tt`` writes its first line (as
with ``tt status | head -1`` once ``head`` has its line): no traceback, and
a command that changes state still does all of its work.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from conftest import TT

from tinytown.config import list_towns, load_town_config
from tinytown.redis import server

EXE = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))


def _run_into_closed_pipe(cwd: Path, *args: str) -> tuple[int, str]:
    """Run ``tt ARGS`` with a stdout pipe whose reading end is already closed."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([EXE, *args], stdout=write_end, stderr=subprocess.PIPE, cwd=cwd,
                              env=os.environ.copy(), text=True, timeout=60, check=False)
    finally:
        os.close(write_end)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    "args", [["status"], ["status", "--json"], ["list"], ["inbox", "--all"], ["history"],
             ["--help"], ["plan"]],
)
def test_read_commands_into_a_closed_pipe_print_no_traceback(
    tt_proc: TT, town_dir: Path, args: list[str]
) -> None:
    code, err = _run_into_closed_pipe(town_dir, *args)
    assert "Traceback" not in err, err
    assert "BrokenPipeError" not in err, err
    assert code in (0, 1, 141), (code, err)


@pytest.fixture
def fresh_dir(tmp_path: Path, tt_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty directory for ``tt init`` (its own Redis, stopped at teardown)."""
    root = tmp_path / "fresh"
    root.mkdir()
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield root
    if (root / ".tt" / "redis.pid").exists():
        trio.run(server.stop_town_server, root)


def test_init_into_a_closed_pipe_still_sets_up_the_whole_town(
    fresh_dir: Path, tt_home: Path
) -> None:
    code, err = _run_into_closed_pipe(fresh_dir, "init", "--name", "piped")
    assert "Traceback" not in err, err
    assert code == 0, err
    assert load_town_config(fresh_dir).name == "piped"
    assert [t.name for t in list_towns(tt_home)] == ["piped"]
    assert server.server_running(fresh_dir)
    for sub in ("agents", "logs", "tasks"):
        assert (fresh_dir / ".tt" / sub).is_dir()
