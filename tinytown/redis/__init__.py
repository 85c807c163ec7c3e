"""Trio-native Redis client on hiredis (architecture decision 2) and the town's own server.

Import from the modules: :mod:`~tinytown.redis.client` (``open_redis``,
``Redis``, pipelines, transactions), :mod:`~tinytown.redis.url` (connection
settings and URL parsing; imports neither Trio nor hiredis),
:mod:`~tinytown.redis.script`, :mod:`~tinytown.redis.server` (the town's
``redis-server``).
"""
