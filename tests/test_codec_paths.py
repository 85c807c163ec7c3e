"""The message codec's fast paths agree with its general ones, on any message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytown.codec import message_from_json, message_to_bytes, message_to_dict, message_to_json
from tinytown.codec.json_codec import _dumps
from tinytown.models import AgentId, Message, MessageId, MessageType, Priority
from tinytown.models.message import ConfirmationType

texts = st.text(max_size=40)
ids = st.builds(lambda: AgentId.new())
acks = st.one_of(
    st.builds(ConfirmationType.Received), st.builds(ConfirmationType.Thanks),
    st.builds(ConfirmationType.Rejected, reason=texts),
)  # fmt: skip
kinds = st.one_of(
    st.builds(MessageType.Task, description=texts),
    st.builds(MessageType.Query, question=texts),
    st.builds(MessageType.Informational, summary=texts),
    st.builds(MessageType.TaskAssign, task_id=texts),
    st.builds(MessageType.TaskDone, task_id=texts, result=texts),
    st.builds(MessageType.TaskFailed, task_id=texts, error=texts),
    st.builds(MessageType.StatusResponse, state=texts, current_task=st.none() | texts),
    st.builds(MessageType.Custom, kind=texts, payload=texts),
    st.builds(MessageType.Confirmation, ack_type=acks),
    st.builds(MessageType.Ping), st.builds(MessageType.Shutdown),
)  # fmt: skip
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7, minutes=-30))]
)
times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
)
messages = st.builds(
    Message, from_=ids, to=ids, kind=kinds, priority=st.sampled_from(list(Priority)),
    created_at=times, correlation_id=st.none() | st.builds(lambda: MessageId.new()),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(messages)
def test_encoding_is_the_general_encoding_byte_for_byte(message: Message) -> None:
    general = _dumps(message_to_dict(message))
    assert message_to_json(message) == general
    assert message_to_bytes(message) == general.encode()
    back = message_from_json(message_to_bytes(message))
    assert back == Message(
        from_=message.from_, to=message.to, kind=message.kind, priority=message.priority,
        id=message.id, created_at=message.created_at.astimezone(UTC),
        correlation_id=message.correlation_id,
    )  # fmt: skip
    assert back.created_at.tzinfo is UTC


def test_text_orjson_refuses_takes_the_general_way() -> None:
    # A lone surrogate: what a non-UTF-8 byte read with surrogateescape becomes.
    message = Message(
        from_=AgentId.new(), to=AgentId.new(), kind=MessageType.Custom(kind="k", payload="a\udcffb")
    )
    text = message_to_json(message)
    assert text == _dumps(message_to_dict(message))
    assert '"payload":"a\udcffb"' in text
    assert message_to_bytes(message) == text.encode("utf-8", "surrogateescape")


def test_naive_and_whole_second_timestamps_encode_as_before() -> None:
    for created in (datetime(2026, 4, 20, 18, 21, tzinfo=UTC), datetime(2026, 4, 20, 18, 21)):
        message = Message(
            from_=AgentId.new(), to=AgentId.new(), kind=MessageType.Ping(), created_at=created
        )
        assert message_to_json(message) == _dumps(message_to_dict(message))
    assert orjson.loads(message_to_json(message))["created_at"].endswith("Z")
