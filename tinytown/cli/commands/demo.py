"""``tt demo``: a self-contained demo in a temporary town (no AI CLI or Redis install needed)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from tinytown.cli.context import OPTIONS
from tinytown.cli.output import say


def demo(
    *,
    timeout: float = 120.0,
    keep: Annotated[bool, Parameter(negative=())] = False,
    dir: Path | None = None,
) -> None:
    """Run a self-contained demo: a temporary town worked by three demo agents.

    Creates a town in a temporary directory with its own Redis, spawns three
    agents running the built-in offline demo model (one of them a reviewer),
    assigns them a few tasks and one query, shows progress until every task
    is completed, prints a summary and removes everything it started.
    With --verbose it also prints the town path and the pids it started.

    Parameters
    ----------
    timeout : float
        Seconds to wait for all tasks before giving up (everything is still cleaned up).
    keep : bool
        Keep the temporary town directory (logs, demo results) instead of removing it.
    dir : Path
        Create the temporary town under this directory instead of the system temp dir.
    """
    from tinytown.cli.demo_run import DemoOptions, run_demo
    from tinytown.cli.runner import fail, run_async
    from tinytown.errors import InvalidInputError

    if not timeout > 0:
        fail(InvalidInputError(f"--timeout must be a positive number of seconds: {timeout}"))
    if dir is not None and not dir.is_dir():
        fail(InvalidInputError(f"--dir {dir} is not a directory"))
    options = DemoOptions(timeout_s=timeout, keep=keep, verbose=OPTIONS.verbose, parent_dir=dir)

    async def body() -> None:
        await run_demo(options, _line)

    run_async(body)


def _line(text: str) -> None:
    say(text)
    sys.stdout.flush()  # live progress, also when stdout is a pipe
