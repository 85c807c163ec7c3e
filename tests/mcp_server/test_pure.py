"""Pure parts: argument schemas and checks, key extraction, scopes, Origin rule, addresses."""

from __future__ import annotations

import pytest

from tinytown.config import new_town_config
from tinytown.errors import InvalidInputError
from tinytown.mcp.args import check_args, input_schema, opt, req
from tinytown.mcp.auth import needed_scope
from tinytown.mcp.http import origin_allowed
from tinytown.mcp.views import inbox_message as mcp_inbox_message
from tinytown.models import SUPERVISOR, ConfirmationType, Message, MessageType
from tinytown.townhall.views import inbox_message as rest_inbox_message

ARGS = (
    req("agent", "string", "who"),
    opt("count", "integer", "how many", default=20),
    opt("timeout", "number", "seconds"),
    opt("tags", "string[]", "tags"),
    opt("all", "boolean", "everything", default=False),
)


def test_schema() -> None:
    schema = input_schema(ARGS)
    assert schema["required"] == ["agent"]
    props = schema["properties"]
    assert props["agent"]["type"] == "string"
    assert (props["count"]["type"], props["count"]["default"]) == ("integer", 20)
    assert props["timeout"]["type"] == ["number", "null"]
    assert props["tags"] == {"description": "tags", "type": ["array", "null"],
                             "items": {"type": "string"}}
    assert "required" not in input_schema(())


def test_check_args_defaults_and_types() -> None:
    got = check_args(ARGS, {"agent": "a", "timeout": 2, "extra": 1})
    assert got.text("agent") == "a"
    assert got.opt_int("count") == 20
    assert got.opt_number("timeout") == 2.0
    assert got.texts("tags") == []
    assert got.flag("all") is False
    assert check_args(ARGS, {"agent": "a", "tags": ["x"]}).texts("tags") == ["x"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({}, "Missing required argument: agent"),
        ({"agent": None}, "Missing required argument: agent"),
        ({"agent": 3}, "Argument 'agent' must be a string"),
        ({"agent": "a", "count": True}, "Argument 'count' must be an integer"),
        ({"agent": "a", "count": 1.5}, "Argument 'count' must be an integer"),
        ({"agent": "a", "timeout": "5"}, "Argument 'timeout' must be a number"),
        ({"agent": "a", "tags": ["x", 1]}, "Argument 'tags' must be an array of strings"),
        ({"agent": "a", "all": "yes"}, "Argument 'all' must be a boolean"),
    ],
)
def test_check_args_refusals(given: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        check_args(ARGS, given)
    assert str(err.value) == message


def test_scope_of_each_call() -> None:
    scopes = {"agent.kill": "agent.manage"}
    call = {"method": "tools/call", "params": {"name": "agent.kill", "arguments": {}}}
    assert needed_scope(call, scopes) == "agent.manage"
    assert needed_scope({"method": "tools/call", "params": {"name": "x"}}, scopes) == "town.read"
    assert needed_scope({"method": "resources/read"}, scopes) == "town.read"
    assert needed_scope({"method": "initialize"}, scopes) is None
    assert needed_scope([1], scopes) is None


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [(None, True), ("http://localhost", True), ("https://127.0.0.1:8080", True),
     ("http://[::1]:3000", True), ("http://localhost.evil.com", False),
     ("https://example.com", False), ("null", False)],
)
def test_origin_rule(origin: str | None, allowed: bool) -> None:
    assert origin_allowed(origin) is allowed


def test_http_address_defaults_to_rest_port_plus_one() -> None:
    from tinytown.mcp.commands import http_address

    class FakeTown:
        config = new_town_config("t")

    assert http_address(FakeTown(), None, None) == ("127.0.0.1", 8081)  # type: ignore[arg-type]
    assert http_address(FakeTown(), "0.0.0.0", 0) == ("0.0.0.0", 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "wire_type", "summary"),
    [
        (MessageType.TaskAssign(task_id="t-1"), "task_assign", "task assignment t-1"),
        (MessageType.Task(description="do it"), "task", "do it"),
        (MessageType.Query(question="why?"), "query", "why?"),
        (MessageType.Informational(summary="fyi"), "info", "fyi"),
        (MessageType.Confirmation(ack_type=ConfirmationType.Acknowledged()), "confirmation",
         "Acknowledged"),
        (MessageType.Confirmation(ack_type=ConfirmationType.Rejected(reason="no")),
         "confirmation", 'Rejected { reason: "no" }'),
        (MessageType.TaskDone(task_id="t-1", result="ok"), "task_done", "done t-1: ok"),
        (MessageType.TaskFailed(task_id="t-1", error="bad"), "task_failed", "failed t-1: bad"),
        (MessageType.StatusRequest(), "status_request", "status request"),
        (MessageType.StatusResponse(state="idle"), "status_response", "status: idle"),
        (MessageType.Ping(), "ping", "ping"),
        (MessageType.Pong(), "pong", "pong"),
        (MessageType.Shutdown(), "shutdown", "shutdown"),
        (MessageType.Custom(kind="deploy", payload="v2"), "custom:deploy", "[deploy] v2"),
    ],
)
def test_rest_and_mcp_render_an_inbox_entry_alike(kind: object, wire_type: str,
                                                  summary: str) -> None:
    """townhall.md §5.3's table, one rendering; MCP adds only ``urgent: false`` (mcp.md)."""
    msg = Message(from_=SUPERVISOR, to=SUPERVISOR, kind=kind)  # type: ignore[arg-type]
    rest = rest_inbox_message(msg)
    assert (rest["type"], rest["summary"]) == (wire_type, summary)
    assert mcp_inbox_message(msg) == {**rest, "urgent": False}
