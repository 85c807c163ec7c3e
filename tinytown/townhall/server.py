"""The one module that knows which HTTP server runs townhall's ASGI apps: Hypercorn on Trio.

:func:`serve_asgi` listens on TCP or a unix socket, with TLS (and client
certificates for mTLS) when configured, and reports the bound addresses
through ``task_status`` (so ``--port 0`` can print the real port). It
returns when ``shutdown_trigger`` returns, after open connections finish
(bounded by :data:`GRACEFUL_TIMEOUT_S`).
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import attrs
import trio

from tinytown.townhall.safety import StartupError

GRACEFUL_TIMEOUT_S: Final = 2.0
KEEP_ALIVE_S: Final = 5.0
log = logging.getLogger("tinytown.townhall.server")


@attrs.frozen
class TlsFiles:
    """PEM files; ``ca_file`` asks for client certificates, ``client_required`` demands them."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    client_required: bool = False


def shield_sends(app: Any) -> Any:
    """Wrap an ASGI app so that its ``send`` calls cannot be cancelled half way.

    Measured with hypercorn 0.18 + quart-trio 0.12: after the last body chunk of a
    ``Connection: close`` request, hypercorn closes the socket *inside* that
    ``send`` call, while quart-trio, seeing ``http.disconnect``, cancels the task
    making it; the close is cancelled at its first checkpoint and the client
    never gets EOF (a shutdown then waits for ``graceful_timeout``). Hypercorn
    already shields the socket write itself, so shielding the whole call only
    lets the close finish.
    """

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        async def shielded_send(message: Any) -> None:
            with trio.CancelScope(shield=True):
                await send(message)

        await app(scope, receive, shielded_send if scope["type"] == "http" else send)

    return wrapped


def hypercorn_config(binds: list[str], tls: TlsFiles | None) -> Any:
    from hypercorn.config import Config

    config = Config()
    config.bind = binds
    config.accesslog = None
    config.errorlog = log
    config.graceful_timeout = GRACEFUL_TIMEOUT_S
    config.keep_alive_timeout = KEEP_ALIVE_S
    config.include_server_header = False
    if tls is not None:
        config.certfile = str(tls.cert_file)
        config.keyfile = str(tls.key_file)
        if tls.ca_file is not None:
            config.ca_certs = str(tls.ca_file)
            config.verify_mode = ssl.CERT_REQUIRED if tls.client_required else ssl.CERT_OPTIONAL
    return config


def check_tls(tls: TlsFiles) -> None:
    """Load the PEM files once, so a bad certificate is a startup error, not a 500 later.

    Raises:
        StartupError: a file does not load.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise StartupError(f"TLS configuration error: cannot load cert/key: {exc}") from None
    if tls.ca_file is not None:
        try:
            context.load_verify_locations(cafile=tls.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise StartupError(f"mTLS configuration error: cannot load ca_file: {exc}") from None


async def serve_asgi(
    app: Any,
    binds: list[str],
    *,
    tls: TlsFiles | None = None,
    shutdown_trigger: Callable[[], Awaitable[None]],
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``binds`` (``host:port`` or ``unix:PATH``) until ``shutdown_trigger``.

    Raises:
        StartupError: the address cannot be bound.
    """
    from hypercorn.trio import serve

    if tls is not None:
        check_tls(tls)
    config = hypercorn_config(binds, tls)
    try:
        await serve(
            shield_sends(app), config, shutdown_trigger=shutdown_trigger, task_status=task_status
        )
    except OSError as exc:
        raise StartupError(f"Cannot listen on {', '.join(binds)}: {exc.strerror or exc}") from None
