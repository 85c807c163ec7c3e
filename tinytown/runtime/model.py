"""Running the model CLI of one round in its own process group.

:func:`build_model_command` (pure) turns an agent's CLI reference into what
to execute: the preset's command (the ``demo`` preset's leading ``python``
becomes this interpreter), split into an argv, or run by ``/bin/sh -c`` when
it uses shell syntax; the prompt goes to stdin, or for ``prompt_mode =
"file"`` (and ``auggie``, as in 0.10: ``--instruction-file``) the prompt
file's path is passed (``{prompt_file}`` in the command marks where, else it
is appended). The working directory is the town root or the preset's
``workdir``; the preset's ``env`` is applied over the runtime's environment,
plus ``TINYTOWN_AGENT_ID``, ``TINYTOWN_AGENT_NAME`` and ``TINYTOWN_TOWN``.

:func:`run_model` runs it with stdout and stderr going to the round's log
file (so output of any size never passes through us), in a new session; a
timeout or a cancellation sends SIGTERM to the whole group, waits a grace
period, then SIGKILL.
"""

from __future__ import annotations

import errno
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Literal

import attrs
import trio

from tinytown.config import DEMO_PRESET_NAME, TownConfig
from tinytown.errors import ModelError
from tinytown.files import private_dir, private_opener
from tinytown.models import AgentId
from tinytown.runtime.launch_env import LaunchEnv, capture, first_word, resolve_program

PROMPT_FILE_MARK = "{prompt_file}"
_SHELL_CHARS = frozenset("|&;<>()$`*?~\n")
_AUGGIE = "auggie"
# How often kill_group re-checks a process group during its grace period. A group has no
# pidfd (pidfd_open takes one pid, and the members are not our children to wait() for), so
# its end is polled; the leader itself, our child, is awaited.
_GROUP_POLL_S = 0.05
TRY_DEMO = (
    "To try tinytown without it, spawn with '--model demo' (an offline demo model) "
    "or run 'tt demo'"
)


@attrs.frozen
class ModelCommand:
    """How one round's model process is started.

    Attributes:
        cli_name: the preset name (or the raw command when it names no preset).
        command: the configured command text, as shown to users.
        argv: what is executed.
        stdin_prompt: the prompt file is fed on stdin (else its path is in argv).
        cwd: the working directory.
        env: the complete environment.
        timeout_s: the round's time limit, if any.
    """

    cli_name: str
    command: str
    argv: tuple[str, ...]
    stdin_prompt: bool
    cwd: Path
    env: Mapping[str, str] = attrs.field(repr=False)
    timeout_s: float | None = None

    @property
    def program(self) -> str:
        """The executable the command needs (the first word for shell commands)."""
        if self.argv[:2] == ("/bin/sh", "-c"):
            return first_word(self.command)
        return self.argv[0]


def resolve_command(config: TownConfig, cli_ref: str, python: str = sys.executable) -> str:
    """The command text for a CLI reference (``demo``: this interpreter for ``python``)."""
    name = config.resolve_cli_name(cli_ref)
    command = config.resolve_cli_command(cli_ref)
    if name == DEMO_PRESET_NAME:
        head, _, rest = command.partition(" ")
        if head in ("python", "python3"):
            command = f"{shlex.quote(python)} {rest}".strip()
    return command


