"""Auth modes, scopes, 401 vs 403, and the audit log (townhall.md §6, §9)."""

from __future__ import annotations

import json

import pytest

from tests.townhall.conftest import Start
from tinytown.config.town import TownhallAuth, TownhallConfig
from tinytown.services.apikey import generate_api_key, hash_api_key
from tinytown.town import Town

KEY = generate_api_key()
HASH = hash_api_key(KEY)


def api_key_config(scopes: list[str] | None = None) -> TownhallConfig:
    return TownhallConfig(auth=TownhallAuth(mode="api_key", api_key_hash=HASH,
                                            api_key_scopes=scopes or []))


def audit_lines(town: Town) -> list[dict[str, object]]:
    path = town.tt_dir / "logs" / "townhall-audit.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


async def test_api_key_modes(start_townhall: Start, town: Town) -> None:
    th = await start_townhall(api_key_config())
    assert (await th.client.get("/health")).status_code == 200
    assert (await th.client.get("/metrics")).status_code == 200
    r = await th.client.get("/v1/status")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert r.json()["detail"] == "Authentication required"
    r = await th.client.get("/v1/status", headers={"Authorization": "Bearer wrong-key"})
    assert (r.status_code, r.json()["detail"]) == (401, "Invalid credentials")
    ok = {"Authorization": f"Bearer {KEY}"}
    assert (await th.client.get("/v1/status", headers=ok)).status_code == 200
    assert (await th.client.get("/v1/town", headers={"x-api-key": KEY})).status_code == 200
    # Bearer wins over X-API-Key.
    both = {"Authorization": "Bearer wrong", "X-API-Key": KEY}
    assert (await th.client.get("/v1/town", headers=both)).status_code == 401
    spawned = await th.client.post("/v1/agents", json={"name": "w", "cli": "demo"}, headers=ok)
    assert spawned.status_code == 201
    denied = [x for x in audit_lines(town) if x["result"] == "denied"]
    assert len(denied) == 3
    assert {x["principal"] for x in denied} == {"anonymous"}
    assert all(KEY not in json.dumps(x) for x in audit_lines(town))
    success = [x for x in audit_lines(town) if x["result"] == "success"]
    assert [(x["method"], x["route"], x["principal"]) for x in success] == [
        ("POST", "/v1/agents", "api_key")]


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["town.read"], {"read"}),
        (["town.write"], {"write"}),
        (["agent.manage"], {"manage"}),
        (["admin"], {"read", "write", "manage"}),
        (["town.read", "agent.manage"], {"read", "manage"}),
    ],
)
async def test_scopes_403(start_townhall: Start, town: Town, scopes: list[str],
                          allowed: set[str]) -> None:
    th = await start_townhall(api_key_config(scopes), headers={"X-API-Key": KEY})
    calls = {
        "read": ("GET", "/v1/agents", None),
        "write": ("POST", "/v1/backlog", {"description": "x"}),
        "manage": ("POST", "/v1/agents/prune", {}),
    }
    for name, (method, path, body) in calls.items():
        r = await th.client.request(method, path, json=body)
        want = {"read": 200, "write": 201, "manage": 200}[name] if name in allowed else 403
        assert r.status_code == want, (scopes, name, r.text)
        if want == 403:
            assert r.json()["detail"] == "Insufficient permissions"
    denied = [x for x in audit_lines(town) if x["status"] == 403]
    assert len(denied) == 3 - len(allowed)
    assert all(x["principal"] == "api_key" and x["scopes"] == sorted(scopes) for x in denied)


async def test_none_mode_is_local_admin(start_townhall: Start, town: Town) -> None:
    th = await start_townhall()
    for path in ("/v1/status", "/v1/agents", "/v1/backlog"):
        assert (await th.client.get(path)).status_code == 200
    await th.client.post("/v1/backlog", json={"description": "x"})
    (line,) = audit_lines(town)
    assert (line["principal"], line["result"], line["status"]) == ("local", "success", 201)


async def test_verified_keys_are_cached_and_wrong_ones_are_not(
    start_townhall: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinytown.townhall import auth as auth_module

    calls: list[str] = []
    real = auth_module.verify_api_key

    def counting(key: str, stored: str) -> bool:
        calls.append(key)
        return real(key, stored)

    monkeypatch.setattr(auth_module, "verify_api_key", counting)
    th = await start_townhall(api_key_config())
    for _ in range(3):
        assert (await th.client.get("/v1/town", headers={"X-API-Key": KEY})).status_code == 200
        assert (await th.client.get("/v1/town", headers={"X-API-Key": "bad"})).status_code == 401
    assert calls.count(KEY) == 1
    assert calls.count("bad") == 3
