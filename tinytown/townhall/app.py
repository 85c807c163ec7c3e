"""The REST app: Quart-Trio with quart-schema, the pipeline hooks and every route blueprint.

:func:`create_app` builds one app for one connected town. The timeout and
CORS layers wrap it as ASGI middleware (:mod:`tinytown.townhall.middleware`)
so they also cover routing errors.
"""

from __future__ import annotations

from typing import Any, Final, cast

from quart_schema import QuartSchema
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter

from tinytown import __version__
from tinytown.errors import TinytownError
from tinytown.townhall import pipeline
from tinytown.townhall.auth import AuthError
from tinytown.townhall.context import EXTENSION, TownhallContext
from tinytown.townhall.middleware import ASGIApp, Cors, Timeout
from tinytown.townhall.openapi import TownhallOpenAPI

MAX_BODY_BYTES: Final = 1 << 20


class ItemConverter(BaseConverter):
    """A path segment naming an item, but not ``assign-all`` (a sibling route's literal).

    Without it ``/v1/backlog/<task_id>`` would also match ``/v1/backlog/assign-all``,
    advertising DELETE there in ``Allow``.
    """

    regex = r"(?!assign-all(?:/|$))[^/]+"
NO_TIMEOUT_PATHS: Final = ("/v1/events/stream",)


def create_quart_app(context: TownhallContext) -> QuartTrio:
    """The Quart app alone (no middleware); tests of the pipeline use it."""
    from tinytown.townhall.routes import BLUEPRINTS

    app = QuartTrio("tinytown.townhall")
    app.url_map.converters["item"] = ItemConverter
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions[EXTENSION] = context
    QuartSchema(
        app,
        openapi_path="/openapi.json",
        swagger_ui_path=None,
        redoc_ui_path=None,
        scalar_ui_path=None,
        info={"title": "Tinytown townhall", "version": __version__},
        conversion_preference="msgspec",
        openapi_provider_class=TownhallOpenAPI,
        security_schemes={
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in_": "header", "name": "X-API-Key"},
        },
    )
    app.before_request(pipeline.before_request)
    app.after_request(pipeline.after_request)
    app.register_error_handler(AuthError, pipeline.on_auth_error)
    app.register_error_handler(pipeline.Forbidden, pipeline.on_forbidden)
    app.register_error_handler(pipeline.BodyError, pipeline.on_body_error)
    app.register_error_handler(TinytownError, pipeline.on_tinytown_error)
    app.register_error_handler(HTTPException, pipeline.on_http_exception)
    app.register_error_handler(Exception, pipeline.on_unexpected)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app


def create_app(context: TownhallContext) -> Any:
    """The ASGI app hypercorn serves: CORS → timeout → Quart."""
    app = cast(ASGIApp, create_quart_app(context))
    timeout_s = context.config.request_timeout_ms / 1000 or None
    return Cors(Timeout(app, timeout_s, exempt=NO_TIMEOUT_PATHS), context.config.cors_origins)
