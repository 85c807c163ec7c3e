"""``tt history`` and ``tt events`` (incl. ``--follow`` without repeats) through the real CLI."""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _work_helpers import assert_one_error_line, in_town, snapshot, spawn

from tinytown.models import AgentId, Event, EventType
from tinytown.town import Town

LINE_WAIT_S = 20.0


def _emit(town_dir: Path, *texts: str, agent: AgentId | None = None) -> None:
    async def body(town: Town) -> None:
        for text in texts:
            await town.channel.emit(
                Event(
                    event_type=EventType.AGENT_INTERRUPTED,
                    message=text,
                    timestamp=datetime(2026, 4, 20, 18, 22, 15, tzinfo=UTC),
                    agent_id=agent,
                )
            )

    in_town(town_dir, body)


def test_history_lines(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert tt("history").out == "📜 No events recorded yet.\n"
    ids = spawn(town_dir, "backend")
    tt("assign", "backend", "Build the API")
    _emit(town_dir, "Maintenance window " + "z" * 80)
    result = tt("history")
    assert result.code == 0, result.err
    lines = result.lines
    assert lines[:2] == ["📜 Recent History (3 events):", ""]
    assert re.fullmatch(r"  \d\d:\d\d:\d\d 🐣 \*backend\* Agent 'backend' spawned with CLI \w+",
                        lines[2])
    assert re.fullmatch(r"  \d\d:\d\d:\d\d 📌 \*backend\* Task assigned: Build the API", lines[3])
    assert lines[4] == "  18:22:15 ⏸️ *system* Maintenance window " + "z" * 61 + "..."
    mine = tt("history", "--agent", "backend", "-n", "2").lines
    assert mine[0] == "📜 Recent History (2 events):"
    assert len(mine) == 4  # the agent's 2 newest events, though the newest event is not its
    doc = json.loads(tt("history", "--json").out)
    assert doc["read"] == 3
    assert [e["who"] for e in doc["events"]] == ["backend", "backend", "system"]
    assert doc["events"][0]["agent_id"] == str(ids["backend"])


def test_history_filters_by_agent_before_counting(tt, tt_proc, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 9 item 14, through the installed tt: -n counts the agent's events."""
    spawn(town_dir, "alpha", "beta")
    for n in range(3):
        assert tt("assign", "alpha", f"Alpha task {n}").code == 0
    for n in range(5):
        assert tt("assign", "beta", f"Beta task {n}").code == 0
    lines = tt_proc("history", "-n", "2", "-a", "alpha").lines
    assert lines[0] == "📜 Recent History (2 events):"
    assert [line.split("*alpha* ")[1] for line in lines[2:]] == [
        "Task assigned: Alpha task 1", "Task assigned: Alpha task 2"]


def test_events_newest_first_page(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert tt("events").out == "No events found. Events are emitted on state transitions.\n"
    ids = spawn(town_dir, "backend")
    _emit(town_dir, *[f"e{i}" for i in range(4)])
    result = tt("events", "-c", "2")
    assert result.out == (
        "18:22:15 [agent_interrupted] town — e2\n18:22:15 [agent_interrupted] town — e3\n"
    )
    _emit(town_dir, "mine", agent=ids["backend"])
    own = tt("events", "--agent", "backend").lines
    assert own[-1] == f"18:22:15 [agent_interrupted] agent:{ids['backend']} — mine"
    doc = json.loads(tt("events", "--count", "1", "--json").out)
    assert [e["message"] for e in doc["events"]] == ["mine"]


class LineReader:
    """Read whole lines from a child's stdout pipe, waiting at most LINE_WAIT_S for each."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buffer = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)

    def line(self) -> str:
        while b"\n" not in self.buffer:
            if not self.selector.select(timeout=LINE_WAIT_S):
                raise AssertionError(f"no complete line from tt; got {self.buffer!r}")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise AssertionError(f"tt exited; got {self.buffer!r}")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\n", 1)
        return head.decode()

    def close(self) -> None:
        self.selector.close()


def test_follow_prints_each_event_once(town_dir: Path) -> None:
    _emit(town_dir, "old0", "old1", "old2")
    exe = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))
    with subprocess.Popen(
        [exe, "events", "--follow", "--count", "2"],
        cwd=town_dir, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as proc:
        reader = LineReader(proc)
        try:
            seen = [reader.line() for _ in range(2)]
            _emit(town_dir, "new0", "new1")
            seen += [reader.line() for _ in range(2)]
            _emit(town_dir, "marker")
            seen.append(reader.line())
        finally:
            reader.close()
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=LINE_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        assert proc.stderr is not None
        err = proc.stderr.read().decode()
    assert [s.rsplit(" — ", 1)[1] for s in seen] == ["old1", "old2", "new0", "new1", "marker"]
    assert proc.returncode == 130
    assert err.strip() == "Interrupted"


BAD_INPUT = [
    (["history", "--agent", "ghost"], 3, "Error: Agent not found: ghost"),
    (["history", "--limit", "0"], 2, "Error: --limit must be at least 1"),
    (["history", "-n", "many"], 2, "Error: "),
    (["events", "--agent", "ghost"], 3, "Error: Agent not found: ghost"),
    (["events", "--mission", "nope"], 6, "Error: Invalid mission ID: 'nope'"),
    (["events", "--count", "0"], 2, "Error: --count must be at least 1"),
    (["events", "--follow", "--bogus"], 2, "Error: "),
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
    assert result.out == ""
    assert snapshot(town_dir) == before


def test_no_town(tt_nowhere) -> None:  # type: ignore[no-untyped-def]
    for args in (["history"], ["events"]):
        result = tt_nowhere(*args)
        assert result.code == 4
        assert_one_error_line(result.err, "Error: Town not initialized")
