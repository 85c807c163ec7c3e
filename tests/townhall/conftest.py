"""A real townhall for each test: Hypercorn on a loopback port (or a unix socket) in the
test's nursery, over a town on the session Redis, with an httpx client on Trio."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import trio

from tests.services._work_fixtures import open_test_town
from tinytown.config.town import TownhallConfig
from tinytown.town import Town
from tinytown.townhall.serve import serve_townhall


@attrs.define
class Running:
    url: str
    client: httpx.AsyncClient
    stop: trio.Event
    town: Town


Start = Callable[..., Awaitable[Running]]


async def answer_lifespan(receive: Any, send: Any) -> None:
    """The ASGI lifespan protocol for the small stand-in apps of some tests."""
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


@pytest.fixture
async def town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    async with open_test_town(tmp_path, town_name, redis_url, monkeypatch) as t:
        try:
            yield t
        finally:
            await _stop_runtime(t)


async def _stop_runtime(town: Town) -> None:
    """Stop (then kill, by pid) a runtime a spawn or restart route started for the town."""
    from tinytown.procwait import pid_alive
    from tinytown.runtime.launch import shut_down_runtimes
    from tinytown.runtime.procfiles import read_pid, runtime_pidfile

    pid = read_pid(runtime_pidfile(town.root))
    if pid is None:
        return
    with trio.move_on_after(15) as scope:
        scope.shield = True
        await shut_down_runtimes(town)
    if pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
async def start_townhall(town: Town, nursery: trio.Nursery) -> AsyncIterator[Start]:
    """``await start_townhall(config=None, bind=None, **client_kwargs)`` → a running server."""
    running: list[Running] = []

    async def start(
        config: TownhallConfig | None = None, *, bind: str = "127.0.0.1", port: int = 0,
        **client_kwargs: Any,
    ) -> Running:
        cfg = config or TownhallConfig()
        stop = trio.Event()
        binds = await nursery.start(
            partial(serve_townhall, town, cfg, bind=bind, port=port, shutdown=stop)
        )
        url = binds[0]
        if url.startswith(("http://unix:", "https://unix:")) or bind.startswith("unix:"):
            transport = httpx.AsyncHTTPTransport(uds=bind[len("unix:"):])
            client = httpx.AsyncClient(transport=transport, base_url="http://townhall",
                                       **client_kwargs)
        else:
            client = httpx.AsyncClient(base_url=url, **client_kwargs)
        r = Running(url, client, stop, town)
        running.append(r)
        return r

    yield start
    for r in running:
        await r.client.aclose()
        r.stop.set()


@pytest.fixture
async def th(start_townhall: Start) -> Running:
    """A townhall with the default config (auth none) on 127.0.0.1."""
    return await start_townhall()
