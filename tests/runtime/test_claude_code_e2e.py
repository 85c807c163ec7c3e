"""The real Claude Code CLI, run by a Tinytown agent, completes its task through its Bash tool.

The CLI (npm ``@anthropic-ai/claude-code``) is installed once into a cache
directory (``$TINYTOWN_CLAUDE_CODE_DIR``, default ``~/.cache/tinytown-tests/
claude-code``); the test skips itself when npm or the package cannot be reached.
It talks to a small local fake of the Anthropic Messages API
(:mod:`fake_anthropic`) whose "model" answers the round's prompt by calling the
``Bash`` tool with ``tt task complete <id>``. As root, the CLI needs
``IS_SANDBOX=1`` to accept ``--dangerously-skip-permissions``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from _rt_support import RtTown, rt_town_fixture, wait_until  # noqa: F401
from fake_anthropic import RESULT, serve_fake_anthropic

PACKAGE = "@anthropic-ai/claude-code"
INSTALL_TIMEOUT_S = 300


def _cache_dir() -> Path:
    configured = os.environ.get("TINYTOWN_CLAUDE_CODE_DIR", "").strip()
    if configured:
        return Path(configured)
    return Path(os.path.expanduser("~")) / ".cache" / "tinytown-tests" / "claude-code"


@pytest.fixture(scope="module")
def claude_bin_dir() -> Path:
    """The directory holding the installed ``claude`` (installed on first use), or skip."""
    cache = _cache_dir()
    bin_dir = cache / "node_modules" / ".bin"
    if not (bin_dir / "claude").exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot install the Claude Code CLI")
        cache.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run(
                [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                 "--loglevel=error", PACKAGE],
                capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {PACKAGE} timed out (registry not reachable?)")
        if done.returncode != 0 or not (bin_dir / "claude").exists():
            pytest.skip(f"npm install {PACKAGE} failed: {done.stderr.strip()[-300:]}")
    try:
        version = subprocess.run([str(bin_dir / "claude"), "--version"], capture_output=True,
                                 text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"the installed Claude Code CLI does not run here: {exc}")
    if version.returncode != 0:
        pytest.skip(f"the installed Claude Code CLI does not run here: {version.stderr[-300:]}")
    return bin_dir


def test_claude_code_completes_its_task_through_its_bash_tool(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch, claude_bin_dir: Path
) -> None:
    with serve_fake_anthropic() as api:
        monkeypatch.setenv("PATH", f"{claude_bin_dir}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake-key-for-tests")
        monkeypatch.setenv("IS_SANDBOX", "1")
        for var in ("DISABLE_TELEMETRY", "DISABLE_AUTOUPDATER", "DISABLE_ERROR_REPORTING",
                    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"):
            monkeypatch.setenv(var, "1")
        out = rt_town.ok("spawn", "coder", "--model", "claude", "--max-rounds", "3")
        assert "using model 'claude'" in out
        assigned = rt_town.ok("assign", "coder", "Write the release note")
        task_id = next(w for w in assigned.split() if w.count("-") == 4)
        wait_until(lambda: rt_town.task(task_id).get("state") == "completed",
                   "Claude Code completed the task", timeout=180)
        assert rt_town.task(task_id)["result"] == RESULT
        wait_until(lambda: rt_town.state("coder") == "idle", "agent idle again", timeout=60)
        agent = rt_town.agent("coder")
        assert agent["tasks_completed"] == "1"
        assert agent["rounds_completed"] == "1"
        # The CLI really went through the tool loop: a Bash call, then its result sent back.
        offered = [r for r in api.requests if any(
            t.get("name") == "Bash" for t in r.get("tools") or [])]
        assert offered, api.paths
        assert any(isinstance(m.get("content"), list) and any(
            b.get("type") == "tool_result" for b in m["content"] if isinstance(b, dict))
            for r in api.requests for m in r.get("messages") or [])
        round_log = rt_town.root / ".tt" / "logs" / f"{agent['id']}_round_1.log"  # by agent id
        assert "The task is complete." in round_log.read_text()
