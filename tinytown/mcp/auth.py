"""Which townhall scope an MCP call needs (pure).

0.10 checked nothing on MCP; here ``[townhall.auth]`` applies as on the REST
API (townhall.md §6) through the townhall's own
:class:`~tinytown.townhall.auth.Authenticator` (API key or OIDC token). Read
tools need ``town.read``, write tools ``town.write``, agent tools
``agent.manage``; reading resources and prompts needs ``town.read``;
initializing and listing need only an authenticated caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

READ_SCOPE: Final = "town.read"


def needed_scope(message: Any, tool_scopes: Mapping[str, str]) -> str | None:
    """The scope one JSON-RPC message needs (None: only authentication)."""
    if not isinstance(message, dict):
        return None
    method = message.get("method")
    params = message.get("params")
    if method == "tools/call":
        name = params.get("name") if isinstance(params, dict) else None
        return tool_scopes.get(name, READ_SCOPE) if isinstance(name, str) else READ_SCOPE
    if method in ("resources/read", "prompts/get"):
        return READ_SCOPE
    return None
