"""Problem+json errors, body validation and request ids (townhall.md §4)."""

from __future__ import annotations

from tests.townhall.conftest import Running, Start
from tinytown.config.town import TownhallConfig
from tinytown.services.registration import register_agent

PROBLEM = "application/problem+json"


async def test_unknown_path_and_wrong_method(th: Running) -> None:
    r = await th.client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"] == "https://tinytown.dev/errors/404"
    r = await th.client.put("/v1/status", content=b"x" * 1000)
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM
    assert "GET" in r.headers["allow"]


async def test_body_errors(th: Running) -> None:
    await register_agent(th.town, "w", "claude")
    r = await th.client.post("/v1/tasks/assign", content=b'{"agent": "w", "task": "x"}',
                             headers={"content-type": "text/plain"})
    assert r.status_code == 415
    r = await th.client.post("/v1/tasks/assign", content=b"{not json",
                             headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["detail"]
    r = await th.client.post("/v1/tasks/assign", content=b'{"agent": "\xff"}',
                             headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert "UTF-8" in r.json()["detail"]
    r = await th.client.post("/v1/tasks/assign", json={"agent": "w"})
    assert r.status_code == 422
    assert "task" in r.json()["detail"]
    r = await th.client.post("/v1/tasks/assign", json={"agent": 5, "task": "x"})
    assert r.status_code == 422
    assert "agent" in r.json()["detail"]
    r = await th.client.post("/v1/tasks/assign", json=["w"])
    assert r.status_code == 422


async def test_service_errors_are_not_blanket_500(th: Running) -> None:
    r = await th.client.post("/v1/tasks/assign", json={"agent": "ghost", "task": "x"})
    assert r.status_code == 404
    assert r.json()["detail"] == "Agent not found: ghost"
    assert (await th.client.get("/v1/agents/ghost/inbox")).status_code == 404
    r = await th.client.post("/v1/tasks/assign", json={"agent": "supervisor", "task": "  "})
    assert r.status_code == 422  # blank: refused by the schema, before the service
    assert "task" in r.json()["detail"]


async def test_request_ids(th: Running) -> None:
    r = await th.client.get("/health", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r = await th.client.get("/v1/nothing")
    rid = r.headers["x-request-id"]
    assert len(rid) == 36
    assert r.json()["instance"] == f"urn:request:{rid}"


async def test_cors(th: Running) -> None:
    r = await th.client.options("/v1/status", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://localhost:3000"
    r = await th.client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_cors_configured_origins(start_townhall: Start) -> None:
    th = await start_townhall(TownhallConfig(cors_origins=["https://ops.example"]))
    r = await th.client.get("/health", headers={"Origin": "https://ops.example"})
    assert r.headers["access-control-allow-origin"] == "https://ops.example"
    assert "X-Request-Id" in r.headers["access-control-expose-headers"]
    r = await th.client.get("/health", headers={"Origin": "https://other.example"})
    assert "access-control-allow-origin" not in r.headers
    anyone = await start_townhall(TownhallConfig(cors_origins=["*"]))
    r = await anyone.client.get("/health", headers={"Origin": "https://other.example"})
    assert r.headers["access-control-allow-origin"] == "https://other.example"
