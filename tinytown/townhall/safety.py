"""Startup rules of ``townhall rest`` (townhall.md §1.2, §8): pure checks, no I/O but stat.

* a non-loopback address with ``auth.mode = "none"`` refuses to start;
* ``api_key`` on a non-loopback address starts with a warning;
* TLS and mTLS files must be configured and exist (and, since we serve TLS
  for real, load: :mod:`tinytown.townhall.server` reports a bad PEM the same way).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import attrs

from tinytown.config.target import is_loopback
from tinytown.config.town import TownhallConfig
from tinytown.errors import ConfigError

UNIX_PREFIX = "unix:"


class StartupError(ConfigError):
    """A fatal startup rule: the message is logged as ``❌ FATAL: …`` and the process exits 1."""


@attrs.frozen
class Bind:
    """Where to listen: ``host``/``port``, or a unix socket ``path``."""

    host: str = ""
    port: int = 0
    path: str | None = None

    @property
    def hypercorn(self) -> str:
        if self.path is not None:
            return f"{UNIX_PREFIX}{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def shown(self) -> str:
        return self.hypercorn


def parse_bind(bind: str, port: int) -> Bind:
    """An IP literal (``[::1]`` or ``::1``), ``localhost`` or ``unix:PATH``.

    Raises:
        StartupError: a host name or something else that is not an address.
    """
    text = bind.strip()
    if text.startswith(UNIX_PREFIX):
        path = text[len(UNIX_PREFIX) :]
        if not path:
            raise StartupError("Invalid bind address 'unix:': give a socket path, unix:PATH")
        return Bind(path=path)
    host = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise StartupError(
                f"Invalid bind address {bind!r}: use an IP address, localhost or unix:PATH"
            ) from None
    if not 0 <= port <= 65535:
        raise StartupError(f"Invalid port {port}: must be 0-65535")
    return Bind(host=host, port=port)


def check_startup(config: TownhallConfig, bind: Bind, root: Path) -> list[str]:
    """Apply the startup rules; return the warnings to log.

    Raises:
        StartupError: a fatal rule (the message is the one 0.10 logs after ``FATAL:``).
    """
    warnings: list[str] = []
    mode = config.auth.mode
    if bind.path is None and not is_loopback(bind.host):  # a unix socket is local
        if mode == "none":
            raise StartupError(
                f"Binding to non-loopback address {bind.shown} with auth.mode=none is not "
                "allowed. Configure API key or OIDC authentication, or bind to 127.0.0.1."
            )
        if mode == "api_key":
            warnings.append(
                f"Running API key authentication on non-loopback address {bind.shown}. "
                "Consider using OIDC for production deployments."
            )
    if mode == "oidc" and not config.auth.jwks_url:
        raise StartupError("OIDC configuration error: auth.mode=oidc needs jwks_url")
    tls_error = tls_problem(config, root)
    if tls_error is not None:
        raise StartupError(f"TLS configuration error: {tls_error}")
    mtls_error = mtls_problem(config, root)
    if mtls_error is not None:
        raise StartupError(f"mTLS configuration error: {mtls_error}")
    return warnings


def resolve_path(root: Path, value: str) -> Path:
    """A config path: absolute, or relative to the town root."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def tls_problem(config: TownhallConfig, root: Path) -> str | None:
    tls = config.tls
    if not tls.enabled:
        return None
    if not tls.cert_file:
        return "TLS enabled but cert_file is not configured"
    if not tls.key_file:
        return "TLS enabled but key_file is not configured"
    if not resolve_path(root, tls.cert_file).exists():
        return "TLS cert_file does not exist"
    if not resolve_path(root, tls.key_file).exists():
        return "TLS key_file does not exist"
    return None


def mtls_problem(config: TownhallConfig, root: Path) -> str | None:
    mtls = config.mtls
    if not (mtls.enabled or mtls.required):
        return None
    if mtls.required and not mtls.ca_file:
        return "mTLS required but ca_file is not configured"
    if mtls.ca_file and not resolve_path(root, mtls.ca_file).exists():
        return "mTLS ca_file does not exist"
    if mtls.ca_file and not config.tls.enabled:
        return "mTLS needs TLS: set [townhall.tls] enabled = true with cert_file and key_file"
    return None
