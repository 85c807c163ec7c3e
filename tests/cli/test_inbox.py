"""``tt inbox`` and ``tt tasks`` through the real entry point (outputs pinned to the book)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _work_helpers import assert_one_error_line, in_town, snapshot, spawn

from tinytown.models import SUPERVISOR, AgentState
from tinytown.town import Town

BOOK_INBOX_ALL = """\
📋 Pending Messages by Agent:

  backend (Working):
    [T] 2 tasks requiring action
    [Q] 1 queries awaiting response
    [I] 3 informational
    [C] 0 confirmations
    • Fix authentication bug in login endpoint
    • Update database schema for new fields

  reviewer (Idle):
    [T] 1 tasks requiring action
    [Q] 0 queries awaiting response
    [I] 0 informational
    [C] 2 confirmations
    • Review PR #42: Add user validation

Total: 4 actionable message(s)
"""


def _book_town(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    ids = spawn(town_dir, "backend", "reviewer")

    async def states(town: Town) -> None:
        await town.channel.set_agent_state(ids["backend"], AgentState.WORKING)
        await town.channel.set_agent_state(ids["reviewer"], AgentState.IDLE)

    in_town(town_dir, states)
    commands = [
        ("assign", "backend", "Fix authentication bug in login endpoint"),
        ("assign", "backend", "Update database schema for new fields"),
        ("send", "backend", "--query", "Can you take auth token refresh next?"),
        ("send", "backend", "--info", "CI is green on commit a1b2c3d"),
        ("send", "backend", "--info", "Docs moved to docs/api.md"),
        ("send", "backend", "--info", "FYI: staging is down"),
        ("assign", "reviewer", "Review PR #42: Add user validation"),
        ("send", "reviewer", "--ack", "Received"),
        ("send", "reviewer", "--ack", "thanks!"),
    ]
    for args in commands:
        assert tt(*args).code == 0


def test_inbox_all_matches_the_book(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _book_town(tt, town_dir)
    result = tt("inbox", "--all")
    assert result.code == 0, result.err
    assert result.out == BOOK_INBOX_ALL
    assert tt("inbox", "-a").out == BOOK_INBOX_ALL
    assert tt("tasks").out == BOOK_INBOX_ALL  # the deprecated alias still works


def test_inbox_for_one_agent_starts_with_the_book_line(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    spawn(town_dir, "backend")
    tt("assign", "backend", "Build the API")
    tt("send", "backend", "--query", "Which database?")
    tt("send", "backend", "--info", "CI is green")
    result = tt("inbox", "backend")
    assert result.code == 0, result.err
    lines = result.lines
    assert lines[0] == "📬 Inbox for 'backend': 3 messages"
    assert lines[1:5] == [
        "   [T] 1 tasks requiring action",
        "   [Q] 1 queries awaiting response",
        "   [I] 1 informational",
        "   [C] 0 confirmations",
    ]
    assert lines[5] == ""
    assert lines[6].startswith("   [T] task ")
    assert lines[6].endswith(": Build the API")
    assert lines[7:] == ["   [Q] question: Which database?", "   [I] CI is green"]


def test_inbox_previews_stop_at_ten_and_count_the_rest(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    spawn(town_dir, "backend")
    for i in range(12):
        tt("send", "backend", "--info", f"note {i}")
    tt("send", "backend", "--urgent", "now!")
    lines = tt("inbox", "backend").lines
    assert lines[0] == "📬 Inbox for 'backend': 12 messages"
    assert "   🚨 1 urgent message(s), read before the inbox" in lines
    assert lines[-1] == "   …plus 2 more message(s)"
    assert sum(1 for x in lines if x.startswith("   [I] note")) == 10


def test_supervisor_mailbox_and_empty_states(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert tt("inbox", "--all").out == "No agents. Run 'tt spawn <name>' to create one.\n"
    tt("send", "conductor", "--info", "all green")
    out = tt("inbox", "conductor").lines
    assert out[0] == (
        "📬 Inbox for 'conductor (well-known supervisor/conductor mailbox)': 1 messages"
    )
    lines = tt("inbox", "--all").lines
    assert "  supervisor/conductor (well-known mailbox):" in lines
    assert lines[-1] == "Total: 0 actionable message(s)"
    spawn(town_dir, "idle")
    tt("inbox", "conductor")
    in_town(town_dir, lambda town: town.redis.execute("DEL", town.channel.keys.inbox(SUPERVISOR)))
    assert tt("inbox", "--all").out == "📋 Pending Messages by Agent:\n\n  (no pending messages)\n"


def test_inbox_without_arguments_prints_usage(tt) -> None:  # type: ignore[no-untyped-def]
    result = tt("inbox")
    assert result.code == 0
    assert result.lines == [
        "Usage: tt inbox <AGENT> or tt inbox --all",
        "  tt inbox <agent>  - Show inbox for a specific agent",
        "  tt inbox --all    - Show pending messages for all agents",
    ]


def test_json_documents(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    _book_town(tt, town_dir)
    one = json.loads(tt("inbox", "backend", "--json").out)
    assert one["length"] == 6
    assert one["counts"]["tasks"] == 2
    assert one["agent"]["name"] == "backend"
    assert [p["category"] for p in one["previews"]][:3] == ["[T]", "[T]", "[Q]"]
    everything = json.loads(tt("inbox", "--all", "--json").out)
    assert everything["total_actionable"] == 4
    assert [s["name"] for s in everything["sections"]] == ["backend", "reviewer"]
    assert json.loads(tt("tasks", "--json").out) == everything


BAD_INPUT = [
    (["inbox", "ghost"], 3, "Error: Agent not found: ghost"),
    (["inbox", "backend", "--bogus"], 2, "Error: "),
    (["tasks", "extra"], 2, "Error: "),
]


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT)
def test_bad_input_fails_cleanly_and_changes_nothing(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, args: list[str], code: int, message: str
) -> None:
    spawn(town_dir, "backend")
    tt("send", "backend", "hi")
    before = snapshot(town_dir)
    result = tt(*args)
    assert result.code == code, (result.out, result.err)
    assert_one_error_line(result.err, message)
    assert result.out == ""
    assert snapshot(town_dir) == before


def test_no_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    for args in (["inbox", "--all"], ["tasks"], ["inbox", "backend"]):
        result = tt_nowhere(*args)
        assert result.code == 4
        assert_one_error_line(result.err, "Error: Town not initialized")
