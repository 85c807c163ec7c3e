"""RFC 9457 problem details: the one table mapping errors to HTTP statuses.

Every error a handler lets escape becomes ``application/problem+json``
with ``type``, ``title``, ``status``, ``detail`` (and the request id as
``instance``). Unlike tinytown 0.10, service errors are never a blanket 500:
an unknown agent is a 404, bad input a 400, a state conflict a 409.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from tinytown import errors

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://tinytown.dev/errors/"

# Checked in order: the first matching class wins, so subclasses come first.
TABLE: tuple[tuple[type[BaseException], int], ...] = (
    (errors.NotFoundError, 404),
    (errors.AmbiguousAgentError, 409),
    (errors.NotInitializedError, 503),
    (errors.RedisError, 503),
    (errors.InvalidInputError, 400),
    (errors.ConfigError, 400),
    (errors.CorruptRecordError, 500),
    (errors.AgentExistsError, 409),
    (errors.TownExistsError, 409),
    (errors.InvalidStateError, 409),
    (errors.OperationTimeoutError, 504),
    (errors.ModelError, 422),  # the agent's model CLI cannot run here
    (errors.TinytownError, 500),
)


def status_for(exc: BaseException) -> int:
    """The HTTP status of an error (500 for anything unexpected)."""
    for cls, status in TABLE:
        if isinstance(exc, cls):
            return status
    return 500


def title_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_doc(status: int, detail: str | None = None, **extra: Any) -> dict[str, Any]:
    """The problem+json object for ``status``; ``extra`` members are appended."""
    doc: dict[str, Any] = {
        "type": f"{TYPE_BASE}{status}",
        "title": title_for(status),
        "status": status,
    }
    if detail:
        doc["detail"] = detail
    doc.update({k: v for k, v in extra.items() if v is not None})
    return doc


def problem_body(status: int, detail: str | None = None, **extra: Any) -> str:
    return json.dumps(problem_doc(status, detail, **extra))
