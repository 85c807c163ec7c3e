"""``python -m tinytown.runtime --town ROOT``: the town's runtime process for this host.

Options: ``--agent ID`` (repeatable) hosts only those agents under a
foreground identity; ``--host NAME`` overrides the host identity; ``--stay``
keeps running with no agents. Logs go to stderr (``.tt/logs/runtime.log``
when ``tt`` starts it in the background). Exit status 0 also when another
runtime already serves the host (it hosts the agents).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from functools import partial
from pathlib import Path

import trio

from tinytown.errors import InvalidInputError, InvalidStateError, TinytownError
from tinytown.models import AgentId
from tinytown.runtime.host import serve_runtime
from tinytown.runtime.launch import signal_ready, take_ready_fd
from tinytown.runtime.settings import foreground_host_id, host_id

log = logging.getLogger("tinytown.runtime")


def _leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tinytown.runtime",
                                     description="Run a town's agent runtime.")
    parser.add_argument("--town", required=True, help="town root directory")
    parser.add_argument("--agent", action="append", default=[], help="host only this agent id")
    parser.add_argument("--host", help="runtime identity (default: the host name)")
    parser.add_argument("--stay", action="store_true", help="keep running with no agents")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s [%(process)d] %(message)s")
    root = Path(args.town).absolute()
    try:
        only = [AgentId.parse(a) for a in args.agent]
    except InvalidInputError as exc:
        parser.error(str(exc))
    host = args.host or (foreground_host_id() if only else host_id())
    # the town's command server (tinytown.cli.cmdserver) runs for as long as this runtime
    server = [sys.executable, "-m", "tinytown.cli", "--command-server", str(root),
              "--parent", str(os.getpid())]
    ready_fd = take_ready_fd(os.environ)  # set by ``tt`` when it starts us in the background
    run = partial(serve_runtime, root, host=host, only=only, stay=args.stay,
                  pidfile=not only and host == host_id(), companion=server,
                  on_ready=None if ready_fd is None else lambda rt: signal_ready(ready_fd, rt.pid))
    try:
        runtime = trio.run(run)
    except BaseException as exc:  # report tinytown errors in one line, re-raise the rest
        leaf = _leaf(exc)
        if isinstance(leaf, InvalidStateError):
            log.info("%s", leaf)
            return 0
        if isinstance(leaf, TinytownError):
            log.error("%s", leaf)
            return 1
        if isinstance(leaf, KeyboardInterrupt):
            return 130
        raise
    if runtime.lost is not None:
        log.error("runtime exited: %s", runtime.lost)
        return 1
    log.info("runtime exited")
    return 0


if __name__ == "__main__":
    sys.exit(main())
