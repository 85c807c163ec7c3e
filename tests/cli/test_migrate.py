"""``tt migrate`` through the CLI, on a private Redis (legacy keys are server-wide)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py

from tinytown.codec import agent_to_json, task_to_json
from tinytown.models import Agent, Task

TT = Callable[..., Any]
NOW = datetime(2026, 4, 20, 18, 22, 15, tzinfo=UTC)


@pytest.fixture
def private(
    tt: TT, redis_server_factory: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[redis_py.Redis]:
    """Point the ``tt`` town at a private server; return a redis-py client of it."""
    srv = redis_server_factory()
    monkeypatch.setenv("REDIS_URL", srv.url)
    client = redis_py.Redis(unix_socket_path=str(srv.socket_path), decode_responses=True)
    yield client
    client.close()


def _snapshot(client: redis_py.Redis) -> dict[Any, Any]:
    # The town's epoch (tinytown.epoch) is bookkeeping written at the first contact with a
    # town that has data, not a change a dry run makes to the data.
    return {k: client.dump(k) for k in client.keys("*") if not k.endswith(":epoch")}


def _book_keys(client: redis_py.Redis) -> None:
    client.set("tt:agent:abc123", "{}")
    client.rpush("tt:inbox:abc123", "m")
    client.set("tt:task:def456", "{}")


def test_dry_run_matches_the_book_and_changes_nothing(
    tt: TT, private: redis_py.Redis, town_name: str
) -> None:
    _book_keys(private)
    before = _snapshot(private)
    result = tt("migrate", "--dry-run")
    assert result.code == 0, result.err
    assert result.lines == [
        "🔍 Migration Preview (dry run)",
        f"   Town: {town_name}",
        "",
        "   Keys to migrate:",
        f"   tt:agent:abc123 → tt:{town_name}:agent:abc123",
        f"   tt:inbox:abc123 → tt:{town_name}:inbox:abc123",
        f"   tt:task:def456 → tt:{town_name}:task:def456",
        "",
        "   Total: 3 key(s) would be migrated",
        "",
        "   Run 'tt migrate' (without --dry-run) to perform migration.",
        "   ⚠️  2 agent/task record(s) are stored as JSON strings (an older format): "
        "run 'tt migrate --hash' after this migration to convert them",
    ]
    assert _snapshot(private) == before


def test_nothing_to_migrate(tt: TT, private: redis_py.Redis, town_name: str) -> None:
    assert tt("migrate").lines == [
        "✅ No migration needed - all keys already use town isolation format",
        f"   Town: {town_name}",
    ]
    assert tt("migrate", "--dry-run").lines[-1] == "   No old-format keys found."


@pytest.mark.parametrize("answer", ["", "n", "no", "yes please"])
def test_declining_the_prompt_changes_nothing(
    tt: TT, private: redis_py.Redis, town_name: str, answer: str
) -> None:
    _book_keys(private)
    before = _snapshot(private)
    result = tt("migrate", stdin=answer + "\n" if answer else "")
    assert result.code == 0, result.err
    assert result.lines[0] == "⚠️  Migration Warning"
    assert f"   tt:type:id → tt:{town_name}:type:id" in result.lines
    assert result.lines[-1] == "   Migration cancelled."
    assert result.err == "   Continue? [y/N]: "
    assert _snapshot(private) == before


@pytest.mark.parametrize("args", [["migrate"], ["migrate", "--force"]])
def test_migrate_renames_into_the_town(
    tt: TT, private: redis_py.Redis, town_name: str, args: list[str]
) -> None:
    _book_keys(private)
    private.rpush("tt:backlog", "def456")
    private.set("tt:stop:abc123", "1")
    result = tt(*args, stdin="y\n")
    assert result.code == 0, result.err
    assert result.lines[-9:] == [
        "🔄 Migrating to town isolation...",
        f"   Town: {town_name}",
        "",
        "✅ Migration complete!",
        "   Agents migrated:  1",
        "   Inboxes migrated: 1",
        "   Tasks migrated:   1",
        "   Other keys:       2",
        "   ⚠️  2 agent/task record(s) are stored as JSON strings (an older format): "
        "run 'tt migrate --hash' to convert them",
    ]
    assert sorted(private.keys("*")) == sorted(
        f"tt:{town_name}:{rest}"
        for rest in ("agent:abc123", "inbox:abc123", "task:def456", "backlog", "stop:abc123")
    )
    assert tt("migrate", "--dry-run").lines[-1] == "   No old-format keys found."


def test_a_taken_destination_is_reported_and_kept(
    tt: TT, private: redis_py.Redis, town_name: str
) -> None:
    private.rpush("tt:inbox:abc123", "old")
    private.rpush(f"tt:{town_name}:inbox:abc123", "live")
    result = tt("migrate", "--force")
    assert result.code == 1
    assert "   Inboxes migrated: 0" in result.lines
    err = result.err.splitlines()
    assert err[0] == "   ⚠️  1 key(s) failed to migrate:"
    assert err[1] == f"      - tt:inbox:abc123: tt:{town_name}:inbox:abc123 already exists"
    assert err[-1] == "Error: 1 key(s) failed to migrate (listed above)"
    assert private.lrange(f"tt:{town_name}:inbox:abc123", 0, -1) == ["live"]
    assert private.lrange("tt:inbox:abc123", 0, -1) == ["old"]


def test_hash_migration(
    tt: TT, tt_proc: TT, private: redis_py.Redis, town_name: str
) -> None:
    agent = Agent.new("backend", "claude", NOW)
    task = Task.new("Build it", NOW)
    private.set(f"tt:{town_name}:agent:{agent.id}", agent_to_json(agent))
    private.set(f"tt:{town_name}:task:{task.id}", task_to_json(task))
    before = _snapshot(private)
    hinted = tt_proc("migrate")  # issue 9 item 14: the default migration says --hash is needed
    assert hinted.lines[-1] == (
        "   ⚠️  2 agent/task record(s) are stored as JSON strings (an older format): "
        "run 'tt migrate --hash' to convert them")
    preview = tt("migrate", "--hash", "--dry-run")
    assert preview.lines == [
        "🔍 JSON-to-Hash Migration Preview (dry run)",
        f"   Town: {town_name}",
        "",
        "   Keys to convert to Hash:",
        f"   tt:{town_name}:agent:{agent.id} (string → hash)",
        f"   tt:{town_name}:task:{task.id} (string → hash)",
        "",
        "   Total: 2 key(s) would be migrated",
        "",
        "   Run 'tt migrate --hash' (without --dry-run) to perform migration.",
    ]
    assert _snapshot(private) == before
    declined = tt("migrate", "--hash", stdin="n\n")
    assert declined.lines[0] == "⚠️  JSON-to-Hash Migration Warning"
    assert declined.lines[-1] == "   Migration cancelled."
    assert _snapshot(private) == before
    result = tt("migrate", "--hash", "--force")
    assert result.code == 0, result.err
    assert result.lines[-4:] == [
        "✅ JSON-to-Hash migration complete!",
        "   Agents migrated: 1",
        "   Tasks migrated:  1",
        "   Already hash:    0",
    ]
    assert private.type(f"tt:{town_name}:agent:{agent.id}") == "hash"
    assert private.hget(f"tt:{town_name}:task:{task.id}", "description") == "Build it"
    assert tt("migrate", "--hash").lines == [
        "✅ No JSON-to-Hash migration needed - all keys already use Hash storage",
        f"   Town: {town_name}",
    ]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["migrate", "--dry"], 2, "Error: Unknown option"),
        (["migrate", "now"], 2, "Error:"),
        (["migrate", "--hash=maybe"], 2, "Error:"),
    ],
)
def test_bad_flags_change_nothing(
    tt: TT, private: redis_py.Redis, args: list[str], code: int, message: str
) -> None:
    _book_keys(private)
    before = _snapshot(private)
    result = tt(*args)
    assert (result.code, result.out) == (code, "")
    assert result.err.startswith(message)
    assert result.err.count("\n") == 1
    assert _snapshot(private) == before


def test_without_a_town(tt_nowhere: TT) -> None:
    result = tt_nowhere("migrate", "--dry-run")
    assert result.code == 4
    assert result.err == "Error: Town not initialized at . Run 'tt init' first.\n"


def test_with_redis_down(tt: TT, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", f"unix://{tmp_path}/nothing-here.sock")
    result = tt("migrate", "--force")
    assert (result.code, result.out) == (5, "")
    assert result.err.startswith("Error: ")
    assert result.err.count("\n") == 1
