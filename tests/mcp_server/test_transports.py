"""Both transports end to end: stdio as a subprocess, Streamable HTTP by Hypercorn on Trio."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx2
import pytest
import trio
from mcp import Client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tinytown.config import TownhallAuth
from tinytown.mcp.catalog import TOOLS as CATALOG
from tinytown.mcp.http import serve_mcp_http
from tinytown.mcp.server import build_server
from tinytown.services.apikey import generate_api_key, hash_api_key
from tinytown.town import Town

from .conftest import envelope
from .test_tools_tasks import add_agent

TOWNHALL = shutil.which("townhall") or str(Path(sys.executable).with_name("townhall"))


async def test_stdio_subprocess(town: Town, tmp_path: Path) -> None:
    worker = await add_agent(town, "worker")
    params = StdioServerParameters(
        command=TOWNHALL,
        args=["--town", str(town.root), "mcp-stdio"],
        env={**os.environ},
        cwd=str(tmp_path),
    )
    errlog = tmp_path / "stderr.log"
    with errlog.open("w") as err:
        with trio.fail_after(60):
            async with Client(stdio_client(params, errlog=err)) as client:
                assert len((await client.list_tools()).tools) == len(CATALOG)
                body = envelope(await client.call_tool(
                    "task.assign", {"agent": "worker", "description": "over stdio"}))
                assert body["success"] is True
    assert await town.channel.inbox_len(worker.id) == 1
    logged = errlog.read_text()
    assert "Starting MCP server over stdio" in logged
    assert f"Townhall starting for town: {town.name}" in logged


def test_stdio_bad_town_is_one_line(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [TOWNHALL, "--town", str(tmp_path), "mcp-stdio"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Town not initialized at" in proc.stderr.strip().splitlines()[-1]
    assert "Traceback" not in proc.stderr


@pytest.fixture
async def http_url(town: Town) -> AsyncIterator[tuple[str, str]]:
    """MCP over HTTP on a free loopback port with API-key auth limited to ``town.read``."""
    key = generate_api_key()
    auth = TownhallAuth(mode="api_key", api_key_hash=hash_api_key(key),
                        api_key_scopes=["town.read"])
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(serve_mcp_http, build_server(town), auth, "127.0.0.1:0")
        yield urls[0], key
        nursery.cancel_scope.cancel()


def _rpc(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}


async def test_http_auth_scopes_origin_and_health(http_url: tuple[str, str], town: Town) -> None:
    url, key = http_url
    worker = await add_agent(town, "worker")
    async with httpx2.AsyncClient() as http:
        health = await http.get(f"{url}/health")
        assert (health.status_code, health.content) == (200, b"")
        anon = await http.post(f"{url}/", json=_rpc("tools/list"))
        assert anon.status_code == 401
        assert anon.json() == {"error": "Authentication required", "status": 401}
        wrong = await http.post(f"{url}/", json=_rpc("tools/list"),
                                headers={"Authorization": "Bearer " + "0" * 64})
        assert (wrong.status_code, wrong.json()["error"]) == (401, "Invalid credentials")
        evil = await http.post(f"{url}/", json=_rpc("tools/list"),
                               headers={"Origin": "https://evil.example", "X-API-Key": key})
        assert evil.status_code == 403
        assert evil.json()["error"] == "Cross-origin requests not allowed"
        write = _rpc("tools/call", {"name": "task.assign",
                                    "arguments": {"agent": "worker", "description": "x"}})
        denied = await http.post(f"{url}/", json=write, headers={"X-API-Key": key})
        assert (denied.status_code, denied.json()["error"]) == (403, "Insufficient permissions")
        huge = await http.post(f"{url}/", content=b"x" * (4 * 1024 * 1024 + 1),
                               headers={"X-API-Key": key, "Content-Type": "application/json"})
        assert huge.status_code == 413
    assert await town.channel.inbox_len(worker.id) == 0

    headers = {"Authorization": f"Bearer {key}", "Origin": "http://localhost:3000"}
    async with httpx2.AsyncClient(headers=headers) as http:
        async with Client(streamable_http_client(f"{url}/", http_client=http)) as client:
            assert len((await client.list_tools()).tools) == len(CATALOG)
            body = envelope(await client.call_tool("agent.list", {}))
            assert [a["name"] for a in body["data"]] == ["worker"]
            text = (await client.read_resource("tinytown://agents")).contents[0]
            assert json.loads(text.text)[0]["name"] == "worker"  # type: ignore[union-attr]
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            body = envelope(await client.call_tool("town.get_status", {}))
            assert body["data"]["agent_count"] == 1


async def test_mounted_beside_another_app(town: Town) -> None:
    """One Hypercorn serves a host app and MCP under /mcp (as the REST server mounts it)."""
    from hypercorn.config import Config
    from hypercorn.trio import serve
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from tinytown.mcp.http import build_http_app, mount_mcp

    async def hello(_request: object) -> PlainTextResponse:
        return PlainTextResponse("rest")

    host = Starlette(routes=[Route("/v1/hello", hello)])
    combined = mount_mcp(host, build_http_app(build_server(town), TownhallAuth()))
    config = Config()
    config.bind = ["127.0.0.1:0"]
    async with trio.open_nursery() as nursery:
        (url,) = await nursery.start(serve, combined, config)
        async with httpx2.AsyncClient() as http:
            assert (await http.get(f"{url}/v1/hello")).text == "rest"
            assert (await http.get(f"{url}/mcp/health")).status_code == 200
            async with Client(streamable_http_client(f"{url}/mcp/", http_client=http)) as client:
                body = envelope(await client.call_tool("town.get_status", {}))
                assert body["data"]["name"] == town.name
        nursery.cancel_scope.cancel()


async def test_rest_server_serves_mcp_under_slash_mcp(town: Town) -> None:
    """``townhall rest --mcp``: one Hypercorn, REST routes and MCP, the same API key."""
    from tinytown.config.town import TownhallConfig
    from tinytown.townhall.serve import serve_townhall

    key = generate_api_key()
    config = TownhallConfig(auth=TownhallAuth(mode="api_key", api_key_hash=hash_api_key(key)))
    worker = await add_agent(town, "worker")
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        (url,) = await nursery.start(
            partial(serve_townhall, town, config, port=0, shutdown=stop, mcp=True))
        headers = {"X-API-Key": key}
        async with httpx2.AsyncClient() as http:
            assert (await http.post(f"{url}/mcp/", json=_rpc("tools/list"))).status_code == 401
            rest = await http.get(f"{url}/v1/status", headers=headers)
            assert rest.status_code == 200
        async with httpx2.AsyncClient(headers=headers) as http:
            async with Client(streamable_http_client(f"{url}/mcp/", http_client=http)) as client:
                body = envelope(await client.call_tool(
                    "task.assign", {"agent": "worker", "description": "via /mcp"}))
                assert body["success"] is True
        stop.set()
    assert await town.channel.inbox_len(worker.id) == 1


async def test_stdio_stdout_carries_only_json_rpc(town: Town) -> None:
    """Every stdout line is a JSON-RPC message; the log lines went to stderr."""
    lines = [
        _rpc("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                            "clientInfo": {"name": "raw", "version": "0"}}),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {**_rpc("tools/call", {"name": "town.get_status", "arguments": {}}), "id": 2},
    ]
    import subprocess

    errlog = town.root / "stdio-stderr.log"
    with errlog.open("wb") as err, trio.fail_after(60):
        proc = await trio.lowlevel.open_process(
            [TOWNHALL, "--town", str(town.root), "mcp-stdio"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
        )
        try:
            assert proc.stdin is not None
            assert proc.stdout is not None
            await proc.stdin.send_all("".join(json.dumps(m) + "\n" for m in lines).encode())
            out = b""
            while out.count(b"\n") < 2:  # both replies, before stdin closes
                chunk = await proc.stdout.receive_some()
                assert chunk, out
                out += chunk
            await proc.stdin.aclose()
            out += b"".join([chunk async for chunk in proc.stdout])
            assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                with trio.CancelScope(shield=True):
                    await proc.wait()
    stderr = errlog.read_text()
    replies = [json.loads(line) for line in out.decode().splitlines()]
    assert [r["id"] for r in replies] == [1, 2]
    assert replies[0]["result"]["serverInfo"]["name"] == "tinytown-mcp"
    assert "Tinytown MCP interface" in replies[0]["result"]["instructions"]
    assert "result" in replies[1], replies[1]
    status = json.loads(replies[1]["result"]["content"][0]["text"])
    assert status["success"] is True
    assert status["data"]["name"] == town.name
    assert "Starting MCP server over stdio" in stderr


async def test_mcp_http_keeps_the_rest_startup_rules(town: Town) -> None:
    """No auth on a non-loopback address is refused before anything listens (0.10 allowed it)."""
    from tinytown.mcp.commands import serve_http
    from tinytown.townhall.safety import StartupError

    with pytest.raises(StartupError, match="non-loopback address"):
        await serve_http(town, "0.0.0.0", 0)
    with pytest.raises(StartupError, match="Invalid bind address"):
        await serve_http(town, "example.com", 0)
