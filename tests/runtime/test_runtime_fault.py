"""Fault injection: SIGKILL the runtime at random points, 50 times; no message is lost.

Numbered messages are sent to three agents throughout. The fake model
records every message it is shown. After the last kill a runtime drains the
queues; every message must have been handled at least once. Duplicates are
expected (a round killed before its acknowledgement is redone) and counted.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter

import pytest
import redis as redis_py
from _rt_support import RtTown, rt_town_fixture, wait_until  # noqa: F401

from tinytown.codec import message_to_json
from tinytown.models import SUPERVISOR, AgentId, Message, MessageType
from tinytown.runtime.settings import host_id

KILLS = 50
AGENTS = ("alpha", "beta", "gamma")


class Sender(threading.Thread):
    """Sends ``msg-<n>`` task messages round-robin until stopped."""

    def __init__(self, rt_town: RtTown, agent_ids: list[str], interval_s: float) -> None:
        super().__init__(daemon=True)
        self.r = redis_py.Redis.from_url(rt_town.url, decode_responses=True)
        self.keys = rt_town.keys
        self.agent_ids = agent_ids
        self.interval_s = interval_s
        self.sent: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            aid = self.agent_ids[n % len(self.agent_ids)]
            text = f"msg-{n}"
            msg = Message(from_=SUPERVISOR, to=AgentId.parse(aid),
                          kind=MessageType.Task(description=text))
            self.r.rpush(self.keys.inbox(aid), message_to_json(msg))
            self.sent.append(text)
            n += 1
            self.stop.wait(self.interval_s)
        self.r.close()


@pytest.mark.slow
def test_sigkill_at_random_points_loses_no_message(
    rt_town: RtTown, monkeypatch: pytest.MonkeyPatch, record_property: object
) -> None:
    rng = random.Random(20261121)
    monkeypatch.setenv("FAKE_SLEEP_S", "0.1")
    for name in AGENTS:
        rt_town.ok("spawn", name, "--model", "jitter", "--max-rounds", "100000")
    ids = [rt_town.agent(n)["id"] for n in AGENTS]
    for pid in rt_town.runtime_pids():  # from now on the runtime is our child
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not rt_town.runtime_pids(), "detached runtime gone")

    live_key = rt_town.keys.runtime(host_id())
    sender = Sender(rt_town, ids, 0.01)
    sender.start()
    mid_round = 0
    try:
        for _ in range(KILLS):
            proc = rt_town.start_runtime()
            up = str(proc.pid)
            wait_until(lambda: rt_town.r.get(live_key) == up, "runtime up")  # noqa: B023
            time.sleep(rng.uniform(0.02, 0.4))
            proc.kill()
            proc.wait()
            if any(rt_town.queued(aid)[2] for aid in ids):
                mid_round += 1
    finally:
        sender.stop.set()
        sender.join()

    rt_town.start_runtime()
    sent = set(sender.sent)

    def drained() -> bool:
        seen = {text for *_, text in rt_town.seen_lines()}
        return sent <= seen and all(rt_town.queued(aid) == (0, 0, 0) for aid in ids)

    wait_until(drained, "every message handled", timeout=60)
    counts = Counter(text for *_, text in rt_town.seen_lines() if text in sent)
    duplicates = sum(counts.values()) - len(counts)
    print(f"\nfault test: {KILLS} kills ({mid_round} with a round in flight), "
          f"{len(sent)} messages, all handled, {duplicates} duplicate deliveries")
    record_property("duplicates", duplicates)  # type: ignore[operator]
    assert set(counts) == sent
    assert mid_round > 0
