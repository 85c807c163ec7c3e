"""What every request handler shares: the town, the config, the authenticator, the audit log.

Handlers reach it with :func:`ctx` (it lives in ``app.extensions``, never in
a module global), so one process can serve several apps in tests.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import attrs
import trio

from tinytown.config.town import TownhallConfig
from tinytown.townhall.audit import AuditLog
from tinytown.townhall.auth import Authenticator

if TYPE_CHECKING:
    from tinytown.town import Town

EXTENSION = "tinytown"


@attrs.define
class TownhallContext:
    """Per-app state.

    Attributes:
        town: the connected town (its Redis client is a pool shared by all requests).
        config: the ``[townhall]`` table.
        auth: turns headers into principals.
        audit: the audit log (JSONL under ``.tt/logs/`` and the ``tinytown.townhall.audit`` log).
        started: monotonic start time, for ``uptime_secs``.
        closing: set when the server shuts down; open streams end on it.
        hubs: per-process shared readers (the SSE event hub), keyed by name.
    """

    town: Town
    config: TownhallConfig
    auth: Authenticator
    audit: AuditLog
    started: float = attrs.field(factory=time.monotonic)
    closing: trio.Event = attrs.field(factory=trio.Event)
    hubs: dict[str, Any] = attrs.field(factory=dict)

    @property
    def uptime_s(self) -> int:
        return int(time.monotonic() - self.started)


def ctx() -> TownhallContext:
    """The context of the app serving the current request."""
    from quart import current_app

    return cast(TownhallContext, current_app.extensions[EXTENSION])
