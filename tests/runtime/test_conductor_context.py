"""The conductor's context document and launch command (agent-loop.md §8), pure parts."""

from __future__ import annotations

import pytest

from tinytown.config import new_town_config
from tinytown.config.presets import CliPreset
from tinytown.errors import ConfigError, ModelError
from tinytown.models import AgentState
from tinytown.runtime.conductor import check_installed, conductor_launch, shell_quote
from tinytown.runtime.conductor_context import (
    ConductorAgent,
    ConductorState,
    build_conductor_context,
)

CTX = "/town/.tt/conductor_context.md"

FRESH = ConductorState("my-project", "./proj", [], backlog=2)
RESUME = ConductorState(
    "my-project",
    ".",
    [
        ConductorAgent("Fred [backend]", AgentState.WORKING, 3),
        ConductorAgent("Ada [reviewer]", AgentState.STOPPED, 0),
    ],
    backlog=0,
)


def headings(text: str) -> list[str]:
    in_fence = False
    out = []
    for line in text.splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        elif line.startswith("## ") and not in_fence:
            out.append(line)
    return out


def test_sections_in_order_fresh() -> None:
    text = build_conductor_context(FRESH)
    assert text.startswith(
        '# Tinytown Conductor\n\nYou are the **conductor** of Tinytown "my-project"'
    )
    assert "Tiny Town, Colorado" in text.split("\n\n")[1]
    assert headings(text) == [
        "## Current Town State",
        "## 🆕 Fresh Start",
        "## Your Capabilities",
        "## Your Role",
        "## The Reviewer Pattern",
        "## Agent Naming Convention",
        "## Guidelines",
        "## Example Workflow",
    ]
    assert text.rstrip().splitlines()[-1].startswith("Now help the user orchestrate")


def test_town_state_fresh() -> None:
    text = build_conductor_context(FRESH)
    assert (
        "## Current Town State\n\n"
        "**Town:** my-project\n"
        "**Location:** ./proj\n"
        "**Agents (0):**\n"
        "  (no agents spawned yet)\n"
        "**Backlog tasks:** 2\n"
    ) in text
    assert "Backlog currently has **2** task(s)." in text
    assert "First Interaction Template" in text
    assert "| `reviewer` | **Always include**" in text
    for role in ("backend", "frontend", "tester", "devops", "security", "docs", "architect"):
        assert f"| `{role}` |" in text
    assert "Resuming Session" not in text


def test_resume_lists_agents_and_pivots() -> None:
    text = build_conductor_context(RESUME)
    agent_lines = (
        "  - Fred [backend] (Working) - 3 messages pending\n"
        "  - Ada [reviewer] (Stopped) - 0 messages pending\n"
    )
    assert f"**Agents (2):**\n{agent_lines}**Backlog tasks:** 0\n" in text
    resume = text.split("## 🔄 Resuming Session", 1)[1].split("## Your Capabilities")[0]
    assert agent_lines in resume
    assert "tt status --deep" in resume
    assert "Backlog currently has **0** task(s)." in resume
    for command in ("tt kill <agent>", "tt spawn <name>", "tt backlog list", "tt backlog claim"):
        assert command in resume
    assert "Fresh Start" not in text


def test_stopped_agents_still_mean_resume() -> None:
    state = ConductorState("t", ".", [ConductorAgent("x [x]", AgentState.STOPPED, 0)])
    assert not state.fresh
    assert "## 🔄 Resuming Session" in build_conductor_context(state)


@pytest.mark.parametrize(
    "command",
    [
        "tt spawn <name>",
        "tt spawn <name> --foreground",
        "tt spawn <name> --max-rounds 5",
        'tt assign <agent> "<task description>"',
        'tt backlog add "<task description>" --tags backend,api',
        "tt backlog list",
        "tt backlog claim <task_id> <agent>",
        "tt backlog assign-all <agent>",
        'tt send <agent> "task"',
        'tt send <agent> --query "question"',
        'tt send <agent> --info "update"',
        'tt send <agent> --ack "received"',
        'tt send <agent> --urgent --query "msg"',
        "tt inbox <agent>",
        "tt status",
        "tt status --deep",
        "tt list",
        "tt kill <agent>",
        "tt plan --init",
        "tt plan",
        "tt sync push",
        "tt sync pull",
        "tt save",
        "tt mission start --issue <N> [--issue <N> ...]",
        "tt mission dispatch [--run <mission-id>] [--once]",
        "tt mission status [--run <mission-id>] [--work] [--watch] [--dispatcher]",
        'tt mission note <mission-id> "<directive>"',
    ],
)
def test_capabilities_list_exact_commands(command: str) -> None:
    text = build_conductor_context(FRESH)
    capabilities = text.split("## Your Capabilities", 1)[1].split("## Your Role")[0]
    lines = [line.split("  #", 1)[0].rstrip() for line in capabilities.splitlines()]
    assert command in lines


