"""Where a town's Redis is: the connection target derived from its config (config.md §5.1).

Precedence: env ``REDIS_URL`` (non-blank) → ``[redis].url`` (non-blank) →
the socket/TCP fields. Env ``TINYTOWN_REDIS_PASSWORD``, when set at all,
replaces ``[redis].password`` (set but empty means "no password").

Modes:

* ``url``: an explicit URL, used verbatim; never started by tt.
* ``remote_tcp``: TCP to a host that is not loopback; never started by tt.
* ``town_tcp``: TCP on loopback. tt starts it (with a control socket under
  ``.tt/`` as well) unless the town was made by tinytown 0.10 for its
  central server (``use_central_redis = true``), which tt does not manage.
* ``town_socket``: the default; the town's own server on a unix socket.
"""

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote

import attrs

from tinytown.config.town import TownConfig
from tinytown.redis.url import redact_url

Mode = Literal["url", "remote_tcp", "town_tcp", "town_socket"]
REDACTED = "****"


@attrs.frozen
class RedisTarget:
    """How to reach a town's Redis.

    Attributes:
        mode: ``url``, ``remote_tcp``, ``town_tcp`` or ``town_socket``.
        url: the connection URL, password included.
        redacted: the URL to show to users, password hidden.
        managed: True when tt should start the server if it is not running.
        socket_path: the managed server's unix socket (also in ``town_tcp``
            mode, where it is the control socket); ``None`` when not managed.
        password: the effective password for TCP modes (``None`` in the
            other modes: a URL carries its own, the town socket has none).
    """

    mode: Mode
    url: str
    redacted: str
    managed: bool
    socket_path: Path | None = None
    password: str | None = None


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, 127.0.0.0/8 or ``::1``.

    Brackets (``[::1]``) and IPv4-mapped IPv6 (``::ffff:127.0.0.1``) are
    understood; any other name (``127.example.com``) is not loopback.
    """
    host = host.strip().removeprefix("[").removesuffix("]")
    if host.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _effective_password(cfg: TownConfig, env: Mapping[str, str]) -> str | None:
    password = env["TINYTOWN_REDIS_PASSWORD"] if "TINYTOWN_REDIS_PASSWORD" in env else None
    if password is None:
        password = cfg.redis.password
    return password or None


def _tcp_url(scheme: str, host: str, port: int, password: str | None, *, hide: bool) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    auth = ""
    if password is not None:
        auth = f":{REDACTED}@" if hide else f":{quote(password, safe='')}@"
    return f"{scheme}://{auth}{host}:{port}"


def with_password(target: RedisTarget, cfg: TownConfig, password: str) -> RedisTarget:
    """A TCP target with ``password`` (URL and redacted URL rebuilt)."""
    rc = cfg.redis
    scheme = "rediss" if rc.tls_enabled else "redis"
    return attrs.evolve(
        target,
        url=_tcp_url(scheme, rc.host, rc.port, password, hide=False),
        redacted=_tcp_url(scheme, rc.host, rc.port, password, hide=True),
        password=password,
    )


def insecure_remote(target: RedisTarget, cfg: TownConfig) -> bool:
    """A server reached over the network with neither a password nor TLS."""
    if target.mode == "remote_tcp":
        return target.password is None and not cfg.redis.tls_enabled
    if target.mode == "url":
        url = target.url.strip()
        host = url.split("://", 1)[-1].rsplit("@", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        return url.startswith("redis://") and "@" not in url and not is_loopback(host)
    return False


def redis_target(cfg: TownConfig, root: Path, env: Mapping[str, str]) -> RedisTarget:
    """Derive the Redis target of a town.

    Args:
        cfg: the town's configuration.
        root: the town directory (relative paths are taken from the cwd).
        env: the environment (``os.environ`` in production).

    Note:
        In socket modes this calls
        :func:`tinytown.redis.sockpath.effective_socket_path`, which may pick a
        short fallback path (and record it under ``.tt/``) when the socket
        path under the town is too long for the OS.
    """
    explicit = env.get("REDIS_URL", "").strip() or (cfg.redis.url or "").strip()
    if explicit:
        return RedisTarget(mode="url", url=explicit, redacted=redact_url(explicit), managed=False)

    from tinytown.redis.sockpath import effective_socket_path  # lazy: keeps config import light

    root = root.absolute()
    rc = cfg.redis
    if rc.use_socket:
        sock_path = effective_socket_path(root, rc.socket_path, env)
        url = f"unix://{sock_path}"
        return RedisTarget(
            mode="town_socket", url=url, redacted=url, managed=True, socket_path=sock_path
        )
    password = _effective_password(cfg, env)
    scheme = "rediss" if rc.tls_enabled else "redis"
    url = _tcp_url(scheme, rc.host, rc.port, password, hide=False)
    redacted = _tcp_url(scheme, rc.host, rc.port, password, hide=True)
    if not is_loopback(rc.host):
        return RedisTarget(
            mode="remote_tcp", url=url, redacted=redacted, managed=False, password=password
        )
    managed = not cfg.use_central_redis
    sock = effective_socket_path(root, rc.socket_path, env) if managed else None
    return RedisTarget(
        mode="town_tcp",
        url=url,
        redacted=redacted,
        managed=managed,
        socket_path=sock,
        password=password,
    )
