"""Public probes: health, readiness, metrics, the scaling signal (townhall.md §5.2)."""

from __future__ import annotations

from tests.townhall.conftest import Running
from tinytown.services import backlog, tasks
from tinytown.services.registration import register_agent


async def test_health_and_ready(th: Running) -> None:
    for path in ("/health", "/healthz"):
        r = await th.client.get(path)
        assert r.status_code == 200
        assert r.json()["status"] == "ok"
        assert isinstance(r.json()["uptime_secs"], int)
    for path in ("/ready", "/readyz"):
        r = await th.client.get(path)
        assert r.status_code == 200
        doc = r.json()
        assert doc["status"] == "ready"
        assert doc["redis"] == "connected"
        assert doc["dispatcher"] == "idle"
        assert doc["town"] == th.town.name
        assert doc["redis_latency_ms"] >= 0


async def test_metrics_lines(th: Running) -> None:
    town = th.town
    await register_agent(town, "worker-1", "claude")
    await register_agent(town, "worker-2", "claude")
    await backlog.add(town, "in backlog")
    await tasks.assign(town, "worker-1", "assigned one")
    r = await th.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    body = r.text
    assert body.endswith("\n")
    for line in ("tinytown_up 1", "tinytown_ready 1", 'tinytown_agents_total{state="starting"} 2',
                 "tinytown_tasks_pending 2", "tinytown_backlog_tasks 1",
                 "tinytown_tasks_assigned_pending 1", "tinytown_tasks_completed_total 0",
                 "tinytown_missions_active 0", "tinytown_urgent_messages 0"):
        assert line in body.splitlines(), line
    assert any(ln.startswith("tinytown_redis_latency_seconds ") for ln in body.splitlines())


async def test_scaling_scale_up(th: Running) -> None:
    town = th.town
    await register_agent(town, "worker-1", "claude")
    await backlog.add(town, "b")
    await tasks.assign(town, "worker-1", "a")
    r = await th.client.get("/api/scaling")
    assert r.status_code == 200
    doc = r.json()
    assert (doc["queue_depth"], doc["pending_tasks"], doc["in_flight_tasks"]) == (2, 2, 0)
    assert (doc["active_agents"], doc["cold_agents"], doc["desired_agents"]) == (1, 0, 2)
    assert doc["max_agents"] == 10
    assert doc["scaling_recommendation"] == "scale_up"
    assert doc["timestamp"].endswith("+00:00")
