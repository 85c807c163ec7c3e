"""Model CLI presets and how a CLI reference resolves to one.

A *CLI reference* is what a user types after ``--cli``/``--model`` or what an
agent record stores in ``cli``: a preset name (``claude``) or a raw command
(``claude --print --dangerously-skip-permissions``, ``mytool --flag``).
:func:`resolve_cli_name` maps it to a preset name (config.md §2.4).

Unlike tinytown 0.10, the built-in presets are always available, even when a
hand-written ``tinytown.toml`` lacks ``[agent_clis]``; the town's own tables
take precedence over them.

The ``demo`` preset runs the bundled offline demo model. Its command is
stored as the literal ``python -m tinytown.runtime.demo_model``; the runtime
substitutes ``sys.executable`` for the leading ``python`` token of the
``demo`` preset, so the demo model runs with tinytown's own interpreter.
"""

from collections.abc import Mapping
from types import MappingProxyType

import attrs

PROMPT_MODES = ("stdin", "file")


def _positive_or_none(
    _: object, attribute: "attrs.Attribute[float | None]", value: float | None
) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class CliPreset:
    """One ``[agent_clis.<name>]`` table: how to run a model CLI.

    Attributes:
        name: the preset name (the ``--cli`` value).
        command: the shell command; the prompt is fed to it per ``prompt_mode``.
        workdir: working directory for the command (default: the town root).
        env: extra environment variables for the command.
        prompt_mode: ``"stdin"`` pipes the prompt file into the command;
            ``"file"`` passes the prompt file's path to it instead.
        timeout_secs: per-round timeout; ``None`` waits until the CLI exits.
    """

    name: str
    command: str
    workdir: str | None = None
    env: dict[str, str] = attrs.field(factory=dict)
    prompt_mode: str = attrs.field(default="stdin", validator=attrs.validators.in_(PROMPT_MODES))
    timeout_secs: float | None = attrs.field(default=None, validator=_positive_or_none)


DEMO_PRESET_NAME = "demo"

_BUILTINS = (
    CliPreset("claude", "claude --print --dangerously-skip-permissions"),
    CliPreset("auggie", "auggie --print"),
    CliPreset("codex", "codex exec --dangerously-bypass-approvals-and-sandbox"),
    CliPreset(
        "codex-mini",
        "codex exec --dangerously-bypass-approvals-and-sandbox -m gpt-5.4-mini"
        ' -c model_reasoning_effort="medium"',
    ),
    CliPreset("aider", "aider --yes --no-auto-commits --message"),
    CliPreset("gemini", "gemini"),
    CliPreset("copilot", "gh copilot"),
    CliPreset("cursor", "cursor"),
    CliPreset(DEMO_PRESET_NAME, "python -m tinytown.runtime.demo_model"),
)

BUILTIN_PRESETS: Mapping[str, CliPreset] = MappingProxyType({p.name: p for p in _BUILTINS})
"""The eight presets of tinytown 0.10 plus ``demo``, by name (read-only)."""

DEFAULT_CLI = "claude"

LEGACY_COMMANDS: Mapping[str, str] = MappingProxyType(
    {
        "claude --print --dangerously-skip-permissions": "claude",
        "auggie --print": "auggie",
        "codex --dangerously-bypass-approvals-and-sandbox": "codex",
        "codex exec --dangerously-bypass-approvals-and-sandbox": "codex",
        "codex exec --dangerously-bypass-approvals-and-sandbox -m gpt-5.4-mini"
        ' -c model_reasoning_effort="medium"': "codex-mini",
        "aider --yes --no-auto-commits --message": "aider",
    }
)
"""Full commands that older configs stored in ``default_cli``/``conductor_cli``."""

_ALIAS_WORDS = frozenset({"claude", "auggie", "aider", "gemini", "cursor"})


def normalize_legacy(value: str) -> str:
    """Replace a legacy full command by its preset name (config.md §2.3)."""
    return LEGACY_COMMANDS.get(value.strip(), value)


def _inferred_alias(ref: str) -> str | None:
    first = ref.split(maxsplit=1)[0]
    if first in _ALIAS_WORDS:
        return first
    if first == "gh" and ref.startswith("gh copilot"):
        return "copilot"
    if first == "codex":
        return "codex-mini" if "gpt-5.4-mini" in ref else "codex"
    return None


def effective_presets(town_presets: Mapping[str, CliPreset]) -> dict[str, CliPreset]:
    """A town's own ``[agent_clis]`` tables, then the built-ins it does not override.

    The town's tables come first so that a command shared by a town preset and
    a built-in resolves to the town's preset.
    """
    merged = dict(town_presets)
    for name, preset in BUILTIN_PRESETS.items():
        merged.setdefault(name, preset)
    return merged


def resolve_cli_name(ref: str, presets: Mapping[str, CliPreset]) -> str:
    """Normalise a CLI reference to a preset name (config.md §2.4).

    Args:
        ref: a preset name or a command.
        presets: the preset table to resolve against (see :func:`effective_presets`).

    Returns:
        The preset name, or the trimmed reference when no preset matches.
    """
    ref = ref.strip()
    if not ref:
        return DEFAULT_CLI
    if ref in presets:
        return ref
    for key, preset in presets.items():
        if preset.command == ref:
            return key
    alias = _inferred_alias(ref)
    if alias is not None and alias in presets:
        return alias
    return ref
