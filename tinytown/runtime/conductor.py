"""``tt conductor``: gather the town's state and choose the launch command (agent-loop.md §8).

:func:`gather_conductor_state` reads the town (two round trips besides the
agent list); :func:`conductor_launch` is pure and picks the interactive shell
command for the conductor CLI.

Deliberate deviations from tinytown 0.10:

* ``claude`` is launched as ``claude "$(cat '<ctx>')"`` (the context becomes the
  first message of an interactive session); 0.10 ran ``claude --resume '<ctx>'``,
  which hands a file path to an option that expects a session id.
* For names without a dedicated launch form, the preset's command runs
  (``gh copilot``, a town's ``[agent_clis.my-ai]`` command) rather than the bare
  preset name, which 0.10 executed literally and which is rarely a program.
* The context path is quoted safely, and it is absolute in the command, so
  a relative ``--town`` still works after the switch to the town directory.
* A CLI whose program is not installed is reported before anything is
  written or executed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import attrs

from tinytown.config import TownConfig
from tinytown.config.presets import DEMO_PRESET_NAME
from tinytown.errors import ConfigError, ModelError
from tinytown.models import AgentType
from tinytown.runtime.conductor_context import ConductorAgent, ConductorState
from tinytown.runtime.launch_env import first_word
from tinytown.town import Town

CONTEXT_FILE = "conductor_context.md"

_CODEX_FLAGS = "--dangerously-bypass-approvals-and-sandbox"
_LAUNCH: dict[str, str] = {
    "auggie": "exec auggie --instruction-file {ctx}",
    "claude": 'exec claude "$(cat {ctx})"',
    "aider": "exec aider --message-file {ctx}",
    "codex": f'exec codex {_CODEX_FLAGS} "$(cat {{ctx}})"',
    "codex-mini": (
        f"exec codex {_CODEX_FLAGS} -m gpt-5.4-mini"
        ' -c model_reasoning_effort="medium" "$(cat {ctx})"'
    ),
}


def shell_quote(text: str) -> str:
    """``text`` in single quotes for ``sh``, embedded single quotes escaped."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


@attrs.frozen
class ConductorLaunch:
    """How to start the conductor.

    Attributes:
        cli_name: the conductor CLI's name (a preset name or a raw command).
        command: the shell command, run as ``sh -c <command>`` in the town root.
        program: the executable the command runs (checked before launching).
    """

    cli_name: str
    command: str
    program: str


def conductor_launch(config: TownConfig, context_path: str) -> ConductorLaunch:
    """The interactive launch of the town's conductor CLI with the context file.

    Args:
        config: the town config (``conductor_cli``, else ``default_cli``; presets).
        context_path: path of the context document (absolute is best).

    Returns:
        The CLI name, the shell command and the program it runs.

    Raises:
        ConfigError: the conductor CLI is the non-interactive ``demo`` model or empty.
    """
    name = config.resolve_cli_name(config.conductor_cli_name())
    if name == DEMO_PRESET_NAME:
        raise ConfigError(
            "The offline 'demo' model cannot be the conductor: set conductor_cli "
            "in tinytown.toml to an interactive CLI (e.g. claude)"
        )
    ctx = shell_quote(context_path)
    if name in _LAUNCH:
        command = _LAUNCH[name].format(ctx=ctx)
    elif name.startswith("codex "):
        command = f'exec {name} "$(cat {ctx})"'
    else:
        preset = config.preset(name)
        program = preset.command.strip() if preset is not None else name
        command = f"cat {ctx} | exec {program}"
    return ConductorLaunch(name, command, _program_of(command))


def _program_of(command: str) -> str:
    tail = command.split("| exec ", 1)[1] if "| exec " in command else command[len("exec ") :]
    return first_word(tail)


def check_installed(
    launch: ConductorLaunch, which: Callable[[str], str | None] = shutil.which
) -> None:
    """Raise :class:`ModelError` when the launch's program cannot be found."""
    if not launch.program or which(launch.program) is None:
        raise ModelError(
            f"Conductor CLI '{launch.cli_name}' is not installed: "
            f"'{launch.program}' was not found on PATH"
        )


async def gather_conductor_state(town: Town, location: str) -> ConductorState:
    """The town as the conductor context shows it; agents sorted by name.

    Args:
        town: the connected town.
        location: the town path as the user typed it.
    """
    agents = [a for a in await town.list_agents() if a.agent_type is not AgentType.SUPERVISOR]
    agents.sort(key=lambda a: (a.name, str(a.id)))
    counts = await town.channel.pending_counts([a.id for a in agents])
    backlog = await town.channel.backlog_len()
    rows = [ConductorAgent(a.label, a.state, sum(counts.get(a.id, (0, 0)))) for a in agents]
    settings = town.config.townhall
    return ConductorState(
        town.name,
        location,
        rows,
        backlog,
        mcp_bind=settings.bind,
        mcp_port=settings.rest_port + 1,
    )
