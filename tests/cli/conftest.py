"""Harness for CLI tests: run ``tt`` through its real entry point against the test Redis.

``tt(...)`` calls :func:`tinytown.cli.main` in-process (fast, same code path as
the console script) and returns exit code, stdout and stderr. ``tt_proc(...)``
runs the installed ``tt`` executable as a subprocess for end-to-end checks.
Every test gets its own HOME (so ``~/.tt`` is private) and its own town name;
the town uses the session Redis through ``REDIS_URL``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import attrs
import pytest

from tinytown.cli import context
from tinytown.config import new_town_config, save_town_config


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


TT = Callable[..., Result]


@pytest.fixture
def tt_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("TINYTOWN_AGENT_ID", "TINYTOWN_AGENT_NAME", "TINYTOWN_REDIS_PASSWORD",
                "TINYTOWN_TOWN"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def town_dir(
    tmp_path: Path, tt_home: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A town directory whose tinytown.toml points at the session Redis."""
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True)
    save_town_config(root, new_town_config(town_name))
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.chdir(root)
    return root


def _run_main(args: list[str], stdin: str | None) -> Result:
    from tinytown.cli import main

    context.OPTIONS.town = "."
    context.OPTIONS.verbose = False
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main(args)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = old_stdin
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def tt(town_dir: Path) -> TT:
    """Run ``tt`` in-process inside the town directory."""

    def run(*args: str, stdin: str | None = None) -> Result:
        return _run_main([str(a) for a in args], stdin)

    return run


@pytest.fixture
def tt_nowhere(tmp_path: Path, tt_home: Path, monkeypatch: pytest.MonkeyPatch) -> TT:
    """Run ``tt`` in an empty directory (no town)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)

    def run(*args: str, stdin: str | None = None) -> Result:
        return _run_main([str(a) for a in args], stdin)

    return run


@pytest.fixture
def tt_proc(town_dir: Path) -> TT:
    """Run the installed ``tt`` executable as a subprocess in the town directory."""
    exe = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))

    def run(*args: str, stdin: str | None = None, timeout: float = 60) -> Result:
        proc = subprocess.run(
            [exe, *[str(a) for a in args]],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=town_dir,
            env=os.environ.copy(),
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def cmd_server(town_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The town's command server (``python -m tinytown.cli --command-server``), serving."""
    sock = town_dir / ".tt" / "cmd.sock"
    log = (town_dir / ".tt" / "logs" / "cmdserver.log").open("wb")
    argv = [sys.executable, "-m", "tinytown.cli", "--command-server", str(town_dir)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 60
    while not sock.exists():
        assert proc.poll() is None, (town_dir / ".tt" / "logs" / "cmdserver.log").read_text()
        assert time.monotonic() < deadline, "command server did not start"
        time.sleep(0.05)
    yield proc
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    assert proc.returncode == 0
    assert not sock.exists(), "the server removes its socket when it ends"