def build_model_command(
    config: TownConfig,
    cli_ref: str,
    root: Path,
    prompt_path: Path,
    base_env: Mapping[str, str],
    *,
    agent_id: AgentId,
    agent_name: str,
    python: str = sys.executable,
    launch: LaunchEnv | None = None,
    marks: Mapping[str, str] | None = None,
) -> ModelCommand:
    """Everything needed to run an agent's model for one round (pure).

    ``launch`` (recorded when the agent was spawned) supplies the resolved
    program and the spawning shell's PATH and provider variables. ``marks``
    (the round's fencing token and runtime pid) are applied last: nothing
    configured can hide a model process from its round's clean-up.
    """
    name = config.resolve_cli_name(cli_ref)
    preset = config.preset(cli_ref)
    command = resolve_command(config, cli_ref, python)
    file_mode = preset is not None and preset.prompt_mode == "file"
    if name == _AUGGIE and not file_mode:
        command = f"{command} --instruction-file {PROMPT_FILE_MARK}"
        file_mode = True
    run_text = command
    if file_mode:
        quoted = shlex.quote(str(prompt_path))
        if PROMPT_FILE_MARK in run_text:
            run_text = run_text.replace(PROMPT_FILE_MARK, quoted)
        else:
            run_text = f"{run_text} {quoted}"
    if any(c in _SHELL_CHARS for c in run_text):
        argv: tuple[str, ...] = ("/bin/sh", "-c", run_text)
    else:
        try:
            argv = tuple(shlex.split(run_text))
        except ValueError:
            argv = ("/bin/sh", "-c", run_text)
    if not argv:
        raise ModelError(f"Model CLI '{cli_ref}' has an empty command")
    env = dict(base_env)
    if launch is not None:
        env.update(launch.env)
        if argv[0] == launch.word == first_word(command) and launch.program:
            argv = (launch.program, *argv[1:])
    if preset is not None:
        env.update(preset.env)
    env["TINYTOWN_AGENT_ID"] = str(agent_id)
    env["TINYTOWN_AGENT_NAME"] = agent_name
    env["TINYTOWN_TOWN"] = str(root)
    env["PATH"] = _with_own_bin(env.get("PATH", ""), python)
    env.update(marks or {})
    cwd = _model_cwd(config, cli_ref, root)
    timeout = preset.timeout_secs if preset is not None else None
    return ModelCommand(name, command, argv, not file_mode, cwd, env, timeout)


def _with_own_bin(path: str, python: str) -> str:
    """Append this installation's script directory, so the model can run ``tt``."""
    own = str(Path(python).parent)
    parts = [p for p in path.split(os.pathsep) if p]
    if own not in parts:
        parts.append(own)
    return os.pathsep.join(parts)


def _model_cwd(config: TownConfig, cli_ref: str, root: Path) -> Path:
    preset = config.preset(cli_ref)
    if preset is not None and preset.workdir:
        workdir = Path(preset.workdir).expanduser()
        return workdir if workdir.is_absolute() else root / workdir
    return root


def capture_model_launch(
    config: TownConfig, cli_ref: str, root: Path, env: Mapping[str, str] | None = None
) -> tuple[str, LaunchEnv]:
    """Check a CLI reference in the spawning shell and capture what its runtime will need.

    Returns:
        The preset name and the :class:`LaunchEnv` to record for the agent.

    Raises:
        ModelError: the command is empty, or its program is not found on PATH.
    """
    source = os.environ if env is None else env
    name, command, program = _checked(config, cli_ref, source, root)
    return name, capture(first_word(command), program, command, name, source)


def _checked(config: TownConfig, cli_ref: str, env: Mapping[str, str], root: Path
             ) -> tuple[str, str, str]:
    name = config.resolve_cli_name(cli_ref)
    command = resolve_command(config, cli_ref)
    program = first_word(command)
    if not program:
        raise ModelError(f"Model CLI '{cli_ref}' has an empty command")
    preset = config.preset(cli_ref)
    shell_env = {**env, **(preset.env if preset is not None else {})}
    shell_env["PATH"] = _with_own_bin(shell_env.get("PATH", ""), sys.executable)
    found = resolve_program(program, shell_env, _model_cwd(config, cli_ref, root))
    if found is None:
        if preset is None:
            known = ", ".join(sorted(config.presets()))
            raise ModelError(
                f"Unknown model '{cli_ref}': not a preset ({known}) "
                f"and '{program}' is not an installed command"
            )
        raise ModelError(
            f"Model CLI '{name}' is not installed: '{program}' not found on PATH. "
            f"{TRY_DEMO}"
        )
    return name, command, found


# --- running -------------------------------------------------------------------------------


