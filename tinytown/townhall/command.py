"""``townhall [-t DIR] [-v] [rest|mcp-stdio|mcp-http] [-b ADDR] [-p PORT]`` (also ``tt townhall``).

``rest`` is the default. Logs go to stderr (stdout carries JSON-RPC in
``mcp-stdio``). SIGTERM and Ctrl+C shut down gracefully and exit 0; a
startup rule that refuses the configuration logs ``❌ FATAL: …`` and exits 1.
"""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

from tinytown.cli.output import one_line_error

if TYPE_CHECKING:
    from trio import Event

    from tinytown.town import Town

app = App(
    name="townhall",
    help="Townhall: the town's REST API (default) or MCP server.\n\n"
    "Global options: -t/--town PATH (default .), -v/--verbose.",
    help_format="plaintext",
    error_formatter=one_line_error,
)

Bind = Annotated[str | None, Parameter(name=["--bind", "-b"])]
Port = Annotated[int | None, Parameter(name=["--port", "-p"])]


def _setup_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    level = logging.DEBUG if verbose else logging.INFO
    logging.getLogger("tinytown").setLevel(level)


def _run(serve: Callable[[Town, Event], Awaitable[None]]) -> None:
    """Connect to the town, run ``serve`` until SIGTERM/SIGINT, map errors to exit codes."""
    import trio

    from tinytown.cli.context import OPTIONS
    from tinytown.errors import TinytownError
    from tinytown.town import Town
    from tinytown.townhall.safety import StartupError

    _setup_logging(OPTIONS.verbose)
    log = logging.getLogger("tinytown.townhall")

    async def main() -> None:
        async with Town.connect(OPTIONS.town) as town:
            log.info("🏛️  Townhall starting for town: %s", town.name)
            stop = trio.Event()
            async with trio.open_nursery() as nursery:

                async def on_signal() -> None:
                    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                        async for _ in signals:
                            log.info("Shutting down")
                            stop.set()
                            return

                nursery.start_soon(on_signal)
                await serve(town, stop)
                nursery.cancel_scope.cancel()

    try:
        trio.run(main, restrict_keyboard_interrupt_to_checkpoints=True)
    except KeyboardInterrupt:
        raise SystemExit(0) from None
    except BaseException as exc:
        leaf = _tinytown_leaf(exc, TinytownError)
        if leaf is None:
            raise
        prefix = "❌ FATAL: " if isinstance(leaf, StartupError) else "❌ "
        log.error("%s%s", prefix, leaf)
        raise SystemExit(1) from None


def _tinytown_leaf(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The first ``kind`` error in ``exc`` or, through nurseries, its exception groups."""
    if isinstance(exc, kind):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            found = _tinytown_leaf(sub, kind)
            if found is not None:
                return found
    return None


@app.default
def rest(*, bind: Bind = None, port: Port = None, mcp: bool = False) -> None:
    """Serve the REST API (default command).

    Parameters
    ----------
    bind : str
        Address to listen on: an IP address, localhost or unix:PATH (default [townhall] bind).
    port : int
        TCP port (default [townhall] rest_port; 0 picks a free one and logs it).
    mcp : bool
        Also serve MCP (Streamable HTTP) under /mcp on the same address.
    """
    from tinytown.townhall.serve import serve_townhall

    async def serve(town: Town, stop: Event) -> None:
        await serve_townhall(town, town.config.townhall, bind=bind, port=port, shutdown=stop,
                             mcp=mcp)

    _run(serve)


app.command(rest, name="rest")


@app.command(name="mcp-stdio")
def mcp_stdio() -> None:
    """Serve MCP over stdin/stdout."""
    import trio

    from tinytown.townhall.serve import serve_mcp_stdio

    async def serve(town: Town, stop: Event) -> None:
        async with trio.open_nursery() as nursery:

            async def until_stopped() -> None:
                await stop.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(until_stopped)
            await serve_mcp_stdio(town)  # returns when stdin closes
            nursery.cancel_scope.cancel()

    _run(serve)


@app.command(name="mcp-http")
def mcp_http(*, bind: Bind = None, port: Port = None) -> None:
    """Serve MCP over HTTP (streamable HTTP).

    Parameters
    ----------
    bind : str
        Address to listen on (default [townhall] bind).
    port : int
        TCP port (default [townhall] rest_port + 1).
    """
    from tinytown.townhall.serve import serve_mcp_http

    async def serve(town: Town, stop: Event) -> None:
        await serve_mcp_http(town, bind=bind, port=port, shutdown=stop)

    _run(serve)


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``townhall``."""
    from tinytown.cli.context import extract_global_options

    app(extract_global_options(list(sys.argv[1:] if argv is None else argv)))
