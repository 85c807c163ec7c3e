"""A town on the session Redis served by the MCP server, and the SDK's in-process client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tinytown.api import Town
from tinytown.config import new_town_config, save_town_config
from tinytown.mcp.server import build_server


def make_town_dir(root: Path, town_name: str) -> Path:
    (root / ".tt" / "logs").mkdir(parents=True, exist_ok=True)
    save_town_config(root, new_town_config(town_name))
    return root


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    """A connected town on the session Redis (``REDIS_URL``, a private ``HOME``)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REDIS_URL", redis_url)
    async with Town.connect(make_town_dir(tmp_path / "town", town_name)) as connected:
        yield connected


@pytest.fixture
async def client(town: Town) -> AsyncIterator[Client]:
    async with Client(build_server(town)) as connected:
        yield connected


def envelope(result: Any) -> dict[str, Any]:
    """The parsed envelope of a tool result (one text item, never flagged as an MCP error)."""
    assert result.is_error is False
    assert len(result.content) == 1
    body: dict[str, Any] = json.loads(result.content[0].text)
    assert set(body) in ({"success", "data"}, {"success", "error"}), body
    return body


async def ok(client: Client, name: str, /, **args: Any) -> Any:
    """Call a tool that must succeed; its ``data``."""
    body = envelope(await client.call_tool(name, args))
    assert body["success"] is True, body
    return body["data"]


async def fails(client: Client, name: str, /, **args: Any) -> str:
    """Call a tool that must fail; its ``error`` text."""
    body = envelope(await client.call_tool(name, args))
    assert body["success"] is False, body
    error: str = body["error"]
    return error
