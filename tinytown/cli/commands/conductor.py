"""``tt conductor``: write the conductor context and launch the conductor CLI (cli.md §7.1)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

from cyclopts import Parameter

from tinytown.cli.context import OPTIONS
from tinytown.cli.output import say


def conductor(*, print_context: Annotated[bool, Parameter(negative=())] = False) -> None:
    """Start the conductor: an interactive AI session that orchestrates the town.

    Writes ``.tt/conductor_context.md`` (town state, fresh start or resume,
    commands, roles, the reviewer pattern) and replaces ``tt`` with the
    conductor CLI (``conductor_cli`` in tinytown.toml, else ``default_cli``),
    started interactively in the town directory with that context.

    Parameters
    ----------
    print_context : bool
        Print the context document on stdout and exit (nothing written or launched).
    """
    from tinytown.cli.runner import fail, run_town
    from tinytown.runtime.conductor import (
        CONTEXT_FILE,
        ConductorLaunch,
        check_installed,
        conductor_launch,
        gather_conductor_state,
    )
    from tinytown.runtime.conductor_context import build_conductor_context
    from tinytown.town import Town

    async def body(town: Town) -> tuple[str, Path, ConductorLaunch | None]:
        state = await gather_conductor_state(town, OPTIONS.town)
        context_path = town.tt_dir / CONTEXT_FILE
        launch = None
        if not print_context:
            launch = conductor_launch(town.config, str(context_path))
            check_installed(launch)
        return build_conductor_context(state), town.root, launch

    text, root, launch = run_town(body)
    if launch is None:
        sys.stdout.write(text)
        return
    from tinytown.files import private_dir, write_private

    context_path = root / ".tt" / CONTEXT_FILE
    try:
        private_dir(context_path.parent)
        write_private(context_path, text)
    except OSError as exc:
        fail(OSError(f"Cannot write {context_path}: {exc.strerror or exc}"))
    shown = os.path.join(OPTIONS.town, ".tt", CONTEXT_FILE)
    say(f"🚂 Starting conductor with {launch.cli_name} model...")
    say(f"   Context: {shown}")
    say()
    say(f"   Running: {launch.command}")
    say()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.chdir(root)
        os.execvp("sh", ["sh", "-c", launch.command])
    except OSError as exc:
        sys.stderr.write(f"❌ Failed to exec conductor: {exc}\n")
        raise SystemExit(1) from None
