"""The MCP transports on a connected town (mcp.md §1): what ``townhall mcp-stdio`` and
``townhall mcp-http`` run (:mod:`tinytown.townhall.serve`). Logs go to stderr only:
on stdio, stdout is the wire (the SDK also points fd 1 at stderr while it serves).
"""

from __future__ import annotations

import logging
from functools import partial

import trio

from tinytown.town import Town

log = logging.getLogger("tinytown.mcp")


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
    """Serve MCP over Streamable HTTP until cancelled; ``task_status`` gets the bound URLs.

    The REST server's startup rules apply (unlike 0.10, whose ``mcp-http`` served every
    tool, ``agent.spawn`` included, to anyone on a non-loopback address without auth).

    Raises:
        StartupError: a startup rule refused the configuration or the address.
    """
    from tinytown.mcp.http import serve_mcp_http
    from tinytown.mcp.server import build_server
    from tinytown.townhall.safety import check_startup, parse_bind

    settings = town.config.townhall
    where = parse_bind(*http_address(town, bind, port))
    for warning in check_startup(settings, where, town.root):
        log.warning("⚠️  %s", warning)
    log.info("🔌 Starting MCP server over HTTP/SSE")
    serve = partial(serve_mcp_http, build_server(town), settings.auth, where.hypercorn)
    async with trio.open_nursery() as nursery:
        urls: list[str] = await nursery.start(serve)
        for url in urls:
            log.info("🚀 MCP HTTP/SSE listening on %s", url)
        task_status.started(urls)
