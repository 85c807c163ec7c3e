"""ASGI layers around the Quart app: CORS (outermost) and the per-request timeout.

* **CORS**: 0.10 allowed every origin. Here a browser origin is allowed when
  it is the server's own, a loopback origin (``localhost``, ``127.*``,
  ``[::1]``, any port), or listed in ``[townhall] cors_origins`` (``"*"``
  allows all). Preflights of allowed origins are answered here, before auth.
* **Timeout**: a request whose response has not started within
  ``request_timeout_ms`` gets 408 problem+json. Streaming paths are exempt.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Final
from urllib.parse import urlsplit

import trio

from tinytown.config.target import is_loopback
from tinytown.townhall.problems import PROBLEM_JSON, problem_doc

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ALLOW_METHODS: Final = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
PREFLIGHT_MAX_AGE: Final = "600"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_problem(send: Send, status: int, detail: str | None = None) -> None:
    body = json.dumps(problem_doc(status, detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", PROBLEM_JSON.encode()),
                        (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Timeout:
    """408 when the app has not started its response in time."""

    def __init__(self, app: ASGIApp, timeout_s: float | None, exempt: Iterable[str] = ()) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.exempt = tuple(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.timeout_s is None or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        with trio.move_on_after(self.timeout_s) as scope_:
            await self.app(scope, receive, tracking_send)
        if scope_.cancelled_caught and not started:
            await send_problem(send, 408, f"Request timed out after {self.timeout_s:g} s")


class Cors:
    """CORS for allowed origins; other origins get no CORS headers (the browser blocks them)."""

    def __init__(self, app: ASGIApp, extra_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.extra = frozenset(o.rstrip("/") for o in extra_origins)

    def allowed(self, origin: str, scope: Scope) -> bool:
        if "*" in self.extra or origin in self.extra:
            return True
        if is_loopback(urlsplit(origin).hostname or ""):
            return True
        host = _header(scope, b"host")
        return host is not None and origin == f"{scope.get('scheme', 'http')}://{host}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None or not self.allowed(origin, scope):
            await self.app(scope, receive, send)
            return
        cors = [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin"),
                (b"access-control-expose-headers", b"X-Request-Id")]
        wanted = _header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and wanted is not None:
            asked = _header(scope, b"access-control-request-headers") or ""
            headers = [*cors, (b"access-control-allow-methods", ALLOW_METHODS.encode()),
                       (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode())]
            if asked:
                headers.append((b"access-control-allow-headers", asked.encode("latin-1")))
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def cors_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *cors]
            await send(message)

        await self.app(scope, receive, cors_send)
