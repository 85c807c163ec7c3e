"""Running townhall inside a Trio nursery: :func:`serve_townhall` (REST) and the MCP hooks.

Shutdown: when ``shutdown`` is set, open event streams are told to end
(``context.closing``), then the server stops accepting and waits for open
requests, bounded by :data:`tinytown.townhall.server.GRACEFUL_TIMEOUT_S`.

MCP transports are :mod:`tinytown.mcp.commands` (``serve_stdio``,
``serve_http``), imported only here, on demand.
"""

from __future__ import annotations

import importlib
import logging
from functools import partial
from typing import TYPE_CHECKING, Any

import trio

from tinytown.config.town import TownhallConfig
from tinytown.townhall.safety import Bind, StartupError, check_startup, parse_bind, resolve_path
from tinytown.townhall.server import TlsFiles, serve_asgi

if TYPE_CHECKING:
    from tinytown.town import Town

log = logging.getLogger("tinytown.townhall")
AUTH_LABELS = {"none": "None", "api_key": "ApiKey", "oidc": "Oidc"}


def tls_files(config: TownhallConfig, town: Town) -> TlsFiles | None:
    tls, mtls = config.tls, config.mtls
    if not tls.enabled or not tls.cert_file or not tls.key_file:
        return None
    ca = resolve_path(town.root, mtls.ca_file) if mtls.ca_file else None
    return TlsFiles(
        cert_file=resolve_path(town.root, tls.cert_file),
        key_file=resolve_path(town.root, tls.key_file),
        ca_file=ca if (mtls.enabled or mtls.required) else None,
        client_required=mtls.required,
    )


def rest_bind(config: TownhallConfig, bind: str | None, port: int | None) -> Bind:
    return parse_bind(bind if bind is not None else config.bind,
                      port if port is not None else config.rest_port)


async def serve_townhall(
    town: Town,
    config: TownhallConfig,
    *,
    bind: str | None = None,
    port: int | None = None,
    shutdown: trio.Event | None = None,
    mcp: bool = False,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the REST API of ``town`` until ``shutdown`` is set (forever without one).

    ``task_status.started`` receives the bound URLs (``http://127.0.0.1:PORT``).
    With ``mcp`` the same server also serves MCP (Streamable HTTP) under ``/mcp``.

    Raises:
        StartupError: a startup rule refused the configuration, or the address is taken.
    """
    from tinytown.townhall.app import create_app
    from tinytown.townhall.audit import AuditLog
    from tinytown.townhall.auth import Authenticator
    from tinytown.townhall.context import TownhallContext
    from tinytown.townhall.hub import EventHub
    from tinytown.townhall.routes.events import HUB as EVENTS_HUB

    where = rest_bind(config, bind, port)
    for warning in check_startup(config, where, town.root):
        log.warning("⚠️  %s", warning)
    log.info("🔐 Auth mode: %s", AUTH_LABELS.get(config.auth.mode, config.auth.mode))
    tls = tls_files(config, town)
    if tls is not None:
        log.info("🔒 TLS enabled")
    if config.mtls.enabled or config.mtls.required:
        log.info("🔒 mTLS enabled (required: %s)", str(config.mtls.required).lower())
    context = TownhallContext(
        town=town, config=config, auth=Authenticator(config.auth),
        audit=AuditLog.for_town(town.tt_dir),
    )
    stop = shutdown if shutdown is not None else trio.Event()
    hub = EventHub(town, town.channel.keys.events)
    context.hubs[EVENTS_HUB] = hub

    async def trigger() -> None:
        await stop.wait()
        context.closing.set()
        hub.close()

    class _Started:
        def started(self, binds: list[str]) -> None:
            for url in binds:
                log.info("🚀 REST API listening on %s", url)
            task_status.started(binds)

    asgi: Any = create_app(context)
    if mcp:
        asgi = import_mcp_module("http").with_mcp(asgi, town, config.auth)
        log.info("🔌 MCP (Streamable HTTP) mounted at /mcp")
    async with trio.open_nursery() as nursery:
        await nursery.start(hub.run)
        await serve_asgi(
            asgi, [where.hypercorn], tls=tls,
            shutdown_trigger=trigger, task_status=_Started(),  # type: ignore[arg-type]
        )
        nursery.cancel_scope.cancel()


async def serve_mcp_http(
    town: Town,
    *,
    bind: str | None = None,
    port: int | None = None,
    shutdown: trio.Event | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve MCP over HTTP (default port ``rest_port + 1``) until ``shutdown`` is set."""
    commands = import_mcp_module("commands")
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(partial(commands.serve_http, town, bind, port))
        task_status.started(urls)
        await (shutdown if shutdown is not None else trio.Event()).wait()
        nursery.cancel_scope.cancel()


async def serve_mcp_stdio(town: Town) -> None:
    """MCP over stdin/stdout (nothing else may write to stdout)."""
    await import_mcp_module("commands").serve_stdio(town)


def import_mcp_module(name: str) -> Any:
    """``tinytown.mcp.<name>``, or a clear error if this installation has no MCP support."""
    try:
        return importlib.import_module(f"tinytown.mcp.{name}")
    except ImportError as exc:
        raise StartupError(f"MCP support is not available: {exc}") from None
