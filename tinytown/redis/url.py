"""Redis connection settings and the URLs that describe them.

Three URL forms are understood::

    redis://[user[:password]@]host[:port][/db][?params]
    rediss://[user[:password]@]host[:port][/db][?params]      (TLS)
    unix://[user[:password]@]/path/to/redis.sock[?params]

Query parameters: ``db``, ``username``, ``password``, ``connect_timeout``
(seconds) and, for ``rediss://``, ``tls_ca_cert``, ``tls_cert``, ``tls_key``
(redis-py's ``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile`` are accepted
too). Any other parameter is refused rather than silently ignored.

Passwords never appear in messages: :func:`redact_url` and
:meth:`ConnectionSettings.redacted` replace them with ``****``.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import attrs

from tinytown.errors import ConfigError

DEFAULT_PORT = 6379
DEFAULT_HOST = "127.0.0.1"
DEFAULT_CONNECT_TIMEOUT_S = 5.0

_SCHEMES = ("redis", "rediss", "unix")
_QUERY_ALIASES = {
    "ssl_ca_certs": "tls_ca_cert",
    "ssl_certfile": "tls_cert",
    "ssl_keyfile": "tls_key",
}
_QUERY_KEYS = frozenset(
    {"db", "username", "password", "connect_timeout", "tls_ca_cert", "tls_cert", "tls_key"}
)


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{attribute.name} must be positive, got {value!r}")


def _non_negative(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        raise ConfigError(f"{attribute.name} must not be negative, got {value!r}")


@attrs.frozen
class ConnectionSettings:
    """Where and how to connect to one Redis server.

    Attributes:
        unix_path: Path of a unix socket; when set, ``host``/``port``/``tls``
            are ignored.
        host: TCP host name or address.
        port: TCP port.
        username: ACL user name (``AUTH username password``); ``None`` means
            the default user.
        password: Password sent with ``AUTH``; ``None`` sends no ``AUTH``.
        db: Database selected on connect (``SELECT``), skipped when 0.
        tls: Wrap TCP connections in TLS.
        tls_ca_cert: CA bundle that verifies the server (system store if ``None``).
        tls_cert: Client certificate file, for mutual TLS.
        tls_key: Key of ``tls_cert`` (when not inside the certificate file).
        connect_timeout_s: Bound on connecting, TLS handshake, AUTH and SELECT.
    """

    unix_path: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    db: int = attrs.field(default=0, validator=_non_negative)
    tls: bool = False
    tls_ca_cert: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    connect_timeout_s: float = attrs.field(default=DEFAULT_CONNECT_TIMEOUT_S, validator=_positive)

    def redacted(self) -> str:
        """Return these settings as a URL whose password is replaced by ``****``.

        Returns:
            ``unix:///path[?db=N]`` for a socket, else
            ``redis[s]://[user][:****@]host:port[/db]``.
        """
        if self.unix_path is not None:
            params = []
            if self.db:
                params.append(f"db={self.db}")
            if self.username is not None:
                params.append(f"username={quote(self.username, safe='')}")
            if self.password is not None:
                params.append("password=****")
            query = f"?{'&'.join(params)}" if params else ""
            return f"unix://{self.unix_path}{query}"
        userinfo = ""
        if self.username is not None or self.password is not None:
            user = quote(self.username, safe="") if self.username is not None else ""
            secret = ":****" if self.password is not None else ""
            userinfo = f"{user}{secret}@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = f"/{self.db}" if self.db else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{userinfo}{host}:{self.port}{path}"


def redact_url(url: str) -> str:
    """Hide the password of a URL, even one that does not parse.

    The authority (between ``://`` and the first ``/``, ``?`` or ``#``) keeps
    its user name as written; everything after the first ``:`` of the user
    info becomes ``****``. A ``password=`` query parameter is masked too.

    Args:
        url: Any string, typically a Redis URL.

    Returns:
        The URL with secrets replaced by ``****``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = len(rest)
    for stop in "/?#":
        pos = rest.find(stop)
        if pos != -1:
            end = min(end, pos)
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":****"
        authority = f"{userinfo}@{hostport}"
    if "password=" in tail:
        head, _, query = tail.partition("?")
        masked = [
            "password=****" if part.startswith("password=") else part for part in query.split("&")
        ]
        tail = f"{head}?{'&'.join(masked)}"
    return f"{scheme}{sep}{authority}{tail}"


def _int(value: str, what: str, url: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(
            f"Invalid Redis URL {redact_url(url)}: {what} must be an integer, got {value!r}"
        ) from None
    if number < 0:
        raise ConfigError(f"Invalid Redis URL {redact_url(url)}: {what} must not be negative")
    return number


def parse_url(url: str) -> ConnectionSettings:
    """Parse a ``redis://``, ``rediss://`` or ``unix://`` URL.

    Args:
        url: The URL (surrounding whitespace is ignored).

    Returns:
        The connection settings the URL describes.

    Raises:
        ConfigError: The URL is malformed; the message shows it redacted.
    """
    text = url.strip()
    shown = redact_url(text)
    try:
        parts = urlsplit(text)
        port_text = parts.port
    except ValueError as exc:
        raise ConfigError(f"Invalid Redis URL {shown}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or "://" not in text:
        raise ConfigError(f"Invalid Redis URL {shown}: expected redis://, rediss:// or unix://")
    if parts.fragment:
        raise ConfigError(f"Invalid Redis URL {shown}: unexpected #fragment")

    options: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        key = _QUERY_ALIASES.get(key, key)
        if key not in _QUERY_KEYS:
            raise ConfigError(f"Invalid Redis URL {shown}: unsupported parameter {key!r}")
        options[key] = value

    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    username = options.get("username", username) or None
    password = options.get("password", password) or None
    db = 0
    timeout = DEFAULT_CONNECT_TIMEOUT_S
    if "connect_timeout" in options:
        try:
            timeout = float(options["connect_timeout"])
        except ValueError:
            raise ConfigError(
                f"Invalid Redis URL {shown}: connect_timeout must be a number"
            ) from None
        if not timeout > 0:
            raise ConfigError(f"Invalid Redis URL {shown}: connect_timeout must be positive")

    if scheme == "unix":
        # unix:///abs/path has an empty host; unix://~/x or unix://rel/x keep it.
        host_part = parts.netloc.rpartition("@")[2]
        path = unquote(host_part + parts.path)
        if not path:
            raise ConfigError(f"Invalid Redis URL {shown}: missing socket path")
        if "db" in options:
            db = _int(options["db"], "db", text)
        return ConnectionSettings(
            unix_path=os.path.expanduser(path),
            username=username,
            password=password,
            db=db,
            connect_timeout_s=timeout,
        )

    if scheme != "rediss" and any(k.startswith("tls_") for k in options):
        raise ConfigError(f"Invalid Redis URL {shown}: TLS parameters need rediss://")
    path = parts.path.strip("/")
    if path:
        db = _int(path, "database number", text)
    if "db" in options:
        db = _int(options["db"], "db", text)
    return ConnectionSettings(
        host=parts.hostname or DEFAULT_HOST,
        port=DEFAULT_PORT if port_text is None else port_text,
        username=username,
        password=password,
        db=db,
        tls=scheme == "rediss",
        tls_ca_cert=options.get("tls_ca_cert") or None,
        tls_cert=options.get("tls_cert") or None,
        tls_key=options.get("tls_key") or None,
        connect_timeout_s=timeout,
    )
