"""Exit codes of ``tt``: the one table mapping errors to process exit status.

====  ==========================================================
Code  Meaning
====  ==========================================================
0     success
1     any other tinytown error
2     usage error (unknown command or flag, bad flag value)
3     not found: unknown agent or task
4     no town here (``tt init`` first) or a town already exists
5     Redis unreachable, not installed, too old, failed to start
6     invalid input or configuration (ids, names, files, values)
7     the operation does not fit the current state
8     timed out
130   interrupted (Ctrl+C)
====  ==========================================================
"""

from __future__ import annotations

from tinytown import errors

OK = 0
FAILURE = 1
USAGE = 2
NOT_FOUND = 3
NO_TOWN = 4
REDIS = 5
INVALID = 6
STATE = 7
TIMEOUT = 8
INTERRUPTED = 130

# Checked in order: the first matching class wins, so subclasses come first.
TABLE: tuple[tuple[type[BaseException], int], ...] = (
    (errors.NotFoundError, NOT_FOUND),
    (errors.NotInitializedError, NO_TOWN),
    (errors.TownExistsError, NO_TOWN),
    (errors.RedisError, REDIS),
    (errors.InvalidInputError, INVALID),
    (errors.ConfigError, INVALID),
    (errors.CorruptRecordError, INVALID),
    (errors.AgentExistsError, STATE),
    (errors.InvalidStateError, STATE),
    (errors.OperationTimeoutError, TIMEOUT),
    (errors.TinytownError, FAILURE),
)


def exit_code_for(exc: BaseException) -> int:
    for cls, code in TABLE:
        if isinstance(exc, cls):
            return code
    return FAILURE
