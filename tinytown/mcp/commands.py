"""The MCP commands: ``mcp-stdio`` and ``mcp-http`` on a connected town (mcp.md §1).

``townhall mcp-stdio|mcp-http`` call :func:`serve_stdio` / :func:`serve_http`;
``python -m tinytown.mcp`` (:func:`main`) runs them on its own. Logs go to
stderr only: on stdio, stdout is the wire.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from tinytown.errors import TinytownError
from tinytown.town import Town

log = logging.getLogger("tinytown.mcp")


def setup_logging(verbose: bool = False) -> None:
    """Log lines to stderr; the SDK's and Hypercorn's INFO chatter only with ``verbose``."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    quiet = logging.DEBUG if verbose else logging.WARNING
    for name in ("mcp", "hypercorn", "httpx", "httpx2", "sse_starlette"):
        logging.getLogger(name).setLevel(quiet)


async def serve_stdio(town: Town) -> None:
    """Serve MCP on stdin/stdout until stdin closes."""
    from mcp.server.stdio import stdio_server

    from tinytown.mcp.server import build_server

    server = build_server(town)
    log.info("🔌 Starting MCP server over stdio")
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def http_address(town: Town, bind: str | None, port: int | None) -> tuple[str, int]:
    """``[townhall].bind`` and ``rest_port + 1`` unless given (mcp.md §1)."""
    settings = town.config.townhall
    return bind or settings.bind, settings.rest_port + 1 if port is None else port


async def serve_http(
    town: Town,
    bind: str | None = None,
    port: int | None = None,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve MCP over Streamable HTTP until cancelled; ``task_status`` gets the bound URLs."""
    from tinytown.mcp.http import serve_mcp_http
    from tinytown.mcp.server import build_server

    host, real_port = http_address(town, bind, port)
    log.info("🔌 Starting MCP server over HTTP/SSE")
    server = build_server(town)

    async def announce(*, task_status: trio.TaskStatus[list[str]]) -> None:
        await serve_mcp_http(server, town.config.townhall.auth, host, real_port,
                             task_status=task_status)

    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(announce)
        for url in urls:
            log.info("🚀 MCP HTTP/SSE listening on %s", url)
        task_status.started(urls)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tinytown.mcp", description=__doc__)
    parser.add_argument("-t", "--town", default=".", help="Town directory (default: .)")
    parser.add_argument("-v", "--verbose", action="store_true", help="Debug logging")
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("mcp-stdio", aliases=["stdio"], help="MCP over stdin/stdout")
    http = sub.add_parser("mcp-http", aliases=["http"], help="MCP over Streamable HTTP")
    http.add_argument("-b", "--bind", default=None, help="Address (default [townhall].bind)")
    http.add_argument("-p", "--port", type=int, default=None, help="Port (default rest_port + 1)")
    return parser


async def _run(args: argparse.Namespace) -> None:
    async with Town.connect(Path(args.town)) as town:
        log.info("🏛️  Townhall starting for town: %s", town.name)
        if args.mode in ("mcp-stdio", "stdio"):
            await serve_stdio(town)
        else:
            await serve_http(town, args.bind, args.port)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinytown.mcp [-t DIR] [-v] mcp-stdio|mcp-http [-b ADDR] [-p PORT]``."""
    args = _parser().parse_args(argv)
    setup_logging(args.verbose)
    try:
        trio.run(_run, args)
    except TinytownError as exc:
        return _fail(exc)
    except BaseExceptionGroup as group:
        leaf = group.subgroup(lambda e: isinstance(e, TinytownError))
        if leaf is None:
            raise
        return _fail(leaf.exceptions[0])
    except KeyboardInterrupt:
        return 0
    return 0


def _fail(exc: BaseException) -> int:
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    sys.stderr.write(f"Error: {exc}\n")
    return 1
