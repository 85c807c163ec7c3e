"""No silent strands (issue 9, items 6, 9, 12): model commands, through the installed ``tt``.

A model command is resolved in the shell that spawns the agent, and what it
needs (resolved program, PATH, provider variables) reaches the runtime even
when that runtime was started earlier from another environment; ``~`` and
``$VARS`` in commands are expanded as the shell would; a missing model CLI
points a new user at the demo.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest
from _rt_support import FAKE, RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.config import CliPreset, load_town_config, save_town_config


def _task_id(out: str) -> str:
    return next(w for w in out.split() if w.count("-") == 4)


def _wrapper(path: Path, *, needs: str = "") -> Path:
    """An executable that runs the fake ``ok`` model (optionally only if ``$needs`` is set)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    check = f'[ -n "${needs}" ] || {{ echo "{needs} is not set" >&2; exit 3; }}\n' if needs else ""
    path.write_text(f"#!/bin/sh\n{check}exec {sys.executable} {FAKE} ok\n")
    path.chmod(0o755)
    return path


def _add_preset(root: Path, name: str, command: str) -> None:
    cfg = load_town_config(root)
    cfg.agent_clis[name] = CliPreset(name, command)
    save_town_config(root, cfg)


def _assign_and_wait(rt_town: RtTown, agent: str) -> None:
    task_id = _task_id(rt_town.ok("assign", agent, f"Work for {agent}"))
    wait_until(lambda: rt_town.task(task_id).get("state") == "completed", f"{agent}'s task done")


def test_a_later_spawn_carries_its_shells_model_and_provider_variables_to_the_runtime(
    rt_town: RtTown, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    rt_town.ok("spawn", "first", "--model", "ok")  # the runtime starts from this environment
    (runtime,) = rt_town.runtime_pids()

    later_bin = tmp_path / "later-bin"
    _wrapper(later_bin / "claude", needs="ANTHROPIC_API_KEY")
    monkeypatch.setenv("PATH", f"{later_bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-secret")
    rt_town.ok("spawn", "later", "--model", "claude")
    assert rt_town.runtime_pids() == {runtime}  # the same runtime hosts it
    _assign_and_wait(rt_town, "later")

    launch = rt_town.root / ".tt" / "agents" / f"{rt_town.agent('later')['id']}.launch.json"
    assert stat.S_IMODE(launch.stat().st_mode) == 0o600  # it holds provider keys
    rt_town.ok("kill", "later")
    wait_until(lambda: rt_town.state("later") == "stopped", "later stopped")
    rt_town.ok("prune")
    assert not launch.exists()  # removed with its agent


def test_home_and_variables_in_a_custom_command_are_expanded_like_the_shell(
    rt_town: RtTown, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["HOME"])
    _wrapper(home / "bin" / "my-agent.sh")
    _wrapper(tmp_path / "tools" / "agent.sh")
    monkeypatch.setenv("MY_TOOLS", str(tmp_path / "tools"))
    _add_preset(rt_town.root, "mine", "~/bin/my-agent.sh")  # the book's custom-script example
    _add_preset(rt_town.root, "tools", "$MY_TOOLS/agent.sh --flag")
    rt_town.ok("spawn", "scripted", "--model", "mine")
    rt_town.ok("spawn", "tooled", "--model", "tools")
    _assign_and_wait(rt_town, "scripted")
    _assign_and_wait(rt_town, "tooled")
    res = rt_town.tt("spawn", "nothing", "--model", "~/bin/absent.sh")
    assert res.code == 1
    assert res.err.startswith("Error: Unknown model '~/bin/absent.sh'")


def test_a_missing_model_cli_offers_the_demo(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = os.pathsep.join(p for p in ("/usr/bin", "/bin") if Path(p).is_dir())
    if shutil.which("claude", path=bare) is not None:
        pytest.skip("claude is installed on this machine")
    monkeypatch.setenv("PATH", bare)
    res = rt_town.tt("spawn", "first-agent")  # the default model: claude
    assert res.code == 1
    lines = res.err.splitlines()
    assert len(lines) == 1, res.err
    assert "'claude' not found on PATH" in lines[0]
    assert "'--model demo'" in lines[0]
    assert "'tt demo'" in lines[0]
    assert rt_town.agents() == {}


def test_a_cli_that_cannot_act_unattended_is_warned_about_and_its_task_is_marked(
    rt_town: RtTown, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 7: the book's sample 'claude --print' (no skip-permissions flag)."""
    fake_bin = tmp_path / "asking-bin"
    fake_bin.mkdir()
    claude = fake_bin / "claude"  # refuses every tool call, then exits 0 as claude does
    claude.write_text("#!/bin/sh\ncat >/dev/null\necho 'I need permission to run Bash.'\n")
    claude.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    _add_preset(rt_town.root, "claude-book", "claude --print")

    res = rt_town.tt("spawn", "asker", "--model", "claude-book")
    assert res.code == 0, res
    assert res.err.splitlines() == [
        "⚠️  'claude --print' cannot act unattended: without --dangerously-skip-permissions "
        "every tool call waits for an approval nobody gives, and its tasks will not get done"
    ]
    task_id = _task_id(rt_town.ok("assign", "asker", "Fix the build"))
    wait_until(lambda: rt_town.task(task_id).get("state") == "failed", "task marked")
    task = rt_town.task(task_id)
    assert "no progress in 3 rounds" in task["result"]
    assert "--dangerously-skip-permissions" in task["result"]
    log = (rt_town.root / ".tt" / "logs" / f"{rt_town.agent('asker')['id']}.log").read_text()
    assert "(no progress 1/3)" in log
    assert "(no progress 2/3)" in log
    assert f"❌ Task {task_id[:8]} marked Failed: no progress in 3 rounds" in log
    assert rt_town.tt("spawn", "fine", "--model", "claude").err == ""  # the preset has the flag


def test_max_agents_is_enforced_on_spawn_and_restart(rt_town: RtTown) -> None:
    """Item 14: the book's max_agents "prevents accidentally spawning too many"."""
    cfg = load_town_config(rt_town.root)
    cfg.max_agents = 2
    save_town_config(rt_town.root, cfg)
    rt_town.ok("spawn", "one", "--model", "ok")
    rt_town.ok("spawn", "two", "--model", "ok")
    res = rt_town.tt("spawn", "three", "--model", "ok")
    assert res.code != 0
    assert res.err.splitlines() == [
        "Error: The town already has 2 live agent(s), its max_agents (2, in tinytown.toml); "
        "stop one ('tt kill NAME', then 'tt prune') or raise max_agents"
    ]
    assert "three" not in rt_town.agents()
    rt_town.ok("kill", "one")
    wait_until(lambda: rt_town.state("one") == "stopped", "one stopped")
    rt_town.ok("spawn", "three", "--model", "ok")  # a stopped agent frees its place
    res = rt_town.tt("restart", "one")
    assert res.code != 0
    assert "max_agents (2" in res.err
