"""What a model needs from the shell that spawned its agent, carried to the runtime.

The town's runtime is one long-lived process started by the first ``tt
spawn``; its environment is that shell's. A later ``tt spawn --model claude``
from a shell where ``claude`` is on PATH (and ``ANTHROPIC_API_KEY`` is set)
must not pass its check here and then fail in the runtime. So ``spawn`` and
``restart`` resolve the model command in the spawning shell and record, per
agent, in ``.tt/agents/<agent id>.launch.json`` (mode 0600: it may hold API
keys; never in Redis):

* ``program``: the resolved executable (absolute path);
* ``env``: that shell's ``PATH`` and the provider variables the model names —
  those of its preset family (:data:`PROVIDER_VARS`, ``ANTHROPIC_*`` for
  ``claude``…) and every ``$VAR`` its command mentions.

Each round's model process gets the runtime's environment, then these
values, then the preset's own ``env``. Commands are expanded as the shell
that runs them would: ``~`` and ``$VARS`` in the program (:func:`expand_program`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import attrs

from tinytown.files import write_atomic
from tinytown.models import AgentId

PROVIDER_VARS: Final[Mapping[str, tuple[str, ...]]] = {
    "claude": ("ANTHROPIC_", "CLAUDE_", "AWS_", "CLOUD_ML_REGION", "VERTEX_", "HTTPS_PROXY",
               "HTTP_PROXY", "NO_PROXY"),
    "auggie": ("AUGMENT_", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"),
    "codex": ("OPENAI_", "CODEX_", "AZURE_OPENAI_", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"),
    "codex-mini": ("OPENAI_", "CODEX_", "AZURE_OPENAI_", "HTTPS_PROXY", "HTTP_PROXY",
                   "NO_PROXY"),
    "aider": ("AIDER_", "OPENAI_", "ANTHROPIC_", "OPENROUTER_", "GEMINI_", "DEEPSEEK_",
              "AZURE_", "OLLAMA_", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"),
    "gemini": ("GEMINI_", "GOOGLE_", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"),
    "copilot": ("GH_", "GITHUB_", "COPILOT_", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"),
    "cursor": ("CURSOR_", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"),
}
"""Variable names (exact, or prefixes ending in ``_``) each built-in model family reads."""

_VAR_RE: Final = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


@attrs.frozen
class LaunchEnv:
    """The spawning shell's view of a model command (see the module).

    Attributes:
        word: the program word as configured (``claude``, ``~/bin/agent.sh``).
        program: what it resolved to in the spawning shell (absolute path).
        env: the carried variables.
    """

    word: str
    program: str
    env: Mapping[str, str] = attrs.field(factory=dict, repr=False)


def launch_env_path(root: Path, agent_id: AgentId) -> Path:
    return root / ".tt" / "agents" / f"{agent_id}.launch.json"


def command_words(command: str) -> list[str]:
    """The words of a command line (shell quoting honoured; unbalanced quotes split on spaces)."""
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def first_word(command: str) -> str:
    """The program word of a command line."""
    words = command_words(command)
    return words[0] if words else ""


def expand_program(program: str, env: Mapping[str, str], home: str | None = None) -> str:
    """``~``, ``~/…`` and ``$VAR``/``${VAR}`` expanded as ``sh`` would (unknown vars: empty)."""
    if program == "~" or program.startswith("~/"):
        base = home if home is not None else env.get("HOME") or os.path.expanduser("~")
        program = base + program[1:]

    def value(match: re.Match[str]) -> str:
        return env.get(match.group(1) or match.group(2), "")

    return _VAR_RE.sub(value, program)


def resolve_program(program: str, env: Mapping[str, str], cwd: Path) -> str | None:
    """The absolute executable for ``program`` in ``env``'s PATH (paths against ``cwd``)."""
    expanded = expand_program(program, env)
    if not expanded:
        return None
    if "/" in expanded:
        candidate = Path(expanded)
        if not candidate.is_absolute():
            candidate = cwd / candidate
        found = shutil.which(str(candidate))
    else:
        found = shutil.which(expanded, path=env.get("PATH", ""))
    return str(Path(found).absolute()) if found is not None else None


def named_vars(command: str, cli_name: str) -> tuple[str, ...]:
    """The provider names of ``cli_name``'s family plus every ``$VAR`` ``command`` mentions."""
    mentioned = tuple(a or b for a, b in _VAR_RE.findall(command))
    return (*PROVIDER_VARS.get(cli_name, ()), *mentioned)


def capture(word: str, program: str, command: str, cli_name: str, env: Mapping[str, str]
            ) -> LaunchEnv:
    """What to carry to the runtime for this model, from the spawning shell's ``env``."""
    names = named_vars(command, cli_name)
    carried = {
        k: v for k, v in env.items()
        if any(k == n or (n.endswith("_") and k.startswith(n)) for n in names)
    }
    if "PATH" in env:
        carried["PATH"] = env["PATH"]
    return LaunchEnv(word, program, carried)


def save_launch_env(root: Path, agent_id: AgentId, launch: LaunchEnv) -> None:
    """Write the agent's launch file atomically, readable by its owner only."""
    path = launch_env_path(root, agent_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"word": launch.word, "program": launch.program, "env": dict(launch.env)}
    write_atomic(path, json.dumps(doc), sync=False)


def load_launch_env(root: Path, agent_id: AgentId) -> LaunchEnv | None:
    """The agent's launch file; ``None`` if absent or unreadable (the runtime's env is used)."""
    try:
        data = json.loads(launch_env_path(root, agent_id).read_text(encoding="utf-8"))
        env = {str(k): str(v) for k, v in dict(data.get("env", {})).items()}
        return LaunchEnv(str(data["word"]), str(data["program"]), env)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def remove_launch_env(root: Path, agent_id: AgentId) -> None:
    launch_env_path(root, agent_id).unlink(missing_ok=True)


_UNATTENDED: Final[Mapping[str, tuple[tuple[str, ...], str]]] = {
    # program name: (flags that let it act without a human, the one to suggest)
    "claude": (("--dangerously-skip-permissions", "--permission-mode=bypassPermissions",
                "bypassPermissions", "--allowedTools", "--allowed-tools"),
               "--dangerously-skip-permissions"),
    "codex": (("--dangerously-bypass-approvals-and-sandbox", "--full-auto", "--yolo"),
              "--dangerously-bypass-approvals-and-sandbox"),
    "aider": (("--yes", "--yes-always"), "--yes"),
}


def unattended_warning(command: str) -> str | None:
    """Why a known model CLI configured this way cannot act unattended, or ``None``.

    A round runs with no one at the keyboard: a CLI that asks before each
    tool call gets every call refused, exits 0, and its task never gets done.
    """
    words = command_words(command)
    if not words:
        return None
    program = Path(words[0]).name
    known = _UNATTENDED.get(program)
    if known is None:
        return None
    flags, suggested = known
    if any(w == f or w.startswith(f + "=") for w in words[1:] for f in flags):
        return None
    return (
        f"'{command}' cannot act unattended: without {suggested} every tool call waits for "
        "an approval nobody gives, and its tasks will not get done"
    )
