"""The request pipeline: request ids, body draining, auth → audit → scope, JSON bodies, errors.

Order on a protected route (as 0.10, plus auditing refusals): authenticate
(401) → scope check (403) → handler; every 401/403 and every mutating
request is audited. Error responses are problem+json from
:mod:`tinytown.townhall.problems`.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import msgspec
from quart import Response, g, request
from quart_schema import DataSource, document_request
from werkzeug.exceptions import HTTPException

from tinytown.errors import TinytownError
from tinytown.townhall.audit import MUTATING
from tinytown.townhall.auth import INSUFFICIENT, AuthError, Principal
from tinytown.townhall.context import ctx
from tinytown.townhall.openapi import BODY_OPTIONAL_ATTR, SCOPE_ATTR
from tinytown.townhall.problems import PROBLEM_JSON, problem_body, status_for

P = ParamSpec("P")
T = TypeVar("T")
M = TypeVar("M")
REQUEST_ID = "X-Request-Id"
MAX_REQUEST_ID = 200
log = logging.getLogger("tinytown.townhall")


class Forbidden(Exception):
    """The principal lacks the route's scope: 403."""


class BodyError(Exception):
    """A request body that is not what the route takes: 400, 415 or 422."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


# --- responses --------------------------------------------------------------------------


def problem(status: int, detail: str | None = None, **extra: Any) -> Response:
    rid = getattr(g, "request_id", None)
    body = problem_body(status, detail, instance=f"urn:request:{rid}" if rid else None, **extra)
    return Response(body, status=status, content_type=PROBLEM_JSON)


# --- hooks --------------------------------------------------------------------------------


async def before_request() -> None:
    """Give the request its id and read its body now.

    Reading the body of every request (bounded by MAX_CONTENT_LENGTH) keeps a
    keep-alive connection usable after a response that never read it (a 405
    on PUT, say): otherwise the next request on it could hang.
    """
    given = request.headers.get(REQUEST_ID, "")
    ok = 0 < len(given) <= MAX_REQUEST_ID and given.isascii() and given.isprintable()
    g.request_id = given if ok else str(uuid.uuid4())
    await request.get_data(cache=True)


async def after_request(response: Response) -> Response:
    rid = getattr(g, "request_id", None)
    if rid is not None:
        response.headers[REQUEST_ID] = rid
    return response


# --- auth, scope and audit -----------------------------------------------------------


def _audit(principal: Principal | None, status: int) -> None:
    rule = request.url_rule
    ctx().audit.record(
        request_id=getattr(g, "request_id", ""),
        principal=principal.id if principal else "anonymous",
        scopes=principal.scopes if principal else (),
        method=request.method,
        route=rule.rule if rule is not None else request.path,
        path=request.path,
        status=status,
    )


def protected(scope: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Require ``scope``: 401 without valid credentials, 403 without the scope; audit."""

    def decorator(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            principal: Principal | None = None
            try:
                principal = await ctx().auth.authenticate(
                    request.headers.get("Authorization"), request.headers.get("X-API-Key")
                )
                if not principal.has(scope):
                    raise Forbidden(INSUFFICIENT)
                g.principal = principal
                result = await fn(*args, **kwargs)
            except AuthError:
                _audit(None, 401)
                raise
            except Forbidden:
                _audit(principal, 403)
                raise
            except BodyError as exc:
                if request.method in MUTATING:
                    _audit(principal, exc.status)
                raise
            except TinytownError as exc:
                if request.method in MUTATING:
                    _audit(principal, status_for(exc))
                raise
            if request.method in MUTATING:
                _audit(principal, _status_of(result))
            return result

        setattr(wrapper, SCOPE_ATTR, scope)
        return wrapper

    return decorator


def _status_of(result: object) -> int:
    if isinstance(result, tuple) and len(result) >= 2 and isinstance(result[1], int):
        return result[1]
    if isinstance(result, Response):
        return result.status_code
    return 200


# --- JSON bodies ----------------------------------------------------------------------


def _is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


async def load_body(model: type[M], *, optional: bool = False) -> M:
    """The request's JSON body as ``model``.

    An optional body may be absent (or sent without a JSON content type):
    the model's defaults apply.

    Raises:
        BodyError: 415 not JSON, 400 not UTF-8 or not JSON, 422 the wrong shape.
    """
    raw = await request.get_data(cache=True, as_text=False)
    assert isinstance(raw, bytes)
    if not _is_json(request.mimetype):
        if optional and not raw:
            return msgspec.convert({}, model)
        if optional and not request.mimetype:
            return msgspec.convert({}, model)
        raise BodyError(415, "Expected a JSON body (Content-Type: application/json)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BodyError(400, "Request body is not valid UTF-8") from None
    except ValueError as exc:
        raise BodyError(400, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BodyError(422, "Request body must be a JSON object")
    try:
        return msgspec.convert(data, model, strict=True)
    except (msgspec.ValidationError, ValueError, TypeError) as exc:
        raise BodyError(422, str(exc)) from None


def json_body(
    model: type[M], *, optional: bool = False
) -> Callable[[Callable[..., Awaitable[T]]], Callable[..., Awaitable[T]]]:
    """Decorator: pass the validated body as ``body=`` and document it in OpenAPI."""

    def decorator(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> T:
            body = await load_body(model, optional=optional)
            return await fn(*args, body=body, **kwargs)

        setattr(wrapper, BODY_OPTIONAL_ATTR, optional)
        return document_request(model, source=DataSource.JSON)(wrapper)

    return decorator


# --- error handlers ---------------------------------------------------------------------


async def on_auth_error(exc: AuthError) -> Response:
    response = problem(401, exc.detail, error=exc.detail)
    response.headers["WWW-Authenticate"] = 'Bearer realm="townhall"'
    return response


async def on_forbidden(exc: Forbidden) -> Response:
    return problem(403, str(exc), error=str(exc))


async def on_body_error(exc: BodyError) -> Response:
    return problem(exc.status, exc.detail)


async def on_tinytown_error(exc: TinytownError) -> Response:
    status = status_for(exc)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.path, exc)
    return problem(status, str(exc))


async def on_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    response = problem(status, exc.description if status not in (404, 405) else None)
    allow = exc.get_headers().__iter__()
    for name, value in allow:
        if name.lower() == "allow":
            response.headers["Allow"] = value
    return response


async def on_unexpected(exc: Exception) -> Response:
    log.exception("%s %s failed", request.method, request.path, exc_info=exc)
    return problem(500, "Internal error; see the townhall log")
