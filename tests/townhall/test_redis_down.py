"""Probes when the town's Redis goes away: 503 from /ready and /metrics, no 500, no hang."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from tests.conftest import RedisServer
from tests.services._work_fixtures import open_test_town
from tinytown.config.town import TownhallConfig
from tinytown.townhall.serve import serve_townhall


async def test_probes_report_redis_down(
    tmp_path: Path, town_name: str, monkeypatch: pytest.MonkeyPatch, nursery: trio.Nursery,
    redis_server_factory: Callable[..., RedisServer],
) -> None:
    server = redis_server_factory()
    async with open_test_town(tmp_path, town_name, server.url, monkeypatch) as town:
        stop = trio.Event()
        (url,) = await nursery.start(partial(serve_townhall, town, TownhallConfig(), port=0,
                                             shutdown=stop))
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            assert (await client.get("/ready")).status_code == 200
            server.kill()
            r = await client.get("/ready")
            assert r.status_code == 503
            doc = r.json()
            assert (doc["status"], doc["redis"], doc["dispatcher"]) == (
                "not_ready", "disconnected", "unknown")
            assert doc["detail"].startswith("Redis ping failed: ")
            r = await client.get("/metrics")
            assert r.status_code == 503
            lines = r.text.splitlines()
            assert "tinytown_ready 0" in lines
            assert "tinytown_up 1" in lines
            assert lines[-1].startswith("# tinytown_metrics_error ")
            r = await client.get("/api/scaling")
            assert r.status_code == 503
            assert r.headers["content-type"] == "application/problem+json"
            r = await client.get("/v1/status")
            assert r.status_code == 503
            assert (await client.get("/health")).status_code == 200
        stop.set()
