"""The model process: command building (pure) and running real processes in a group."""

from __future__ import annotations

import os
import signal
import sys
from functools import partial
from pathlib import Path

import pytest
import trio
from _rt_support import until

from tinytown.config import CliPreset, new_town_config
from tinytown.errors import ModelError
from tinytown.models import AgentId
from tinytown.procwait import pid_alive, wait_pid_gone
from tinytown.runtime.model import (
    ModelCommand,
    build_model_command,
    capture_model_launch,
    run_model,
)

AID = AgentId.parse("5e0b9c9e-5a3b-4d52-8f51-3a1e0e5f8f11")
ROOT = Path("/towns/t")
PROMPT = Path("/towns/t/.tt/agent_w_prompt.md")


def _build(cli: str, **presets: CliPreset) -> ModelCommand:
    cfg = new_town_config("t")
    cfg.agent_clis.update(presets)
    return build_model_command(cfg, cli, ROOT, PROMPT, {"PATH": "/usr/bin", "HOME": "/h"},
                               agent_id=AID, agent_name="w", python="/venv/bin/python")


def test_demo_runs_with_this_interpreter_and_gets_the_prompt_on_stdin() -> None:
    cmd = _build("demo")
    assert cmd.argv == ("/venv/bin/python", "-m", "tinytown.runtime.demo_model")
    assert cmd.stdin_prompt
    assert cmd.cwd == ROOT
    assert cmd.env["TINYTOWN_AGENT_ID"] == str(AID)
    assert cmd.env["TINYTOWN_AGENT_NAME"] == "w"
    assert cmd.env["TINYTOWN_TOWN"] == str(ROOT)
    assert cmd.env["PATH"] == "/usr/bin:/venv/bin"  # so the model finds this `tt`
    assert cmd.env["HOME"] == "/h"


def test_presets_split_into_argv_and_raw_commands_run_as_given() -> None:
    assert _build("codex-mini").argv == (
        "codex", "exec", "--dangerously-bypass-approvals-and-sandbox", "-m", "gpt-5.4-mini",
        "-c", "model_reasoning_effort=medium",
    )
    raw = _build("mytool --flag")
    assert (raw.cli_name, raw.argv) == ("mytool --flag", ("mytool", "--flag"))
    shell = _build("mytool | tee out.txt")
    assert shell.argv == ("/bin/sh", "-c", "mytool | tee out.txt")
    assert shell.program == "mytool"


def test_file_prompt_modes() -> None:
    auggie = _build("auggie")
    assert auggie.argv == ("auggie", "--print", "--instruction-file", str(PROMPT))
    assert not auggie.stdin_prompt
    appended = _build("f", f=CliPreset("f", "tool run", prompt_mode="file"))
    assert appended.argv == ("tool", "run", str(PROMPT))
    marked = _build("g", g=CliPreset("g", "tool --in {prompt_file} --fast", prompt_mode="file"))
    assert marked.argv == ("tool", "--in", str(PROMPT), "--fast")


def test_workdir_env_and_timeout_of_a_preset() -> None:
    cmd = _build("c", c=CliPreset("c", "tool", workdir="sub/dir", env={"API": "x"},
                                   timeout_secs=42.0))
    assert cmd.cwd == ROOT / "sub" / "dir"
    assert cmd.env["API"] == "x"
    assert cmd.timeout_s == 42.0
    absolute = _build("d", d=CliPreset("d", "tool", workdir="/elsewhere"))
    assert absolute.cwd == Path("/elsewhere")


def test_capture_model_launch_checks_the_cli(tmp_path: Path) -> None:
    cfg = new_town_config("t")
    assert capture_model_launch(cfg, "demo", tmp_path)[0] == "demo"
    unknown = r"^Unknown model 'nope-xyz --x': not a preset \(.*'nope-xyz' is not an installed"
    with pytest.raises(ModelError, match=unknown):
        capture_model_launch(cfg, "nope-xyz --x", tmp_path, {"PATH": "/nonexistent"})
    missing = (r"^Model CLI 'claude' is not installed: 'claude' not found on PATH\. "
               r"To try tinytown without it, spawn with '--model demo' .* or run 'tt demo'$")
    with pytest.raises(ModelError, match=missing):
        capture_model_launch(cfg, "claude", tmp_path, {"PATH": "/nonexistent"})


def _script(tmp_path: Path, body: str) -> ModelCommand:
    path = tmp_path / "model.py"
    path.write_text(body)
    return ModelCommand("t", "t", (sys.executable, str(path)), True, tmp_path,
                        {**os.environ, "MARK": "env-ok"}, None)


async def test_prompt_on_stdin_output_to_the_log(tmp_path: Path) -> None:
    cmd = _script(tmp_path, "import os,sys\nprint(sys.stdin.read(), os.environ['MARK'], "
                            "os.getcwd(), os.getpgid(0) == os.getpid())\n")
    prompt, log = tmp_path / "prompt.md", tmp_path / "round.log"
    prompt.write_text("the prompt")
    outcome = await run_model(cmd, prompt, log)
    assert outcome.ok
    assert log.read_text() == f"the prompt env-ok {tmp_path} True\n"


