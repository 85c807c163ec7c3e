"""``tt save`` / ``tt restore``: a real round trip through the CLI, and bad input."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from tinytown.keys import Keys
from tinytown.redis import server
from tinytown.town import Town

TT = Callable[..., Any]


@pytest.fixture
def managed(tmp_path: Path, tt_nowhere: TT, monkeypatch: pytest.MonkeyPatch) -> Iterator[TT]:
    """``tt`` in an empty directory without REDIS_URL; the town's Redis is stopped afterwards."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    yield tt_nowhere
    trio.run(server.stop_town_server, tmp_path / "empty")


async def _redis(root: Path, *command: str | int) -> Any:
    async with Town.connect(root) as town:
        return await town.redis.execute(*command)


def test_save_change_restore_round_trip(managed: TT, tmp_path: Path) -> None:
    root = tmp_path / "empty"
    assert managed("init", "-n", "my-project").code == 0
    key = Keys("my-project").backlog
    trio.run(_redis, root, "RPUSH", key, "t1", "t2")

    saved = managed("save", "--output", "../town-state.rdb")
    assert saved.code == 0, saved.err
    size = (root / ".tt" / "redis.rdb").stat().st_size
    assert saved.lines[:3] == [
        "💾 Saving Redis state...",
        f"   Snapshot saved. File: ./.tt/redis.rdb ({size} B)",
        "   Copy written to: ../town-state.rdb",
    ]
    assert "   git add ../town-state.rdb" in saved.lines
    assert (tmp_path / "town-state.rdb").read_bytes() == (root / ".tt" / "redis.rdb").read_bytes()

    trio.run(_redis, root, "DEL", key)
    trio.run(_redis, root, "SET", Keys("my-project").agent("x"), "later")

    restored = managed("restore", "--input", "../town-state.rdb", "--force")
    assert restored.code == 0, restored.err
    assert restored.lines[0] == f"📂 Snapshot found: ../town-state.rdb ({size} B)"
    assert "   Stopped the town's Redis and started it again on the snapshot." in restored.lines
    assert "   The state it replaced is kept in ./.tt/redis.rdb.bak" in restored.lines
    # The backlog and the town's epoch (tinytown.epoch).
    assert restored.lines[-1] == "✅ Restored town 'my-project': 2 key(s) (0 agent(s), 0 task(s))"
    assert trio.run(_redis, root, "LRANGE", key, 0, -1) == ["t1", "t2"]
    assert trio.run(_redis, root, "EXISTS", Keys("my-project").agent("x")) == 0


def test_save_default_tells_how_to_commit_the_snapshot(managed: TT) -> None:
    assert managed("init", "-n", "my-project").code == 0
    result = managed("save")
    assert result.code == 0, result.err
    assert result.lines[0] == "💾 Saving Redis state..."
    assert result.lines[1].startswith("   Snapshot saved. File: ./.tt/redis.rdb (")
    assert result.lines[2:6] == [
        "",
        "   To version control Redis state:",
        "   git add -f .tt/redis.rdb",
        "   git commit -m 'Save town state'",
    ]


def test_restore_default_snapshot(managed: TT, tmp_path: Path) -> None:
    root = tmp_path / "empty"
    assert managed("init", "-n", "my-project").code == 0
    trio.run(_redis, root, "SET", Keys("my-project").backlog, "saved")
    assert managed("save").code == 0
    trio.run(_redis, root, "SET", Keys("my-project").backlog, "changed")
    result = managed("restore", "--force")
    assert result.code == 0, result.err
    assert result.lines[0].startswith("📂 Snapshot found: ./.tt/redis.rdb (")
    assert trio.run(_redis, root, "GET", Keys("my-project").backlog) == "saved"