@attrs.frozen
class ModelOutcome:
    """How a round's model process ended.

    Attributes:
        status: ``ok`` (exit 0), ``failed`` (non-zero exit or killed by a signal),
            ``timeout``, ``not_started`` (could not be executed), or ``deferred``
            (not started for a temporary lack of resources: too many open files).
        returncode: the exit status when it ran.
        detail: a one-line explanation for the log and activity lines.
    """

    status: Literal["ok", "failed", "timeout", "not_started", "deferred"]
    returncode: int | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _open_round_files(cmd: ModelCommand, prompt_path: Path, log_path: Path
                      ) -> tuple[IO[bytes], IO[bytes] | int]:
    private_dir(log_path.parent)
    log = open(log_path, "wb", opener=private_opener)
    stdin: IO[bytes] | int = subprocess.DEVNULL
    if cmd.stdin_prompt:
        try:
            stdin = open(prompt_path, "rb")
        except OSError:
            log.close()
            raise
    return log, stdin


async def run_model(
    cmd: ModelCommand,
    prompt_path: Path,
    log_path: Path,
    *,
    kill_grace_s: float = 3.0,
    on_started: Callable[[int], None] | None = None,
) -> ModelOutcome:
    """Run the model once; output to ``log_path`` (truncated); wait, time out or be cancelled.

    Cancellation kills the process group (SIGTERM, grace, SIGKILL) before
    re-raising. ``on_started`` gets the pid (= process group id).
    """
    log, stdin = _open_round_files(cmd, prompt_path, log_path)
    try:
        try:
            proc = await trio.lowlevel.open_process(
                list(cmd.argv), stdin=stdin, stdout=log, stderr=subprocess.STDOUT,
                cwd=str(cmd.cwd), env=dict(cmd.env), start_new_session=True,
            )
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.EAGAIN, errno.ENOMEM):
                return ModelOutcome("deferred", detail=_start_error(cmd, exc))
            return ModelOutcome("not_started", detail=_start_error(cmd, exc))
    finally:
        log.close()
        if not isinstance(stdin, int):
            stdin.close()
    timeout = cmd.timeout_s if cmd.timeout_s is not None else float("inf")
    try:
        if on_started is not None:
            on_started(proc.pid)  # a failure here must not leave the process running
        with trio.move_on_after(timeout) as scope:
            await proc.wait()
    except BaseException:
        with trio.CancelScope(shield=True):
            await kill_group(proc, kill_grace_s)
        raise
    if scope.cancelled_caught:
        with trio.CancelScope(shield=True):
            await kill_group(proc, kill_grace_s)
        return ModelOutcome("timeout", proc.returncode, f"timed out after {timeout:g}s")
    code = proc.returncode
    if code == 0:
        return ModelOutcome("ok", 0)
    if code is not None and code < 0:
        return ModelOutcome("failed", code, f"killed by signal {-code}")
    return ModelOutcome("failed", code, f"exit status {code}")


def _start_error(cmd: ModelCommand, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError) and not cmd.cwd.is_dir():
        return f"working directory {cmd.cwd} does not exist"
    if isinstance(exc, FileNotFoundError):
        return f"'{cmd.program}' not found (is {cmd.cli_name} installed?)"
    return f"{cmd.program}: {exc.strerror or exc}"


async def kill_group(proc: trio.Process, grace_s: float) -> None:
    """SIGTERM the process group, allow ``grace_s``, then SIGKILL what is left; reap the leader.

    The grace period is the whole group's, not only its leader's: a tool the
    model started may outlive the leader or ignore SIGTERM, and must not
    outlive the round. The leader is our child and is waited for; the other
    members are not, so their end can only be polled.
    """
    pgid = proc.pid
    _signal_group(pgid, signal.SIGTERM)
    with trio.move_on_after(grace_s):
        await proc.wait()
        while _group_alive(pgid):  # noqa: ASYNC110 - no event exists for a non-child
            await trio.sleep(_GROUP_POLL_S)
    _signal_group(pgid, signal.SIGKILL)
    await proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
