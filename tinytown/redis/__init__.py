"""Trio-native Redis client on hiredis (architecture decision 2).

Public API::

    from tinytown.redis import open_redis, parse_url, Script

    async with open_redis("unix:///path/redis.sock") as redis:
        await redis.execute("PING")

Names are imported lazily, so that ``tinytown.redis.url`` (settings and URL
parsing, used by configuration code) does not pull in Trio and hiredis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tinytown.redis.client import Pipeline as Pipeline
    from tinytown.redis.client import Redis as Redis
    from tinytown.redis.client import Transaction as Transaction
    from tinytown.redis.client import open_redis as open_redis
    from tinytown.redis.pubsub import PubSub as PubSub
    from tinytown.redis.pubsub import PubSubMessage as PubSubMessage
    from tinytown.redis.resp import CommandArg as CommandArg
    from tinytown.redis.script import Script as Script
    from tinytown.redis.url import ConnectionSettings as ConnectionSettings
    from tinytown.redis.url import parse_url as parse_url
    from tinytown.redis.url import redact_url as redact_url

_EXPORTS = {
    "CommandArg": "resp",
    "ConnectionSettings": "url",
    "Pipeline": "client",
    "PubSub": "pubsub",
    "PubSubMessage": "pubsub",
    "Redis": "client",
    "Script": "script",
    "Transaction": "client",
    "open_redis": "client",
    "parse_url": "url",
    "redact_url": "url",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
