"""The OpenAPI 3.1 document: quart-schema's, completed where it falls short for msgspec models.

* nested models are emitted as ``components.schemas`` (quart-schema drops the
  components msgspec generates, leaving dangling ``$ref``);
* request bodies are ``required`` unless the route takes an optional body;
* every operation documents its problem+json errors as the ``default`` response;
* protected operations name their security schemes and required scope.
"""

from __future__ import annotations

import inspect
from typing import Any, Final

import msgspec
from quart_schema import OpenAPIProvider
from quart_schema.validation import DataSource

from tinytown.townhall.models import Problem
from tinytown.townhall.problems import PROBLEM_JSON

REF_TEMPLATE: Final = "#/components/schemas/{name}"
BODY_OPTIONAL_ATTR: Final = "_tinytown_body_optional"
SCOPE_ATTR: Final = "_tinytown_scope"
SECURITY: Final[list[dict[str, list[str]]]] = [{"bearer": []}, {"apiKey": []}]


# Routes whose success is not a JSON document.
TEXT_ROUTES: Final = {"/metrics": "200", "/v1/events/stream": "200"}
TEXT_TYPES: Final = {"/metrics": "text/plain", "/v1/events/stream": "text/event-stream"}


def _untyped_success(path: str) -> dict[str, Any]:
    content_type = TEXT_TYPES.get(path, "application/json")
    schema: dict[str, Any] = {"type": "string"} if path in TEXT_TYPES else {}
    return {"description": "Success", "content": {content_type: {"schema": schema}}}


def schema_ref(model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{"$ref": ...}`` for ``model`` and every component it needs."""
    (ref,), components = msgspec.json.schema_components([model], ref_template=REF_TEMPLATE)
    return ref, components


class TownhallOpenAPI(OpenAPIProvider):
    def build_request_body(
        self, model: Any, source: DataSource
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        ref, components = schema_ref(model)
        return {"content": {"application/json": {"schema": ref}}, "required": True}, components

    def build_response_object(
        self, model: Any, headers_model: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        ref, components = schema_ref(model)
        content_type = PROBLEM_JSON if model is Problem else "application/json"
        response = {"content": {content_type: {"schema": ref}},
                    "description": inspect.getdoc(model) or ""}
        return response, components

    def build_path_parameter(self, name: str, converter: Any) -> dict[str, Any]:
        parameter: dict[str, Any] = super().build_path_parameter(name, converter)
        if name.endswith("_id"):  # task, mission, work item and message ids are UUIDs
            parameter["schema"] = {"type": "string", "format": "uuid"}
        return parameter

    def build_paths(self, rule: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        problem, problem_components = self.build_response_object(Problem, None)
        problem["description"] = "An error, as RFC 9457 problem details"
        components.update(problem_components)
        scope = getattr(func, SCOPE_ATTR, None)
        for operations in paths.values():
            for method, operation in list(operations.items()):
                op = dict(operation)
                responses = {str(code): r for code, r in op["responses"].items()}
                if not any(code.startswith("2") for code in responses):
                    responses[TEXT_ROUTES.get(rule.rule, "200")] = _untyped_success(rule.rule)
                op["responses"] = {**responses, "default": problem}
                if "requestBody" in op and getattr(func, BODY_OPTIONAL_ATTR, False):
                    op["requestBody"] = {**op["requestBody"], "required": False}
                if scope is not None:
                    op["security"] = SECURITY
                    op["description"] = (op.get("description", "") +
                                         f"\n\nRequires scope `{scope}`.").strip()
                operations[method] = op
        return paths, components
