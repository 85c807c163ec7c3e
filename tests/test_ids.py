"""Ids minted from pooled OS randomness: valid version-4 UUIDs, unique, never shared across fork."""

from __future__ import annotations

import os
import uuid

from tinytown.models import AgentId, MessageId, TaskId
from tinytown.models.ids import new_uuid4_text


def test_new_ids_are_canonical_version_4_uuids() -> None:
    for _ in range(2000):
        text = new_uuid4_text()
        value = uuid.UUID(text)
        assert str(value) == text
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
    assert MessageId.new() != MessageId.new()
    assert uuid.UUID(str(TaskId.new())).version == 4


def test_new_ids_do_not_repeat_across_many_pool_refills() -> None:
    assert len({new_uuid4_text() for _ in range(50_000)}) == 50_000


def test_a_forked_child_mints_ids_of_its_own() -> None:
    new_uuid4_text()  # the pool is now partly used: a child must not continue it
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, "".join(new_uuid4_text() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    os.close(read)
    parent = "".join(new_uuid4_text() for _ in range(4))
    assert len(child) == len(parent) == 4 * 36
    assert child != parent


def test_agent_id_memo_is_bounded_and_keyed_by_exact_text() -> None:
    from tinytown.models import ids

    canonical = AgentId.new().text
    upper = canonical.upper()
    assert ids.known_agent_id(upper) is None
    assert AgentId.parse(upper).text == canonical  # memoised under the text given...
    assert ids.known_agent_id(upper) == AgentId(canonical)
    assert ids.known_agent_id(canonical) is None  # ...not under another spelling
    assert AgentId.parse(canonical) is AgentId.parse(canonical)
    for _ in range(ids._AGENT_IDS_MAX + 10):
        AgentId.parse(AgentId.new().text)
    assert len(ids._AGENT_IDS) <= ids._AGENT_IDS_MAX
