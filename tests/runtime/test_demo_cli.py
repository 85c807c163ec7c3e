"""``tt demo`` end to end, with the installed ``tt``: it finishes and leaves nothing behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _rt_support import wait_gone

from tinytown.procwait import pid_alive

TT = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))


def run_demo(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(
        HOME=str(home),
        # Proves the demo ignores settings meant for another town: nothing listens there.
        REDIS_URL="redis://127.0.0.1:1",
        TINYTOWN_DEMO_DELAY_S="0.05",
    )
    full_env.update(env)
    return subprocess.run(
        [TT, "-v", "demo", "--dir", str(tmp_path), *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=full_env,
        check=False,
    )


def pids(out: str) -> dict[str, int]:
    found = dict(re.findall(r"^\s+(Redis|Runtime) pid: (\d+)$", out, re.MULTILINE))
    return {name: int(pid) for name, pid in found.items()}


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line or environment mentions ``text`` (Linux /proc)."""
    found = []
    needle = text.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            blob = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in blob and pid_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def demo_dirs(tmp_path: Path) -> list[Path]:
    return sorted(tmp_path.glob("tt-demo-*"))


def test_demo_completes_every_task_and_cleans_up(tmp_path: Path) -> None:
    done = run_demo(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "🤖 Spawned 3 demo agents" in out
    assert "❓ " in out
    assert "🎉 All 5 tasks completed" in out
    summary = out.split("📊 Demo summary", 1)[1]
    assert "   Tasks: 5/5 completed\n" in summary
    assert "   Agents: 3\n" in summary
    assert re.search(r"^   Rounds: [1-9]\d*$", summary, re.MULTILINE)
    assert re.search(r"^   Elapsed: \d+\.\ds$", summary, re.MULTILINE)
    assert re.search(r"\[reviewer\]: 1 task\(s\)", summary)
    assert "🧹 Cleaned up: runtime stopped, Redis stopped" in out

    started = pids(out)
    assert set(started) == {"Redis", "Runtime"}
    assert not [name for name, pid in started.items() if pid_alive(pid)]
    assert demo_dirs(tmp_path) == []
    assert processes_mentioning(str(tmp_path)) == []


def test_keep_leaves_results_but_no_process(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "--keep")
    assert done.returncode == 0, done.stdout + done.stderr
    (root,) = demo_dirs(tmp_path)
    assert f"📁 Demo town kept at {root}" in done.stdout
    results = sorted((root / ".tt" / "demo").glob("*.md"))
    assert len(results) == 5
    # The query between agents was answered by the backend's model with `tt send --info`.
    backend_rounds = "".join(  # round logs are named by agent id; any agent's will do
        log.read_text() for log in (root / ".tt" / "logs").glob("*_round_*.log")
    )
    assert "--info backend answers 'Which JSON field" in backend_rounds
    assert "📤 Sent informational message" in backend_rounds
    assert not [pid for pid in pids(done.stdout).values() if pid_alive(pid)]
    assert processes_mentioning(str(tmp_path)) == []


def test_timeout_is_a_clear_error_and_still_cleans_up(tmp_path: Path) -> None:
    # Every model round sleeps far longer than the timeout.
    done = run_demo(tmp_path, "--timeout", "3", TINYTOWN_DEMO_DELAY_S="60")
    assert done.returncode == 8, done.stdout + done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: Demo did not finish within 3s: 0/5 tasks completed")
    )
    assert "🧹 Cleaned up" in done.stdout
    assert not [pid for pid in pids(done.stdout).values() if pid_alive(pid)]
    assert demo_dirs(tmp_path) == []
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.parametrize(
    ("sig", "code", "message"),
    [
        (signal.SIGINT, 130, "Interrupted"),
        (signal.SIGTERM, 1, "Error: Demo interrupted by SIGTERM"),
    ],
)
def test_signal_during_a_round_still_cleans_up(
    tmp_path: Path, sig: signal.Signals, code: int, message: str
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), TINYTOWN_DEMO_DELAY_S="60")
    with subprocess.Popen(
        [TT, "-v", "demo", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # models are mid-round once an agent works
            seen.append(line)
            if " is Working" in line:
                break
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    out = "".join(seen) + out
    assert proc.returncode == code, out + err
    assert err.strip().splitlines()[-1] == message
    assert "🧹 Cleaned up" in out
    assert not [pid for pid in pids(out).values() if pid_alive(pid)]
    assert demo_dirs(tmp_path) == []
    assert processes_mentioning(str(tmp_path)) == []


@pytest.mark.parametrize(("args", "message"), [(["--timeout", "0"], "--timeout")])
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    done = run_demo(tmp_path, *args)
    assert done.returncode != 0
    assert message in done.stderr
    assert demo_dirs(tmp_path) == []


def test_a_demo_killed_with_sigkill_leaves_nothing_behind(tmp_path: Path) -> None:
    """Its watchdog ends the runtime, the models and Redis, and removes the town (item 6)."""
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), TINYTOWN_DEMO_DELAY_S="60")
    with subprocess.Popen(
        [TT, "-v", "demo", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # models are mid-round once an agent works
            seen.append(line)
            if " is Working" in line:
                break
        started = pids("".join(seen))
        assert set(started) == {"Redis", "Runtime"}, seen
        proc.kill()
        proc.communicate(timeout=30)
    deadline = time.monotonic() + 10
    wait_gone(started.values(), timeout=10)  # the watchdog ends Redis and the runtime...
    while time.monotonic() < deadline and (  # ...and the models, and removes the town
        processes_mentioning(str(tmp_path)) or demo_dirs(tmp_path)
    ):
        time.sleep(0.05)
    assert processes_mentioning(str(tmp_path)) == []
    assert not [pid for pid in started.values() if pid_alive(pid)]
    assert demo_dirs(tmp_path) == []
