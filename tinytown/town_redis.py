"""Starting a town's own Redis under the "config is data" rule (issue 10 item 2).

``tinytown.toml`` is committed and cloned with repositories, so nothing it
names is executed without the user's say: a ``[redis] binary`` from the town
file runs only if it lies in the user's ``~/.tt/``; anywhere else it must come
from the user (env ``TINYTOWN_REDIS_SERVER`` or ``[redis] binary`` in
``~/.tt/config.toml``). Socket paths follow :mod:`tinytown.redis.sockpath`.

A town's own Redis on TCP gets a generated password, kept in the user's
``~/.tt/secrets/`` (mode 0600), unless the user opts out
(``TINYTOWN_REDIS_NO_AUTH=1``); a remote server with neither password nor TLS
is warned about.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from tinytown.config import GlobalConfig, RedisTarget, TownConfig, load_global_config
from tinytown.config.target import insecure_remote, with_password
from tinytown.errors import ConfigError
from tinytown.files import private_dir
from tinytown.redis import server
from tinytown.redis.sockpath import effective_socket_path

log = logging.getLogger("tinytown")

BINARY_ENV = "TINYTOWN_REDIS_SERVER"


def global_config_or_none() -> GlobalConfig | None:
    """The user's global config, None when it cannot be read (the defaults then apply)."""
    try:
        return load_global_config()
    except ConfigError:
        return None


def town_file_binary(config: TownConfig, root: Path, home: Path | None = None) -> str | None:
    """The town file's ``[redis] binary`` if it is allowed to run, None when unset.

    Raises:
        ConfigError: it is set and its path (``..`` collapsed) lies outside ``~/.tt/``.
    """
    configured = (config.redis.binary or "").strip()
    if not configured:
        return None
    home = home or Path.home()
    real = Path(os.path.normpath(root.absolute() / Path(configured).expanduser()))
    if real.is_relative_to(os.path.normpath(home.absolute() / ".tt")):
        return str(real)
    raise ConfigError(
        f"Refusing to run [redis] binary = {configured!r} from tinytown.toml: a town file "
        f"must not choose programs to run. Set {BINARY_ENV} or [redis] binary in "
        f"~/.tt/config.toml to use it"
    )


def redis_binary(
    config: TownConfig, root: Path, env: Mapping[str, str] | None = None
) -> Path:
    """The ``redis-server`` to start for this town.

    Order: env ``TINYTOWN_REDIS_SERVER`` → ``[redis] binary`` of the user's
    global config → the town file's (only inside ``~/.tt/``) → the usual
    discovery (:func:`tinytown.redis.binary.find_redis_server`).
    """
    env = os.environ if env is None else env
    explicit = env.get(BINARY_ENV, "").strip()
    if not explicit:
        glob = global_config_or_none()
        explicit = (glob.redis.binary or "").strip() if glob is not None else ""
    if not explicit:
        home = Path(env["HOME"]) if env.get("HOME") else None
        explicit = town_file_binary(config, root, home) or ""
    return server.find_redis_server(explicit or None, env)


async def ensure_server(root: Path, config: TownConfig, target: RedisTarget) -> bool:
    """Start the town's Redis unless it already answers; whether it was started now."""
    if target.socket_path is not None and server.server_running(
        root, target.socket_path, target.password
    ):
        return False
    binary = redis_binary(config, root)
    tcp = None
    if target.mode == "town_tcp":
        tcp = (config.redis.bind, config.redis.port)
    await server.start_town_server(
        root,
        socket_path=target.socket_path or effective_socket_path(root, ".tt/redis.sock"),
        binary=binary,
        aof=config.redis.persist,
        tcp=tcp,
        password=target.password,
    )
    return True


# --- TCP needs auth (issue 10 item 5) ------------------------------------------------

NO_AUTH_ENV = "TINYTOWN_REDIS_NO_AUTH"
SECRETS_DIR = "secrets"


def town_tcp_password(root: Path, home: Path | None = None) -> str:
    """The generated password of a town's own TCP Redis, kept 0600 in ``~/.tt/secrets/``.

    Never written to ``tinytown.toml``: that file is shared and committed.
    """
    home = home or Path.home()
    digest = hashlib.sha256(str(root.absolute()).encode()).hexdigest()[:24]
    path = private_dir(home / ".tt" / SECRETS_DIR) / f"redis-{digest}"
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        text = ""
    if text:
        return text
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password + "\n")
    return password


def secure_target(
    target: RedisTarget, config: TownConfig, root: Path, env: Mapping[str, str]
) -> RedisTarget:
    """Give a town's own TCP Redis a password unless the user opted out; warn about open remotes.

    The opt-out is the user's (env ``TINYTOWN_REDIS_NO_AUTH=1``), never the town file's.
    """
    if insecure_remote(target, config):
        log.warning("Redis at %s has no password and no TLS: anyone who can reach it can "
                    "read and change the town", target.redacted)
    if target.mode != "town_tcp" or not target.managed or target.password:
        return target
    if env.get(NO_AUTH_ENV, "").strip().lower() in ("1", "true", "yes"):
        return target
    home = Path(env["HOME"]) if env.get("HOME") else None
    return with_password(target, config, town_tcp_password(root, home))
