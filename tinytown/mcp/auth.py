"""Authorization of MCP calls over HTTP with the townhall's API key and scopes (pure + one check).

0.10 checked nothing on MCP; here ``[townhall.auth]`` applies as on the REST
API (townhall.md §6): ``none`` lets everything through, ``api_key`` needs the
key (``Authorization: Bearer`` or ``X-API-Key``) and the scope of what is
called — read tools ``town.read``, write tools ``town.write``, agent tools
``agent.manage`` — and ``oidc`` is refused (bearer tokens are verified by the
REST server only). Verifying an Argon2id hash costs tens of milliseconds, so
it runs in a worker thread and verified keys are remembered (by digest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import trio

from tinytown.config.town import SCOPES, TownhallAuth
from tinytown.services.apikey import verify_api_key

ADMIN: Final = "admin"
ALL_SCOPES: Final = frozenset(SCOPES)
AUTH_REQUIRED: Final = "Authentication required"
BAD_CREDENTIALS: Final = "Invalid credentials"
FORBIDDEN: Final = "Insufficient permissions"
CACHE_SIZE: Final = 64


def extract_key(headers: Mapping[str, str]) -> str | None:
    """The key of a request: ``Authorization: Bearer <key>`` first, else ``X-API-Key``."""
    auth = headers.get("authorization")
    if auth is not None and auth.startswith("Bearer "):
        return auth[len("Bearer ") :].strip() or None
    key = headers.get("x-api-key")
    return key.strip() or None if key is not None else None


def has_scope(scopes: frozenset[str], needed: str | None) -> bool:
    """Whether ``scopes`` grant ``needed`` (``admin`` grants everything; None needs nothing)."""
    return needed is None or needed in scopes or ADMIN in scopes


def needed_scope(message: Any, tool_scopes: Mapping[str, str]) -> str | None:
    """The scope a JSON-RPC message needs: a tool's own scope, ``town.read`` to read
    resources and prompts, nothing to initialize or list. A batch needs each member's."""
    if not isinstance(message, dict):
        return None
    method = message.get("method")
    params = message.get("params")
    if method == "tools/call":
        name = params.get("name") if isinstance(params, dict) else None
        return tool_scopes.get(name, "town.read") if isinstance(name, str) else "town.read"
    if method in ("resources/read", "prompts/get"):
        return "town.read"
    return None


class KeyChecker:
    """Checks keys against ``[townhall.auth]``; returns the caller's scopes or an error text."""

    def __init__(self, auth: TownhallAuth) -> None:
        self.auth = auth
        self._verified: dict[bytes, bool] = {}

    @property
    def open(self) -> bool:
        """Mode ``none``: no credentials are asked for."""
        return self.auth.mode == "none"

    def scopes(self) -> frozenset[str]:
        return frozenset(self.auth.api_key_scopes) or ALL_SCOPES

    async def check(self, headers: Mapping[str, str]) -> frozenset[str] | str:
        """The granted scopes, or the 401 message."""
        if self.open:
            return ALL_SCOPES
        if self.auth.mode != "api_key":
            return AUTH_REQUIRED
        key = extract_key(headers)
        stored = self.auth.api_key_hash
        if key is None or not stored:
            return AUTH_REQUIRED
        digest = hashlib.sha256(key.encode()).digest()
        ok = self._verified.get(digest)
        if ok is None:
            ok = await trio.to_thread.run_sync(verify_api_key, key, stored)
            if len(self._verified) >= CACHE_SIZE:
                self._verified.clear()
            self._verified[digest] = ok
        return self.scopes() if ok else BAD_CREDENTIALS
