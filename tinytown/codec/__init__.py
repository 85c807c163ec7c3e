"""The wire codec: the only place records are (de)serialised."""

from tinytown.codec.hash_codec import (
    AGENT_OPTIONAL_FIELDS,
    TASK_OPTIONAL_FIELDS,
    agent_from_hash,
    agent_to_hash,
    field_text,
    pairs_to_dict,
    queue_hash_write,
    task_from_hash,
    task_to_hash,
)
from tinytown.codec.json_codec import (
    agent_from_json,
    agent_to_json,
    event_from_json,
    event_to_json,
    message_to_bytes,
    message_to_dict,
    message_to_json,
    task_from_json,
    task_to_json,
)
from tinytown.codec.message_decode import message_from_json
from tinytown.codec.timestamps import hash_ts, json_ts, parse_ts

__all__ = [
    "AGENT_OPTIONAL_FIELDS",
    "TASK_OPTIONAL_FIELDS",
    "agent_from_hash",
    "agent_from_json",
    "agent_to_hash",
    "agent_to_json",
    "event_from_json",
    "event_to_json",
    "field_text",
    "hash_ts",
    "json_ts",
    "message_from_json",
    "message_to_bytes",
    "message_to_dict",
    "message_to_json",
    "pairs_to_dict",
    "parse_ts",
    "queue_hash_write",
    "task_from_hash",
    "task_from_json",
    "task_to_hash",
    "task_to_json",
]