async def test_non_zero_exit(tmp_path: Path) -> None:
    cmd = _script(tmp_path, "import sys\nprint('oops', file=sys.stderr)\nsys.exit(5)\n")
    (tmp_path / "p").write_text("")
    outcome = await run_model(cmd, tmp_path / "p", tmp_path / "log")
    assert (outcome.status, outcome.returncode, outcome.detail) == ("failed", 5, "exit status 5")
    assert (tmp_path / "log").read_text() == "oops\n"


HANG = """
import signal, subprocess, sys, time
from pathlib import Path
if len(sys.argv) > 1 and sys.argv[1] == 'stubborn':
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(100)'])
Path(sys.argv[0]).with_name('pids').write_text(f"{child.pid}\\n")
print('started', flush=True)
time.sleep(100)
"""


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    cmd = _script(tmp_path, HANG)
    cmd = ModelCommand("t", "t", (*cmd.argv, "stubborn"), True, tmp_path, cmd.env, 1.0)
    (tmp_path / "p").write_text("")
    pids: list[int] = []

    outcome = await run_model(cmd, tmp_path / "p", tmp_path / "log", kill_grace_s=0.3,
                              on_started=pids.append)
    assert (outcome.status, outcome.detail) == ("timeout", "timed out after 1s")
    child = int((tmp_path / "pids").read_text())
    assert not pid_alive(pids[0])  # ignored SIGTERM: killed after the grace period
    assert await wait_pid_gone(child, timeout_s=10)


async def test_cancellation_kills_the_group_and_propagates(tmp_path: Path) -> None:
    cmd = _script(tmp_path, HANG)
    (tmp_path / "p").write_text("")
    pids: list[int] = []
    log = tmp_path / "log"

    async def cancel_once_running(scope: trio.CancelScope) -> None:
        await until(lambda: log.exists() and "started" in log.read_text(), "the model running")
        scope.cancel()

    async with trio.open_nursery() as nursery:
        with trio.CancelScope() as scope:
            nursery.start_soon(cancel_once_running, scope)
            await run_model(cmd, tmp_path / "p", log, kill_grace_s=0.3, on_started=pids.append)
        nursery.cancel_scope.cancel()
    assert scope.cancelled_caught  # run_model let the cancellation through
    assert not pid_alive(pids[0])


async def test_a_missing_program_is_not_started(tmp_path: Path) -> None:
    cmd = ModelCommand("ghost", "ghost-cli", ("/nonexistent/ghost-cli",), True, tmp_path,
                       dict(os.environ), None)
    (tmp_path / "p").write_text("")
    outcome = await run_model(cmd, tmp_path / "p", tmp_path / "log")
    assert outcome.status == "not_started"
    assert outcome.detail == "'/nonexistent/ghost-cli' not found (is ghost installed?)"


STUBBORN_CHILD = """
import subprocess, sys, time
from pathlib import Path
ready = Path(sys.argv[0]).with_name('child.pid')
subprocess.Popen([sys.executable, '-c',
    'import os, signal, sys, time\\n'
    'signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n'
    'open(sys.argv[1] + ".tmp", "w").write(str(os.getpid()))\\n'
    'os.replace(sys.argv[1] + ".tmp", sys.argv[1])\\n'
    'time.sleep(100)\\n', str(ready)])
time.sleep(100)
"""


async def test_cancellation_kills_a_group_member_that_outlives_the_leader(tmp_path: Path) -> None:
    # The leader dies on SIGTERM at once; its child ignores SIGTERM and must still be killed.
    cmd = _script(tmp_path, STUBBORN_CHILD)
    (tmp_path / "p").write_text("")
    ready = tmp_path / "child.pid"
    child = 0
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(run_model, cmd, tmp_path / "p", tmp_path / "log",
                                       kill_grace_s=0.3))
            # the child writes its pid once SIGTERM is ignored
            await until(ready.exists, "the child ignoring SIGTERM", timeout=10)
            child = int(ready.read_text())
            nursery.cancel_scope.cancel()
        assert await wait_pid_gone(child, timeout_s=10)
    finally:
        if child and pid_alive(child):
            os.kill(child, signal.SIGKILL)


async def test_a_failing_on_started_callback_leaves_no_process(tmp_path: Path) -> None:
    cmd = _script(tmp_path, HANG)
    (tmp_path / "p").write_text("")
    pids: list[int] = []

    def record_then_fail(pid: int) -> None:
        pids.append(pid)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        await run_model(cmd, tmp_path / "p", tmp_path / "log", kill_grace_s=0.3,
                        on_started=record_then_fail)
    assert not pid_alive(pids[0])


_OUT_OF_FILES = '''
import os, resource, sys, trio
from pathlib import Path
from tinytown.runtime.model import ModelCommand, run_model

async def main() -> None:
    tmp = Path(sys.argv[1])
    (tmp / "prompt.md").write_text("hi")
    cmd = ModelCommand("x", "true", ("/bin/true",), False, tmp, dict(os.environ))
    # Leave exactly one free descriptor: the round log opens, starting the process does not.
    used = len(os.listdir("/proc/self/fd"))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + 1, hard))
    outcome = await run_model(cmd, tmp / "prompt.md", tmp / "round.log")
    print(outcome.status)

trio.run(main)
'''


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="needs /proc")
def test_too_many_open_files_defers_the_round_instead_of_failing_it(tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run([sys.executable, "-c", _OUT_OF_FILES, str(tmp_path)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deferred"
