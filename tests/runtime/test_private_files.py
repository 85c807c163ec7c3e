"""Under umask 022, nothing under ``.tt/`` is readable by group or others (issue 10 item 4)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from _rt_support import RtTown, managed_town_fixture, wait_until  # noqa: F401

from tinytown.config import load_town_config, new_town_config, save_town_config


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _task_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 4)


def test_nothing_under_tt_is_readable_by_others(umask_022: None, managed_town: RtTown) -> None:
    town = managed_town
    town.ok("spawn", "worker", "-m", "ok")
    task_id = _task_id(town.ok("assign", "worker", "Secret work"))
    wait_until(lambda: town.task(task_id).get("state") == "completed", "task completed")
    town.ok("save")
    town.ok("backlog", "add", "more secret work")
    tt_dir = town.root / ".tt"
    seen: list[str] = []
    loose: list[str] = []
    for path in [tt_dir, *tt_dir.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        seen.append(str(path.relative_to(town.root)))
        if stat.S_IMODE(mode) & 0o077:
            loose.append(f"{path.relative_to(town.root)} {stat.S_IMODE(mode):o}")
    assert loose == []
    # The run wrote what a town writes: logs, round logs, pid files, snapshot, AOF, marker.
    for expected in (".tt/redis.rdb", ".tt/town.json", ".tt/logs/runtime.log",
                     f".tt/logs/{town.agent('worker')['id']}_round_1.log"):
        assert expected in seen, seen


def test_a_town_file_holding_a_password_is_written_private(
    umask_022: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = new_town_config("secret-town")
    save_town_config(tmp_path, cfg)
    assert stat.S_IMODE((tmp_path / "tinytown.toml").stat().st_mode) == 0o644
    cfg.redis.password = "s3cret"
    save_town_config(tmp_path, cfg)
    assert stat.S_IMODE((tmp_path / "tinytown.toml").stat().st_mode) == 0o600
    (tmp_path / "tinytown.toml").chmod(0o644)
    load_town_config(tmp_path)
    assert "holds a Redis password and is readable by other users" in caplog.text
