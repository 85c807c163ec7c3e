"""``tt townhall [rest|mcp-stdio|mcp-http]``: the same command as the ``townhall`` script."""

from __future__ import annotations

from tinytown.townhall.command import app

__all__ = ["app"]