def test_save_on_a_shared_server(tt: TT, tmp_path: Path) -> None:
    result = tt("save", "-o", str(tmp_path / "copy.rdb"))
    assert result.code == 0, result.err
    assert result.lines[1].startswith("   Snapshot saved. File: ")
    assert (tmp_path / "copy.rdb").read_bytes()[:5] == b"REDIS"


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["save", "--output", "no-such-dir/x.rdb"], 6, "Error: Cannot write snapshot to"),
        (["save", "--output", "."], 6, "Error: Cannot write snapshot to .: it is a directory"),
        (["save", "--output"], 2, "Error:"),
        (["save", "extra"], 2, "Error:"),
        (["restore", "--input", "missing.rdb"], 3, "Error: No snapshot found at missing.rdb"),
        (["restore"], 3, "Error: No snapshot found at .tt/redis.rdb"),
        (["restore", "--input", "tinytown.toml"], 6, "Error: tinytown.toml is not a Redis RDB"),
        (["restore", "--input", "."], 6, "Error: . is a directory"),
        (["restore", "--bogus"], 2, "Error: Unknown option"),
    ],
)
def test_bad_input_changes_nothing(
    tt: TT, town_dir: Path, args: list[str], code: int, message: str
) -> None:
    before = sorted(p.name for p in town_dir.rglob("*"))
    result = tt(*args)
    assert result.code == code, result
    assert result.err.startswith(message), result.err
    assert result.err.count("\n") == 1
    assert sorted(p.name for p in town_dir.rglob("*")) == before


def test_restore_refuses_a_server_tt_does_not_manage(tt: TT, town_dir: Path) -> None:
    assert tt("save", "-o", "state.rdb").code == 0
    result = tt("restore", "-i", "state.rdb")
    assert (result.code, result.out) == (7, "")
    assert result.err.startswith("Error: The town's Redis (unix://")
    assert "not managed by tt" in result.err
    assert result.err.count("\n") == 1


@pytest.mark.parametrize("command", [["save"], ["restore"]])
def test_without_a_town(tt_nowhere: TT, command: list[str]) -> None:
    result = tt_nowhere(*command)
    assert result.code == 4
    assert result.err == "Error: Town not initialized at . Run 'tt init' first.\n"


def test_save_with_redis_down(tt: TT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/nothing-here.sock")
    result = tt("save")
    assert result.code == 5
    assert result.err.startswith("Error: ")
    assert result.err.count("\n") == 1


def _installed_tt(root: Path, *args: str, stdin: int = subprocess.DEVNULL
                  ) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))
    return subprocess.run([exe, *args], cwd=root, env=os.environ.copy(), text=True, stdin=stdin,
                          capture_output=True, timeout=60,
                          check=False)


def test_restore_asks_on_a_terminal_needs_force_elsewhere_and_can_be_undone(
    managed: TT, tmp_path: Path
) -> None:
    """Issue 9 item 11, through the installed tt."""
    root = tmp_path / "empty"
    key = Keys("my-project").backlog
    assert managed("init", "-n", "my-project").code == 0
    trio.run(_redis, root, "SET", key, "saved")
    assert managed("save").code == 0
    trio.run(_redis, root, "SET", key, "live work")

    refused = _installed_tt(root, "restore", stdin=subprocess.DEVNULL)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "Error: tt restore replaces the town's live state: confirm on a terminal, or pass "
        "--force (the state it replaces is kept in .tt/redis.rdb.bak)"
    ]
    assert trio.run(_redis, root, "GET", key) == "live work"

    for answer, expected in (("n\n", "live work"), ("y\n", "saved")):
        leader, follower = pty.openpty()
        try:
            os.write(leader, answer.encode())
            done = _installed_tt(root, "restore", stdin=follower)
        finally:
            os.close(follower)
            os.close(leader)
        assert "Restore now? [y/N]: " in done.stderr
        assert done.returncode == (1 if expected == "live work" else 0), done.stderr
        assert trio.run(_redis, root, "GET", key) == expected

    undo = _installed_tt(root, "restore", "--input", ".tt/redis.rdb.bak", "--force")
    assert undo.returncode == 0, undo.stderr
    assert trio.run(_redis, root, "GET", key) == "live work"  # the replaced state came back