def test_report_back_and_reviewer_pattern() -> None:
    text = build_conductor_context(FRESH)
    assert 'tt send supervisor --info "…"' in text
    assert "tt inbox conductor" in text
    reviewer = text.split("## The Reviewer Pattern", 1)[1].split("## ")[0]
    assert "Always spawn a reviewer" in reviewer
    assert [line[:2] for line in reviewer.splitlines() if line[:1].isdigit()] == [
        "1.",
        "2.",
        "3.",
        "4.",
    ]
    role = text.split("## Your Role", 1)[1].split("## ")[0]
    assert len([line for line in role.splitlines() if line[:1].isdigit()]) == 10


# --- launch command -------------------------------------------------------------------


def launch_for(cli: str, **presets: str) -> str:
    config = new_town_config("t")
    config.conductor_cli = cli
    config.agent_clis.update({n: CliPreset(n, c) for n, c in presets.items()})
    return conductor_launch(config, CTX).command


@pytest.mark.parametrize(
    ("cli", "command"),
    [
        ("auggie", f"exec auggie --instruction-file '{CTX}'"),
        ("claude", f"exec claude \"$(cat '{CTX}')\""),
        ("aider", f"exec aider --message-file '{CTX}'"),
        (
            "codex",
            f"exec codex --dangerously-bypass-approvals-and-sandbox \"$(cat '{CTX}')\"",
        ),
        (
            "codex-mini",
            "exec codex --dangerously-bypass-approvals-and-sandbox -m gpt-5.4-mini"
            f' -c model_reasoning_effort="medium" "$(cat \'{CTX}\')"',
        ),
        ("gemini", f"cat '{CTX}' | exec gemini"),
        ("copilot", f"cat '{CTX}' | exec gh copilot"),
        ("my-tool --flag", f"cat '{CTX}' | exec my-tool --flag"),
    ],
)
def test_launch_commands(cli: str, command: str) -> None:
    assert launch_for(cli) == command


def test_claude_is_not_resumed_with_a_path() -> None:
    assert "--resume" not in launch_for("claude")


def test_custom_preset_runs_its_command() -> None:
    assert (
        launch_for("my-ai", **{"my-ai": "/opt/ai --chat"}) == f"cat '{CTX}' | exec /opt/ai --chat"
    )


def test_conductor_cli_falls_back_to_default_cli() -> None:
    config = new_town_config("t")
    config.default_cli = "aider"
    config.conductor_cli = "  "
    assert conductor_launch(config, CTX).cli_name == "aider"


def test_demo_cannot_conduct() -> None:
    config = new_town_config("t")
    config.conductor_cli = "demo"
    with pytest.raises(ConfigError, match="demo"):
        conductor_launch(config, CTX)


def test_shell_quote() -> None:
    assert shell_quote("/a b/c'd") == "'/a b/c'\"'\"'d'"


def test_check_installed() -> None:
    config = new_town_config("t")
    config.conductor_cli = "gemini"
    launch = conductor_launch(config, CTX)
    assert launch.program == "gemini"
    check_installed(launch, which=lambda name: f"/usr/bin/{name}")
    with pytest.raises(ModelError, match="'gemini' was not found on PATH"):
        check_installed(launch, which=lambda name: None)


def test_context_says_how_to_reach_the_mcp_server() -> None:
    state = ConductorState("t", "./proj", [], mcp_bind="::1", mcp_port=9091)
    text = build_conductor_context(state)
    assert "### The same operations over MCP" in text
    assert "townhall --town ./proj mcp-stdio" in text
    assert "townhall --town ./proj mcp-http" in text
    assert "http://[::1]:9091/" in text
    assert text.index("### The same operations over MCP") < text.index("## Your Role")
