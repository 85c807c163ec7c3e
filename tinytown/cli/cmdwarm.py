"""What the town's command server loads before it forks workers (:mod:`tinytown.cli.cmdserver`).

The CLI, the services, Trio and the Redis client are imported once, the
parser is warmed on a typical line of each routed command, and the modules a
worker's command imported are imported for the workers that follow. Nothing
here runs a command or prints.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
from pathlib import Path

log = logging.getLogger("tinytown.cmdserver")


def preload(root: Path) -> None:
    """Import what the routed commands use, and parse the town config once (warms cattrs)."""
    import trio  # noqa: F401

    import tinytown.cli.commands.agents
    import tinytown.cli.commands.backlog
    import tinytown.cli.commands.events
    import tinytown.cli.commands.inbox
    import tinytown.cli.commands.status
    import tinytown.cli.commands.task
    import tinytown.cli.commands.work
    import tinytown.cli.runner
    import tinytown.services.inbox
    import tinytown.services.messages
    import tinytown.services.status
    import tinytown.services.tasks  # noqa: F401
    from tinytown.cli.app import build_app
    from tinytown.config import load_town_config

    build_app()
    try:
        load_town_config(root)
    except Exception as exc:  # a broken config is reported by each command, not here
        log.debug("config not preloaded: %s", exc)
        return
    warm_up(root)


# A typical command line of each routed command, parsed (never run) to warm the parser.
TYPICAL_ARGV = (
    ["status"], ["list"], ["tasks"], ["history"], ["inbox", "someone"],
    ["assign", "someone", "Some work"], ["send", "someone", "A note", "--info"],
    ["task", "complete", "00000000-0000-4000-8000-000000000000", "--result", "done"],
    ["backlog", "list"],
)


def warm_up(root: Path) -> None:
    """Fill first-use caches so workers start warm, without side effects.

    Each routed command's typical command line is parsed (cyclopts resolves and
    inspects the command; nothing runs) by the app that every worker's command
    then runs with (:data:`tinytown.cli.app.PREBUILT`), then the read services run once on a
    connection that does not start the town's Redis (``start=False``): a server
    this process started would outlive a runtime that died meanwhile. Nothing
    is printed: a console that cyclopts creates for output would remember this
    process's (non-)terminal and serve every worker's command with it.
    """
    import trio

    from tinytown.cli.app import PREBUILT, build_app

    app = build_app()
    if not PREBUILT:  # the one app every worker's command runs with, warmed here
        PREBUILT.append(app)
    for argv in TYPICAL_ARGV:
        try:
            app.parse_args(argv, print_error=False, exit_on_error=False)
        except Exception as exc:  # warming is best effort
            log.debug("warm-up of %s: %s", argv, exc)
    try:
        trio.run(_warm_services, root)
    except Exception as exc:  # e.g. the town's Redis is not running: nothing to warm
        log.debug("warm-up of the services: %s", exc)


async def _warm_services(root: Path) -> None:
    from tinytown.services import inbox, status, tasks
    from tinytown.town import Town

    async with Town.connect(root, start=False) as town:
        await status.status(town)
        await inbox.inbox_all(town)
        await tasks.list_tasks(town, None)


def import_for_workers(names: list[str]) -> None:
    """Import modules a worker's command imported, so that later workers have them ready."""
    for name in names:
        if name in sys.modules or not name or name == "__main__":
            continue
        try:
            importlib.import_module(name)
        except (Exception, SystemExit) as exc:  # e.g. one that imports only under some condition
            log.debug("command server: %s not preloaded: %s", name, exc)
    gc.freeze()
