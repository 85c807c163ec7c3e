"""``tt status`` through the real entry point (outputs pinned to the book)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from _work_helpers import assert_one_error_line, in_town, snapshot, spawn, uuids

from tinytown.cli.commands.status import render_status
from tinytown.models import AgentId, AgentState, TaskId
from tinytown.services import status as status_service
from tinytown.town import Town


def _header(town_dir: Path) -> list[str]:
    from tinytown.config import load_town_config

    name = load_town_config(town_dir).name
    import os

    return [
        f"🏘️  Town: {name}",
        f"📂 Root: {town_dir}",
        f"📡 Redis: {os.environ['REDIS_URL']}",
    ]


def _book_agents(tt, town_dir: Path) -> dict[str, AgentId]:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend", "frontend", "reviewer")
    states = {"backend": AgentState.WORKING, "frontend": AgentState.IDLE,
              "reviewer": AgentState.IDLE}

    async def body(town: Town) -> None:
        for name, state in states.items():
            await town.channel.set_agent_state(ids[name], state)

    in_town(town_dir, body)
    assert tt("send", "frontend", "Build the login form").code == 0
    assert tt("send", "frontend", "--query", "Which framework?").code == 0
    assert tt("send", "reviewer", "--info", "CI is green").code == 0
    return ids


def test_basic_status_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _book_agents(tt, town_dir)
    result = tt("status")
    assert result.code == 0, result.err
    assert result.lines == [
        *_header(town_dir),
        "🤖 Agents: 3",
        "   backend (Working) - 0 messages pending",
        "   frontend (Idle) - 2 messages pending "
        "(tasks: 1, queries: 1, informational: 0, confirmations: 0)",
        "   reviewer (Idle) - 1 messages pending "
        "(tasks: 0, queries: 0, informational: 1, confirmations: 0)",
        "📋 Tasks: 0 total (0 pending, 0 in-flight, 0 done)",
    ]


def test_deep_status_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = _book_agents(tt, town_dir)
    now = datetime(2026, 4, 20, 18, 0, tzinfo=UTC)
    setup = {
        "backend": (12, timedelta(hours=1, minutes=23), ["Round 11: ✅ completed",
                                                          "Round 12: ✅ completed"]),
        "frontend": (5, timedelta(minutes=45, seconds=12), ["Round 5: ✅ completed"]),
        "reviewer": (2, timedelta(minutes=30, seconds=5), ["Round 2: ⚠️ model error"]),
    }

    async def body(town: Town) -> status_service.StatusReport:
        for name, (rounds, age, activity) in setup.items():
            await town.channel.update_agent(
                ids[name], rounds_completed=rounds, created_at=now - age
            )
            for line in activity:
                await town.channel.log_activity(ids[name], line)
        return await status_service.status(town, deep=True)

    report = in_town(town_dir, body)
    lines = render_status(report, now, deep=True, tasks=False)
    assert lines == [
        *_header(town_dir),
        "🤖 Agents: 3",
        "   backend (Working) - 0 pending, 12 rounds, uptime 1h 23m",
        "      └─ Round 12: ✅ completed",
        "      └─ Round 11: ✅ completed",
        "   frontend (Idle) - 2 pending (tasks: 1, queries: 1, informational: 0, "
        "confirmations: 0), 5 rounds, uptime 45m 12s",
        "      └─ Round 5: ✅ completed",
        "   reviewer (Idle) - 1 pending (tasks: 0, queries: 0, informational: 1, "
        "confirmations: 0), 2 rounds, uptime 30m 5s",
        "      └─ Round 2: ⚠️ model error",
        "📋 Tasks: 0 total (0 pending, 0 in-flight, 0 done)",
        "",
        "📊 Stats: rounds completed, uptime since spawn",
        "",
        "📜 Recent Agent Activity:",
    ]
    # The command itself prints the same lines (uptime from the real clock).
    cli = tt("status", "--deep")
    assert cli.code == 0, cli.err
    assert re.fullmatch(
        r"   backend \(Working\) - 0 pending, 12 rounds, uptime \d+h \d+m", cli.lines[4]
    )
    assert cli.lines[5:7] == lines[5:7]


def test_task_breakdown_matches_the_book_layout(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    spawn(town_dir, "backend", "reviewer")
    ids: dict[str, str] = {}
    for agent, desc in [
        ("backend", "Implement user authentication"),
        ("backend", "Add rate limiting to API"),
        ("backend", "Setup database migrations"),
        ("backend", "Create user model"),
        ("reviewer", "Review auth implementation"),
        ("reviewer", "Review database schema"),
    ]:
        (ids[desc],) = uuids(tt("assign", agent, desc).out)
    for desc in ("Write integration tests", "Document token refresh behavior"):
        (ids[desc],) = uuids(tt("backlog", "add", desc).out)
    for desc in ("Setup database migrations", "Create user model", "Review database schema"):
        assert tt("task", "complete", ids[desc]).code == 0

    async def start(town: Town) -> None:
        for desc in ("Implement user authentication", "Review auth implementation"):
            task = await town.channel.require_task(TaskId.parse(ids[desc]))
            await town.channel.set_task(task.started(datetime.now(UTC)))

    in_town(town_dir, start)
    result = tt("status", "--tasks")
    assert result.code == 0, result.err
    out = result.lines
    at = out.index("📋 Tasks: 8 total (2 pending, 3 in-flight, 3 done)")
    assert out[at + 1 : at + 12] == [
        "",
        "📊 Task Breakdown by State:",
        "   ⏳ Pending:   2",
        "   📌 Assigned:  1",
        "   🔄 Running:   2",
        "   ✅ Completed: 3",
        "   ❌ Failed:    0",
        "   🚫 Cancelled: 0",
        "   📋 Backlog:   2",
        "",
        "📋 Tasks by Agent:",
    ]
    short = {desc: tid[:8] for desc, tid in ids.items()}
    assert out[at + 12] == "   backend (2 active, 2 done):"
    assert out[at + 13 : at + 15] == [
        f"      🔄 {short['Implement user authentication']} Implement user authentication",
        f"      📌 {short['Add rate limiting to API']} Add rate limiting to API",
    ]
    assert sorted(out[at + 15 : at + 17]) == sorted([
        f"      ✅ {short['Setup database migrations']} Setup database migrations",
        f"      ✅ {short['Create user model']} Create user model",
    ])
    assert out[at + 17 : at + 21] == [
        "   reviewer (1 active, 1 done):",
        f"      🔄 {short['Review auth implementation']} Review auth implementation",
        f"      ✅ {short['Review database schema']} Review database schema",
        "   (unassigned) (2 tasks):",
    ]
    assert sorted(out[at + 21 :]) == sorted([
        f"      ⏳ {short['Write integration tests']} Write integration tests",
        f"      ⏳ {short['Document token refresh behavior']} Document token refresh behavior",
    ])
    # In plain status the running task shows under its agent.
    plain = tt("status").lines
    assert "      └─ Working: Implement user authentication" in plain


def test_terminal_note_overflow_and_json(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "old", "worker")
    in_town(town_dir, lambda town: town.channel.set_agent_state(ids["old"], AgentState.STOPPED))
    for i in range(7):
        tt("assign", "worker", f"job {i} " + "x" * 60)
    out = tt("status", "--tasks").lines
    assert (
        "   Note: 1 terminal agent(s) are still listed. Run 'tt prune' to remove them from Redis."
        in out
    )
    assert "      ... and 2 more task(s)" in out
    assert any(line.endswith("x" * 29 + "...") for line in out)  # 50 characters then "..."
    doc = json.loads(tt("status", "--tasks", "--json").out)
    assert doc["tasks"]["assigned"] == 7
    assert doc["tasks"]["total"] == 7
    assert [a["name"] for a in doc["agents"]] == ["old", "worker"]
    assert doc["agents"][1]["inbox"] == 7
    assert doc["agents"][1]["counts"]["tasks"] == 7
    assert doc["groups"][0]["total"] == 7
    assert len(doc["groups"][0]["tasks"]) == 5
    assert doc["terminal_agents"] == 1


def test_deep_shows_agent_logs(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    aid = spawn(town_dir, "backend")["backend"]
    logs = town_dir / ".tt" / "logs"  # per-agent files are named by agent id
    (logs / f"{aid}.log").write_text(
        "2026-04-20T18:22:15.123456Z  INFO tt: 🔄 Agent 'backend' starting loop (max 10 rounds)\n"
        "   ✅ Round 1 complete\n   ✅ Round 2 complete\n   📭 Inbox empty, waiting...\n"
    )
    (logs / f"{aid}_round_2.log").write_text("wrote src/auth.rs\n")
    out = tt("status", "--deep").lines
    at = out.index("--- backend ---")
    assert out[at + 1 :] == [
        "  🔄 Agent 'backend' starting loop (max 10 rounds)",
        "  ✅ Rounds 1-2 completed (2 rounds)",
        "",
        "  📋 Latest Round 2 Activity:",
        "     wrote src/auth.rs",
    ]


BAD_INPUT = [
    (["status", "--bogus"], 2, "Error: "),
    (["status", "extra"], 2, "Error: "),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT)
def test_bad_input_fails_cleanly_and_changes_nothing(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, args: list[str], code: int, message: str
) -> None:
    spawn(town_dir, "backend")
    before = snapshot(town_dir)
    result = tt(*args)
    assert result.code == code, (result.out, result.err)
    assert_one_error_line(result.err, message)
    assert snapshot(town_dir) == before


def test_no_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    result = tt_nowhere("status")
    assert result.code == 4
    assert_one_error_line(result.err, "Error: Town not initialized at .")


def test_redis_down(tt, town_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REDIS_URL", f"unix://{town_dir}/nothing-here.sock")
    result = tt("status")
    assert result.code == 5
    assert_one_error_line(result.err)


@pytest.mark.parametrize(
    "args",
    [["status"], ["status", "--deep"], ["status", "--tasks"], ["list", "--long"],
     ["inbox", "--all"], ["inbox", "backend"]],
)
def test_queue_keys_of_the_wrong_type_are_skipped_with_a_warning(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, args: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    ids = spawn(town_dir, "backend", "frontend")
    assert tt("send", "frontend", "Build the login form").code == 0

    async def corrupt(town: Town) -> None:
        keys, aid = town.channel.keys, ids["backend"]
        for key in (keys.inbox(aid), keys.urgent(aid), keys.processing(aid), keys.activity(aid)):
            await town.redis.execute("SET", key, "not a list")
        await town.redis.execute("SET", keys.backlog, "not a list")

    in_town(town_dir, corrupt)
    caplog.clear()
    result = tt(*args)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings
    assert all(w.startswith("skipping tt:") and "WRONGTYPE" in w for w in warnings)
    if args[0] != "inbox" or args[-1] == "--all":
        assert "frontend" in result.out
