"""Mission test harness: a town on the session Redis inside a git repository whose
``origin`` is on GitHub, a fake ``gh`` on PATH, and idle agents on demand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest

from tinytown.api import Town
from tinytown.config import new_town_config, save_town_config
from tinytown.models import Agent, AgentState
from tinytown.services.registration import register_agent

FAKE_GH = Path(__file__).with_name("fake_gh.py")
REPO = "acme/widgets"
T0 = datetime(2026, 4, 18, 12, 0, tzinfo=UTC)


@attrs.define
class FakeGh:
    """Canned ``gh`` answers and the log of what was asked."""

    dir: Path

    def _table(self) -> dict[str, list[dict[str, Any]]]:
        path = self.dir / "responses.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def answer(self, argv: str, *answers: dict[str, Any]) -> None:
        table = self._table()
        table[argv] = list(answers)
        (self.dir / "responses.json").write_text(json.dumps(table))
        counts = self.dir / "counts.json"
        if counts.exists():
            data = json.loads(counts.read_text())
            data.pop(argv, None)
            counts.write_text(json.dumps(data))

    def issue(self, number: int, title: str, body: str = "", repo: str = REPO) -> None:
        self.answer(f"issue view {number} --repo {repo} --json title,body",
                    {"stdout": {"title": title, "body": body}})

    def pr(self, number: int, *checks: str, mergeable: str = "MERGEABLE",
           reviews: list[dict[str, Any]] | None = None, repo: str = REPO) -> None:
        """Each of ``checks`` (a conclusion, e.g. FAILURE then SUCCESS) answers one call in turn."""
        answers = [{"stdout": {"statusCheckRollup": [{"name": "ci", "conclusion": c}],
                               "mergeable": mergeable, "reviewDecision": "",
                               "reviews": reviews or []}} for c in checks]
        self.answer(f"pr view {number} --repo {repo} --json "
                    "statusCheckRollup,mergeable,reviewDecision,reviews", *answers)
        self.answer(f"pr view {number} --repo {repo} --json reviews,reviewDecision",
                    {"stdout": {"reviews": reviews or [], "reviewDecision": ""}})
        self.answer(f"api repos/{repo}/issues/{number}/comments", {"stdout": []})

    def comments(self, number: int, comments: list[dict[str, Any]], repo: str = REPO) -> None:
        self.answer(f"api repos/{repo}/issues/{number}/comments", {"stdout": comments})

    def fail(self, argv: str, stderr: str = "HTTP 401: Bad credentials") -> None:
        self.answer(argv, {"exit": 1, "stderr": stderr})

    @property
    def calls(self) -> list[list[str]]:
        log = self.dir / "argv.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGh:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state = tmp_path / "gh-state"
    state.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_GH}" "$@"\n')
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_GH_DIR", str(state))
    return FakeGh(state)


def git_repo(root: Path, origin: str = f"git@github.com:{REPO}.git") -> None:
    """Make ``root`` a git repository with a GitHub-style ``origin``."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "remote", "add", "origin", origin], check=True)


@pytest.fixture
async def town(tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch,
               fake_gh: FakeGh) -> AsyncIterator[Town]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REDIS_URL", redis_url)
    root = tmp_path / "town"
    git_repo(root)
    (root / ".tt" / "logs").mkdir(parents=True, exist_ok=True)
    save_town_config(root, new_town_config(town_name))
    async with Town.connect(root) as connected:
        yield connected


AddAgent = Callable[..., Awaitable[Agent]]


@pytest.fixture
def add_agent(town: Town) -> AddAgent:
    async def add(name: str, role: str | None = None,
                  state: AgentState = AgentState.IDLE) -> Agent:
        handle = await register_agent(town, name, "demo", role=role)
        await town.channel.set_agent_state(handle.id, state)
        return await town.channel.require_agent(handle.id)

    return add
