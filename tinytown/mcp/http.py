"""MCP over Streamable HTTP: the ASGI app (auth, Origin check, ``/health``) and its server.

:func:`build_http_app` returns an :class:`McpHttpApp`: ``app`` is an ASGI app
with the MCP endpoint at ``/`` and ``GET /health``, so it can be served alone
(``townhall mcp-http``, :func:`serve_mcp_http`) or mounted at ``/mcp`` by the
REST server; whoever serves it must run ``lifespan()`` around it (the SDK's
session manager lives there). Auth and the Origin check wrap the whole app, as
an ASGI middleware, before the SDK sees the request.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Final

import attrs
import trio
from mcp.server.lowlevel import Server
from mcp.server.transport_security import (
    DEFAULT_MAX_REQUEST_BODY_SIZE,
    TransportSecuritySettings,
)
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tinytown.config.town import TownhallAuth
from tinytown.mcp.auth import needed_scope
from tinytown.mcp.catalog import TOOLS
from tinytown.town import Town
from tinytown.townhall.auth import INSUFFICIENT, Authenticator, AuthError

LOOPBACK_ORIGIN: Final = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$")
CROSS_ORIGIN: Final = "Cross-origin requests not allowed"
HEALTH_PATH: Final = "/health"
MOUNT_PREFIX: Final = "/mcp"
TOO_LARGE: Final = "Request body too large"
MAX_BODY_BYTES: Final = DEFAULT_MAX_REQUEST_BODY_SIZE


def origin_allowed(origin: str | None) -> bool:
    """No ``Origin`` (not a browser) or a loopback one: 0.10's rule (mcp.md §1.1)."""
    return origin is None or bool(LOOPBACK_ORIGIN.match(origin))


async def _health(_request: Request) -> Response:
    return Response(status_code=200)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status)


@attrs.define
class Guard:
    """ASGI middleware: Origin check, then the API key, then the scope of the JSON-RPC call."""

    app: ASGIApp
    auth: Authenticator
    tool_scopes: dict[str, str]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not origin_allowed(headers.get("origin")):
            await _error(403, CROSS_ORIGIN)(scope, receive, send)
            return
        if scope["path"].rstrip("/").endswith(HEALTH_PATH) or self.auth.config.mode == "none":
            await self.app(scope, receive, send)
            return
        try:
            principal = await self.auth.authenticate(
                headers.get("authorization"), headers.get("x-api-key")
            )
        except AuthError as exc:
            await _error(401, exc.detail)(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await _error(413, TOO_LARGE)(scope, receive, send)
            return
        needed = _scopes_of(body, self.tool_scopes)
        if not all(s is None or principal.has(s) for s in needed):
            await _error(403, INSUFFICIENT)(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


def _scopes_of(body: bytes, tool_scopes: dict[str, str]) -> list[str | None]:
    try:
        message = json.loads(body)
    except ValueError:
        return []  # the SDK answers malformed JSON itself
    batch = message if isinstance(message, list) else [message]
    return [needed_scope(m, tool_scopes) for m in batch]


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None past :data:`MAX_BODY_BYTES` (the SDK's own limit)."""
    chunks = []
    size = 0
    while True:
        event = await receive()
        if event["type"] != "http.request":
            break
        chunk = event.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not event.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


@attrs.frozen
class McpHttpApp:
    """The ASGI app and the lifespan its server must run around it."""

    app: ASGIApp
    starlette: Starlette

    @asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with self.starlette.router.lifespan_context(self.starlette):
            yield


def build_http_app(server: Server[Any], auth: TownhallAuth) -> McpHttpApp:
    """The Streamable HTTP app of ``server`` guarded by ``auth``.

    The endpoint is ``/`` (0.10's) and also ``/mcp`` (the SDK's and most clients'
    default path), so either URL works against ``townhall mcp-http``.
    """
    starlette = server.streamable_http_app(
        streamable_http_path="/",
        # Origin is checked by Guard with 0.10's rule; the SDK's Host allow-list would
        # refuse any bind that is not loopback.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        custom_starlette_routes=[Route(HEALTH_PATH, _health, methods=["GET"])],
    )
    endpoint = next(r for r in starlette.routes if isinstance(r, Route) and r.path == "/")
    starlette.router.routes.append(Route(MOUNT_PREFIX, endpoint=endpoint.endpoint))
    scopes = {spec.name: spec.scope for spec in TOOLS}
    return McpHttpApp(Guard(starlette, Authenticator(auth), scopes), starlette)


def mount_mcp(app: ASGIApp, mcp: McpHttpApp, prefix: str = MOUNT_PREFIX) -> ASGIApp:
    """``app`` with MCP under ``prefix`` (``/mcp/`` the endpoint, ``/mcp/health``): one server
    for REST and MCP. The MCP session manager runs for as long as ``app``'s lifespan does."""

    async def combined(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with mcp.lifespan():
                await app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == prefix or path.startswith(prefix + "/"):
            local = dict(scope)
            local["root_path"] = scope.get("root_path", "") + prefix
            await mcp.app(local, receive, send)
            return
        await app(scope, receive, send)

    return combined


def with_mcp(app: ASGIApp, town: Town, auth: TownhallAuth) -> ASGIApp:
    """``app`` (the REST server) with the MCP server of ``town`` under ``/mcp``."""
    from tinytown.mcp.server import build_server

    return mount_mcp(app, build_http_app(build_server(town), auth))


async def serve_mcp_http(
    server: Server[Any],
    auth: TownhallAuth,
    bind: str,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve MCP over HTTP until cancelled, on townhall's server (:mod:`tinytown.townhall.server`).

    ``bind`` is a Hypercorn bind (``127.0.0.1:8081``, ``[::1]:0``, ``unix:PATH``);
    ``task_status.started`` receives the bound URLs (``http://127.0.0.1:8081``).
    The server runs the app's lifespan (the SDK's session manager) around serving.

    Raises:
        StartupError: the address cannot be bound.
    """
    from tinytown.townhall.server import serve_asgi

    http = build_http_app(server, auth)
    await serve_asgi(http.app, [bind], shutdown_trigger=trio.sleep_forever, task_status=task_status)
