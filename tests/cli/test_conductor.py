"""``tt conductor``: context file, fresh vs resume, and the launch of a (fake) conductor CLI."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import trio

from tinytown.config import load_town_config, save_town_config
from tinytown.config.presets import CliPreset
from tinytown.models import SUPERVISOR, Message, MessageType, Task
from tinytown.services.registration import register_agent
from tinytown.town import Town, utcnow

TT = Callable[..., Any]

FAKE_CLI = """\
import json, os, sys
data = {"argv": sys.argv[1:], "stdin": sys.stdin.read(), "cwd": os.getcwd()}
with open(os.environ["FAKE_RECORD"], "w", encoding="utf-8") as fh:
    json.dump(data, fh)
print("fake conductor ran")
"""


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "record.json"
    monkeypatch.setenv("FAKE_RECORD", str(path))
    return path


def configure(town_dir: Path, conductor_cli: str, **presets: str) -> None:
    config = load_town_config(town_dir)
    config.conductor_cli = conductor_cli
    config.agent_clis.update({n: CliPreset(n, c) for n, c in presets.items()})
    save_town_config(town_dir, config)


def fake_script(tmp_path: Path) -> Path:
    script = tmp_path / "fake_cli.py"
    script.write_text(FAKE_CLI)
    return script


def test_print_context_fresh(tt: TT, town_dir: Path, town_name: str) -> None:
    result = tt("conductor", "--print-context")
    assert result.code == 0, result.err
    assert result.out.startswith(
        f'# Tinytown Conductor\n\nYou are the **conductor** of Tinytown "{town_name}"'
    )
    assert "**Agents (0):**\n  (no agents spawned yet)\n" in result.out
    assert "## 🆕 Fresh Start" in result.out
    assert not (town_dir / ".tt" / "conductor_context.md").exists()


async def populate(town_dir: Path) -> str:
    """One agent with two pending messages and one backlog task; returns its label."""
    async with Town.connect(town_dir) as town:
        handle = await register_agent(town, "backend", "claude")
        await town.channel.send(Message(SUPERVISOR, handle.id, MessageType.Query("ready?")))
        await town.channel.send_urgent(Message(SUPERVISOR, handle.id, MessageType.Query("now?")))
        task = Task.new("parked work", utcnow())
        await town.channel.set_task(task)
        await town.channel.backlog_push(task.id)
        return (await town.channel.require_agent(handle.id)).label


def test_print_context_resume(tt: TT, town_dir: Path) -> None:
    label = trio.run(populate, town_dir)
    result = tt("conductor", "--print-context")
    assert result.code == 0, result.err
    assert f"**Agents (1):**\n  - {label} (Starting) - 2 messages pending\n" in result.out
    assert "**Backlog tasks:** 1\n" in result.out
    assert "## 🔄 Resuming Session" in result.out
    assert "Backlog currently has **1** task(s)." in result.out


def test_print_context_counts_a_wrong_type_inbox_as_empty(tt: TT, town_dir: Path) -> None:
    label = trio.run(populate, town_dir)

    async def corrupt() -> None:
        async with Town.connect(town_dir) as town:
            (agent,) = await town.list_agents()
            await town.redis.execute("SET", town.channel.keys.inbox(agent.id), "not a list")

    trio.run(corrupt)
    result = tt("conductor", "--print-context")
    assert result.code == 0, result.err
    assert f"  - {label} (Starting) - 1 messages pending\n" in result.out  # the urgent one


def test_launches_custom_cli_with_context_on_stdin(
    tt_proc: TT, town_dir: Path, tmp_path: Path, record: Path
) -> None:
    script = fake_script(tmp_path)
    configure(town_dir, "fake", fake=f"{sys.executable} {script}")
    result = tt_proc("conductor")
    assert result.code == 0, result.err
    context_file = town_dir / ".tt" / "conductor_context.md"
    command = f"cat '{context_file}' | exec {sys.executable} {script}"
    assert result.lines[:5] == [
        "🚂 Starting conductor with fake model...",
        "   Context: ./.tt/conductor_context.md",
        "",
        f"   Running: {command}",
        "",
    ]
    assert result.lines[5] == "fake conductor ran"
    data = json.loads(record.read_text())
    assert data["stdin"] == context_file.read_text()
    assert data["stdin"].startswith("# Tinytown Conductor")
    assert data["argv"] == []
    assert Path(data["cwd"]).resolve() == town_dir.resolve()


def test_claude_gets_the_context_as_its_first_message(
    tt_proc: TT, town_dir: Path, tmp_path: Path, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    claude.write_text(f"#!{sys.executable}\n{FAKE_CLI}")
    claude.chmod(claude.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    configure(town_dir, "claude")
    result = tt_proc("--town", str(town_dir), "conductor")
    assert result.code == 0, result.err
    assert result.lines[0] == "🚂 Starting conductor with claude model..."
    assert result.lines[1] == f"   Context: {town_dir}/.tt/conductor_context.md"
    data = json.loads(record.read_text())
    context = (town_dir / ".tt" / "conductor_context.md").read_text()
    assert data["argv"] == [context.rstrip("\n")]  # "$(cat ...)" drops the final newline
    assert "--resume" not in result.out


def test_missing_cli_is_a_one_line_error(tt: TT, town_dir: Path) -> None:
    configure(town_dir, "no-such-conductor-cli")
    result = tt("conductor")
    assert result.code != 0
    assert result.err.strip().splitlines() == [
        "Error: Conductor CLI 'no-such-conductor-cli' is not installed: "
        "'no-such-conductor-cli' was not found on PATH"
    ]
    assert not (town_dir / ".tt" / "conductor_context.md").exists()
    assert result.out == ""


def test_demo_model_cannot_conduct(tt: TT, town_dir: Path) -> None:
    configure(town_dir, "demo")
    result = tt("conductor")
    assert result.code != 0
    assert "cannot be the conductor" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_outside_a_town(tt_nowhere: TT) -> None:
    result = tt_nowhere("conductor", "--print-context")
    assert result.code != 0
    assert "tt init" in result.err
