"""Townhall: the town's REST control plane (and the host of the MCP transports).

An adapter over :mod:`tinytown.services`, like the CLI. The ASGI app is
Quart-Trio (:mod:`tinytown.townhall.app`); the one module that knows which
HTTP server runs it is :mod:`tinytown.townhall.server`. Nothing here is
imported by ``tt --help``.
"""
