"""codec.slots: building frozen attrs instances slot by slot, only where that is the same object."""

from __future__ import annotations

import attrs
import pytest

from tinytown.codec import message_from_json, message_to_bytes
from tinytown.codec.slots import slot_setters
from tinytown.models import AgentId, Message, MessageId, MessageType


@attrs.frozen
class Plain:
    a: str
    b: int = 0


@attrs.frozen
class Validated:
    a: str = attrs.field(validator=attrs.validators.instance_of(str))


@attrs.frozen
class Converted:
    a: str = attrs.field(converter=str)


@attrs.frozen
class PostInit:
    a: str

    def __attrs_post_init__(self) -> None:
        pass


@attrs.frozen
class Private:
    _a: str


def test_setters_build_the_object_init_builds() -> None:
    set_a, set_b = slot_setters(Plain, ("a", "b"))
    built = object.__new__(Plain)
    set_a(built, "x")
    set_b(built, 3)
    assert built == Plain("x", 3)
    assert hash(built) == hash(Plain("x", 3))
    assert type(built) is Plain


@pytest.mark.parametrize(
    ("cls", "names"),
    [
        (Plain, ("a",)),  # a field left out
        (Plain, ("b", "a")),  # out of order
        (Validated, ("a",)),
        (Converted, ("a",)),
        (PostInit, ("a",)),
        (Private, ("_a",)),  # __init__ takes it as "a"
    ],
)
def test_refuses_what_init_would_do_differently(cls: type, names: tuple[str, ...]) -> None:
    with pytest.raises(TypeError):
        slot_setters(cls, names)


def test_decoded_message_is_a_plain_message_with_every_field() -> None:
    sent = Message(
        from_=AgentId.new(), to=AgentId.new(), kind=MessageType.TaskAssign(task_id="t-1"),
        correlation_id=MessageId.new(),
    )  # fmt: skip
    got = message_from_json(message_to_bytes(sent))
    assert type(got) is Message
    assert type(got.id) is MessageId
    assert type(got.kind) is MessageType.TaskAssign
    assert got == sent
    assert hash(got) == hash(sent)
    assert attrs.asdict(got, recurse=False) == attrs.asdict(sent, recurse=False)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        got.to = sent.from_  # type: ignore[misc]
