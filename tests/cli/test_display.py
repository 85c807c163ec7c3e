"""tinytown.cli.display and tinytown.models.text: the pure display helpers of cli.md §0.6."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tinytown.cli import display
from tinytown.models import Agent, Task, TaskId
from tinytown.models import text as text_helpers

T = datetime(2026, 4, 20, 18, 22, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("short", 10, "short"),
        ("  padded  \nsecond line", 10, "padded"),
        ("exactly10!", 10, "exactly10!"),
        ("eleven chars", 10, "eleven ..."),
        ("", 5, ""),
    ],
)
def test_truncate_summary(text: str, n: int, expected: str) -> None:
    assert text_helpers.truncate_summary(text, n) == expected


def test_cut_keeps_whole_texts_up_to_the_threshold() -> None:
    assert text_helpers.cut("a" * 50, 47, over=50) == "a" * 50
    assert text_helpers.cut("a" * 51, 47, over=50) == "a" * 47 + "..."
    assert text_helpers.cut("abcdef", 3) == "abc..."
    assert text_helpers.cut("abc", 3) == "abc"


@pytest.mark.parametrize(
    ("seconds", "duration", "ago"),
    [
        (0, "0s", "just now"),
        (59, "59s", "just now"),
        (60, "1m 0s", "1m ago"),
        (45 * 60 + 12, "45m 12s", "45m ago"),
        (3600 + 23 * 60 + 5, "1h 23m", "1h 23m ago"),
        (-5, "0s", "just now"),
    ],
)
def test_durations(seconds: int, duration: str, ago: str) -> None:
    delta = timedelta(seconds=seconds)
    assert display.format_duration(delta) == duration
    assert display.format_ago(delta) == ago


def test_timestamps() -> None:
    assert display.book_ts(T.replace(microsecond=123456)) == "2026-04-20T18:22:15Z"
    paris = T.astimezone(timezone(timedelta(hours=2)))
    assert display.clock(paris) == "18:22:15"


def test_task_ids() -> None:
    tid = TaskId.parse("550e8400-e29b-41d4-a716-446655440000")
    assert display.task_ref(tid) == "550e8400-..."
    assert display.task_short(tid) == "550e8400"


def test_json_docs() -> None:
    task = Task.new("Build", T, tags=["a"])
    doc = display.task_doc(task)
    assert doc["id"] == str(task.id)
    assert doc["tags"] == ["a"]
    assert doc["state"] == "pending"
    agent = Agent.new("backend", "claude", T)
    adoc = display.agent_doc(agent)
    assert adoc["name"] == "backend"
    assert adoc["label"] == agent.label
