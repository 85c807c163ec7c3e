"""Timings and limits of the agent runtime, with environment overrides.

The defaults suit real model CLIs (rounds of minutes). Tests and benchmarks
shorten them through environment variables, which the detached runtime
process inherits from the ``tt`` command that started it:

==================================  =========  ===============================================
Variable                            Default    Meaning
==================================  =========  ===============================================
``TINYTOWN_HEARTBEAT_S``            5          agent heartbeat period (also how soon a control
                                               change made without a wake is noticed)
``TINYTOWN_RUNTIME_TTL_S``          30         lifetime of the runtime liveness key
``TINYTOWN_RUNTIME_REFRESH_S``      10         how often the liveness key is refreshed
``TINYTOWN_RUNTIME_GRACE_S``        3          an empty runtime waits this long before exiting
``TINYTOWN_KILL_GRACE_S``           3          SIGTERM → SIGKILL grace for a model process group
``TINYTOWN_FAILED_ROUND_BACKOFF_S`` 2          first pause after a failed round (doubles)
``TINYTOWN_MAX_FAILED_ROUNDS``      3          consecutive failed rounds before Error
``TINYTOWN_RESTART_BACKOFF_S``      1          first pause before restarting a crashed actor
``TINYTOWN_RESTART_BUDGET``         5          crashes allowed within the restart window
``TINYTOWN_RESTART_WINDOW_S``       300        the restart window
``TINYTOWN_MISSION_DISPATCH_S``     30         interval of the mission dispatcher loop
==================================  =========  ===============================================
"""

from __future__ import annotations

import enum
import os
import socket
from collections.abc import Mapping
from typing import Final

import attrs

from tinytown.errors import ConfigError


class ShutdownMode(enum.StrEnum):
    """What a runtime shutdown does to its agents (the ``mode`` of a ``shutdown`` command)."""

    STOP = "stop"
    """Kill the model processes, requeue in-flight work, mark the agents Stopped."""
    SUSPEND = "suspend"
    """Leave the agents as they are, for the next runtime to resume."""
    EXIT = "exit"
    """No agent left to host: exit (as ``suspend`` for anything still running)."""

DEFAULT_MAX_ROUNDS: Final = 10
BATCH_MAX: Final = 100
"""At most this many queued messages are taken into one round."""

_ENV: Final = {
    "heartbeat_s": "TINYTOWN_HEARTBEAT_S",
    "liveness_ttl_s": "TINYTOWN_RUNTIME_TTL_S",
    "liveness_refresh_s": "TINYTOWN_RUNTIME_REFRESH_S",
    "exit_grace_s": "TINYTOWN_RUNTIME_GRACE_S",
    "kill_grace_s": "TINYTOWN_KILL_GRACE_S",
    "failed_round_backoff_s": "TINYTOWN_FAILED_ROUND_BACKOFF_S",
    "max_failed_rounds": "TINYTOWN_MAX_FAILED_ROUNDS",
    "restart_backoff_s": "TINYTOWN_RESTART_BACKOFF_S",
    "restart_budget": "TINYTOWN_RESTART_BUDGET",
    "restart_window_s": "TINYTOWN_RESTART_WINDOW_S",
    "mission_dispatch_s": "TINYTOWN_MISSION_DISPATCH_S",
}


@attrs.frozen(kw_only=True)
class RuntimeSettings:
    """Timings (seconds) and limits of one runtime process; see the module table."""

    heartbeat_s: float = 5.0
    liveness_ttl_s: float = 30.0
    liveness_refresh_s: float = 10.0
    exit_grace_s: float = 3.0
    kill_grace_s: float = 3.0
    failed_round_backoff_s: float = 2.0
    failed_round_backoff_max_s: float = 60.0
    max_failed_rounds: int = 3
    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 30.0
    restart_budget: int = 5
    restart_window_s: float = 300.0
    mission_dispatch_s: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RuntimeSettings:
        """Defaults overridden by the ``TINYTOWN_*`` variables of ``env`` (default: os.environ).

        Raises:
            ConfigError: a variable is not a positive number (an integer for counts).
        """
        source = os.environ if env is None else env
        values: dict[str, float | int] = {}
        for field, var in _ENV.items():
            raw = source.get(var, "").strip()
            if not raw:
                continue
            integer = field in ("max_failed_rounds", "restart_budget")
            try:
                value: float | int = int(raw) if integer else float(raw)
            except ValueError:
                raise ConfigError(f"{var} must be a number, got {raw!r}") from None
            if not value > 0:
                raise ConfigError(f"{var} must be positive, got {raw!r}")
            values[field] = value
        return cls(**values)  # type: ignore[arg-type]


def host_id() -> str:
    """This machine's runtime identity: the host name (one runtime per town per host)."""
    return socket.gethostname()


def foreground_host_id(pid: int | None = None) -> str:
    """The identity of a foreground runtime (``--foreground``): host name plus its pid.

    A foreground runtime hosts only the agents it was started for; giving it
    its own identity keeps the host's background runtime from resuming them.
    """
    return f"{host_id()}:fg:{os.getpid() if pid is None else pid}"
