"""Route blueprints of the REST API, one module per scope group (townhall.md §5)."""

from __future__ import annotations

from quart import Blueprint

from tinytown.townhall.dashboard import bp as dashboard
from tinytown.townhall.routes.attention import bp as attention
from tinytown.townhall.routes.events import bp as events
from tinytown.townhall.routes.manage import bp as manage
from tinytown.townhall.routes.missions import bp as missions
from tinytown.townhall.routes.probes import bp as probes
from tinytown.townhall.routes.read import bp as read
from tinytown.townhall.routes.write import bp as write

BLUEPRINTS: tuple[Blueprint, ...] = (probes, read, write, manage, missions, events, attention,
                                     dashboard)
