"""``GET /v1/events/stream``: SSE over the town's event stream, fan-out, resume, filters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from datetime import UTC, datetime

import httpx
import pytest
import trio

from tests.townhall.conftest import Running, Start
from tinytown.config.town import TownhallConfig
from tinytown.models import Event, EventType
from tinytown.town import Town

STREAM = "/v1/events/stream"
BlockedIn = Callable[..., Awaitable[None]]  # the ``blocked_in`` fixture of tests/conftest.py
COLLECT_TIMEOUT_S = 60  # generous: 100 clients on a shared, loaded machine
# httpcore leaves its body generator to the garbage collector when a client stops
# reading a stream early (an httpcore matter, not the server's).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Async generator 'http(core|x)\\.:ResourceWarning"
)


async def frames(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    """SSE frames with an ``id`` (comments and the retry hint skipped)."""
    frame: dict[str, str] = {}
    async with aclosing(response.aiter_lines()) as lines:
        async for line in lines:
            if not line:
                if "id" in frame:
                    yield frame
                frame = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                frame[name] = value.removeprefix(" ")


async def emit(town: Town, n: int, kind: EventType = EventType.TASK_ASSIGNED,
               mission: str | None = None) -> None:
    for i in range(n):
        await town.channel.emit(Event(event_type=kind, message=f"event {i}",
                                      timestamp=datetime.now(UTC), mission_id=mission))


async def collect(client: httpx.AsyncClient, n: int, *, params: dict[str, str] | None = None,
                  headers: dict[str, str] | None = None,
                  ready: trio.Event | None = None) -> list[dict[str, str]]:
    got: list[dict[str, str]] = []
    with trio.fail_after(COLLECT_TIMEOUT_S):
        async with client.stream("GET", STREAM, params=params, headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            if ready is not None:
                ready.set()
            async with aclosing(frames(response)) as stream:
                async for frame in stream:
                    got.append(frame)
                    if len(got) == n:
                        break
    return got


async def listen_then_emit(
    th: Running, n: int, blocked_in: BlockedIn, pause_s: float = 0.0
) -> list[dict[str, str]]:
    """Open a stream, wait until the hub waits for entries and ``pause_s`` more, emit ``n``
    events; the frames the stream got."""
    result: list[dict[str, str]] = []
    async with trio.open_nursery() as nursery:
        ready = trio.Event()

        async def reader() -> None:
            result.extend(await collect(th.client, n, ready=ready))

        nursery.start_soon(reader)
        await ready.wait()
        await blocked_in(th.town.redis, "xread")  # the hub is positioned
        await trio.sleep(pause_s)
        await emit(th.town, n)
    return result


async def test_stream_delivers_live_events_with_stream_ids(
    th: Running, blocked_in: BlockedIn
) -> None:
    result = await listen_then_emit(th, 3, blocked_in)
    assert [json.loads(f["data"])["message"] for f in result] == [f"event {i}" for i in range(3)]
    assert all(f["event"] == "task_assigned" for f in result)
    ids = [f["id"] for f in result]
    entries = await th.town.redis.execute("XRANGE", th.town.channel.keys.events, "-", "+")
    assert ids == [str(e[0]) for e in entries][-3:]


async def test_resume_after_disconnect_delivers_each_event_once(th: Running) -> None:
    await emit(th.town, 5)
    first = await collect(th.client, 2, params={"last_event_id": "0-0"})
    await emit(th.town, 4)
    rest = await collect(th.client, 7, headers={"Last-Event-ID": first[-1]["id"]})
    all_ids = [str(e[0]) for e in await th.town.redis.execute(
        "XRANGE", th.town.channel.keys.events, "-", "+")]
    assert [f["id"] for f in first + rest] == all_ids
    assert len(set(all_ids)) == 9


async def test_filters(th: Running) -> None:
    await emit(th.town, 2, EventType.TASK_COMPLETED)
    await emit(th.town, 2, EventType.TASK_FAILED, mission="m-1")
    got = await collect(th.client, 2, params={"last_event_id": "0", "kind": "task_failed"})
    assert {f["event"] for f in got} == {"task_failed"}
    got = await collect(th.client, 2, params={"last_event_id": "0", "mission": "m-1"})
    assert {f["event"] for f in got} == {"task_failed"}
    r = await th.client.get(STREAM, params={"kind": "bogus"})
    assert r.status_code == 400
    r = await th.client.get(STREAM, headers={"Last-Event-ID": "yesterday"})
    assert r.status_code == 400


async def nursery_client(url: str, limits: httpx.Limits) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=url, timeout=30, limits=limits)


async def test_hundred_subscribers_share_one_reader(th: Running, blocked_in: BlockedIn) -> None:
    pool = th.town.redis.pool
    n = 100
    results: list[list[dict[str, str]]] = []
    peak = 0
    async with trio.open_nursery() as nursery:
        readies = [trio.Event() for _ in range(n)]

        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        client = await nursery_client(th.url, limits)

        async def reader(ready: trio.Event) -> None:
            results.append(await collect(client, 5, ready=ready))

        for ready in readies:
            nursery.start_soon(reader, ready)
        for ready in readies:
            await ready.wait()
        await blocked_in(th.town.redis, "xread")  # the hub is positioned
        peak = max(peak, pool.in_use + len(pool.idle))
        await emit(th.town, 5)
        while len(results) < n:
            peak = max(peak, pool.in_use + len(pool.idle))
            await trio.sleep(0.01)
    await client.aclose()
    assert len(results) == n
    assert all(len(r) == 5 for r in results)
    assert len({tuple(f["id"] for f in r) for r in results}) == 1
    assert peak <= 2, f"{peak} Redis connections for {n} subscribers"


async def test_stream_is_exempt_from_the_request_timeout(
    start_townhall: Start, blocked_in: BlockedIn
) -> None:
    th = await start_townhall(TownhallConfig(request_timeout_ms=300))
    # Emitting after three times the request timeout: a stream under it would be cut by then.
    assert len(await listen_then_emit(th, 1, blocked_in, pause_s=1.0)) == 1
