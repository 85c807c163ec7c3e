"""The epoch check against a concurrent first contact (another ``tt`` in a new town)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis as redis_py

from tinytown import epoch
from tinytown.keys import Keys
from tinytown.redis.client import Redis


async def test_a_first_contact_racing_this_check_is_not_taken_for_a_loss(
    redis: Redis, town_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "town"
    (root / ".tt").mkdir(parents=True)
    keys = Keys(town_name)
    other = epoch.new_epoch()
    read_marker = epoch.read_marker
    raced = False

    def marker_with_a_racer(path: Path) -> epoch.Marker | None:
        # Another command sets the Redis epoch, then writes the marker, right now; this
        # check reads the file after it (as it may in any order of the two processes).
        nonlocal raced
        if not raced:
            raced = True
            redis_sync_set(keys.epoch, other)
            epoch.write_marker(root, epoch.Marker(other))
        return read_marker(path)

    def redis_sync_set(key: str, value: str) -> None:
        assert redis.settings.unix_path is not None
        with redis_py.Redis(unix_socket_path=redis.settings.unix_path) as client:
            client.set(key, value)

    monkeypatch.setattr(epoch, "read_marker", marker_with_a_racer)
    await epoch.check_epoch(redis, keys, root)  # no TownDataLostError
    assert raced
    assert read_marker(root) is not None
    assert await redis.execute("GET", keys.epoch) == other
