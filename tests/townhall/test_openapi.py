"""``/openapi.json``: OpenAPI 3.1 from the models the routes validate with, no CDN UI."""

from __future__ import annotations

from tests.townhall.conftest import Running


async def test_openapi_document(th: Running) -> None:
    r = await th.client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    paths = doc["paths"]
    for path in ("/health", "/ready", "/api/scaling", "/v1/status", "/v1/agents",
                 "/v1/tasks/assign", "/v1/messages/send", "/v1/backlog/{task_id}/claim",
                 "/v1/agents/{agent}/inbox", "/v1/missions/{mission_id}/stop"):
        assert path in paths, path

    def body_schema(path: str) -> dict[str, object]:
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in body:
            return doc["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]  # type: ignore[no-any-return]
        return body  # type: ignore[no-any-return]

    assert set(body_schema("/v1/tasks/assign")["required"]) == {"agent", "task"}  # type: ignore[arg-type]
    assert "from" in body_schema("/v1/messages/send")["properties"]  # type: ignore[operator]
    for ui in ("/docs", "/redocs", "/scalar"):
        assert (await th.client.get(ui)).status_code == 404
