"""The one error tree of tinytown.

Every error a user can cause or meet is a :class:`TinytownError` subclass with
a one-line message. The CLI maps these classes to exit codes (one table in
``tinytown.cli.exitcodes``); the REST API maps them to problem+json.
"""

from __future__ import annotations


class TinytownError(Exception):
    """Base class of every tinytown error. ``str(err)`` is a one-line message."""


# --- configuration and town -------------------------------------------------


class ConfigError(TinytownError):
    """Invalid configuration, reserved names, bad values."""


class NotInitializedError(TinytownError):
    """No ``tinytown.toml`` at the given path."""

    def __init__(self, path: str) -> None:
        self.path = path
        # The book prints "at . Run 'tt init' first.": no second period after a path ending in one.
        stop = "" if path.endswith(".") else "."
        super().__init__(f"Town not initialized at {path}{stop} Run 'tt init' first.")


class TownExistsError(TinytownError):
    """``tt init`` on a directory that already holds a town."""


class InvalidInputError(TinytownError):
    """Malformed user input: ids, flag values, files."""


class PlanError(InvalidInputError):
    """A ``tasks.toml`` that cannot be read or has invalid content."""


# --- lookups -------------------------------------------------------------------


class NotFoundError(TinytownError):
    """Something referenced does not exist."""


class AgentNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        # A blank reference is quoted, so the message does not end in nothing.
        super().__init__(f"Agent not found: {ref if ref.strip() else repr(ref)}")


class TaskNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"Task not found: {ref}")


class MissionNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"Mission {ref} not found")


class AmbiguousAgentError(ConfigError):
    """An agent reference matches several agents."""


class AgentExistsError(TinytownError):
    """An agent name is already taken by a live agent."""


class InvalidStateError(TinytownError):
    """The operation does not apply to the current state (e.g. restart a running agent)."""


class CapacityError(InvalidStateError):
    """The runtime cannot host another agent (its open-file limit is reached)."""


class FencedError(InvalidStateError):
    """An agent-side command from a model round that has been superseded (nothing changed)."""


# --- data ------------------------------------------------------------------------


class CorruptRecordError(TinytownError):
    """A record in Redis that cannot be decoded."""

    def __init__(self, key: str, detail: str) -> None:
        self.key = key
        self.detail = detail
        super().__init__(f"Corrupt record at {key}: {detail}")


class MigrationError(TinytownError):
    """``tt migrate`` failed for a key."""


# --- Redis -----------------------------------------------------------------------


class RedisError(TinytownError):
    """Base of every error that comes from talking to Redis."""


class ResponseError(RedisError):
    """Redis answered with an ``-ERR``-style error reply."""

    @property
    def code(self) -> str:
        """The leading upper-case word of the reply (``ERR``, ``WRONGTYPE``, ``NOSCRIPT``…)."""
        text = str(self)
        head = text.split(" ", 1)[0]
        return head if head.isupper() else "ERR"


class AuthenticationError(ResponseError):
    """WRONGPASS / NOAUTH."""


class NoScriptError(ResponseError):
    """EVALSHA for a script the server does not have."""


class ConnectionLostError(RedisError):
    """The connection broke (EOF, reset, protocol error); the command may or may not have run."""


class WatchError(RedisError):
    """A WATCH transaction was aborted: a watched key changed before EXEC. Retry it."""


class RedisUnavailableError(RedisError):
    """Redis cannot be reached at all."""


class ProtocolError(ConnectionLostError):
    """The server sent bytes we could not parse."""


class RedisNotInstalledError(RedisError):
    def __init__(self, detail: str = "") -> None:
        msg = "Redis not found. Run 'tt bootstrap' or reinstall tinytown (it bundles Redis 8)."
        if detail:
            msg = f"{msg} ({detail})"
        super().__init__(msg)


class RedisVersionTooOldError(RedisError):
    def __init__(self, version: str) -> None:
        self.version = version
        super().__init__(
            f"Redis version {version} is too old. Tinytown requires Redis 8.0+. "
            "Run 'tt bootstrap' to install the latest version."
        )


class RedisStartError(RedisError):
    """A managed redis-server did not start."""


class TownDataLostError(TinytownError):
    """The town's Redis came back without the town's data (``.tt/town.json`` names an epoch)."""


class OperationTimeoutError(TinytownError):
    """An operation did not finish in time."""


class ModelError(TinytownError):
    """A model CLI could not be started or is unknown."""
