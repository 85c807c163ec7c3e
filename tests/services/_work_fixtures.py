"""A Town on the session Redis for the work/messages/status service tests.

Each test module declares its own small ``town`` fixture around :func:`open_test_town`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tinytown.config import new_town_config, save_town_config
from tinytown.town import Town


@asynccontextmanager
async def open_test_town(
    tmp_path: Path, town_name: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Town]:
    """A connected Town with a unique name whose tinytown.toml names the session Redis."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REDIS_URL", redis_url)
    root = tmp_path / "town"
    (root / ".tt" / "logs").mkdir(parents=True, exist_ok=True)
    save_town_config(root, new_town_config(town_name))
    async with Town.connect(root) as town:
        yield town
