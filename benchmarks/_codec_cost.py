"""CPU cost of the pieces of one Channel hand-off, in a hot loop (best of 5 repeats).

These are lower bounds (warm caches); in the hand-off loop the same code runs
cold, between waits, and costs more. They tell which piece to optimise.
"""

from __future__ import annotations

import time
import timeit
import uuid
from collections.abc import Callable

from benchmarks._common import Table, pack

LOOPS = 20_000


def _best_us(fn: Callable[[], object], loops: int) -> float:
    # CPU time of this process: what the table says, and not inflated by other processes.
    best = min(timeit.repeat(fn, number=loops, repeat=5, timer=time.process_time))
    return best / loops * 1e6


def codec_costs(quick: bool) -> tuple[Table, dict[str, float]]:
    """Time encode/decode of a message and its parts; returns a table and the figures."""
    import hiredis
    import orjson

    from tinytown.codec import message_from_json, message_to_bytes
    from tinytown.codec.timestamps import parse_ts
    from tinytown.keys import Keys
    from tinytown.models import AgentId, Message, MessageType

    message = Message(
        from_=AgentId.new(),
        to=AgentId.new(),
        kind=MessageType.TaskAssign(task_id=str(uuid.uuid4())),
    )
    text = message_to_bytes(message).decode()
    fields = orjson.loads(text)
    keys = Keys("bench")
    reader = hiredis.Reader(encoding="utf-8")
    encoded = text.encode()
    reply = b"*2\r\n$52\r\n" + b"k" * 52 + b"\r\n$%d\r\n%s\r\n" % (len(encoded), encoded)

    def parse_reply() -> object:
        reader.feed(reply)
        return reader.gets()

    pieces: dict[str, Callable[[], object]] = {
        "message_to_bytes (send)": lambda: message_to_bytes(message),
        "message_from_json (receive)": lambda: message_from_json(text, "k"),
        "└ orjson.loads of the payload": lambda: orjson.loads(text),
        "└ AgentId.parse (×2 per message)": lambda: AgentId.parse(fields["from"]),
        "└ parse_ts(created_at)": lambda: parse_ts(fields["created_at"]),
        "Keys.inbox(agent_id) (×1 per hand-off: send)": lambda: keys.inbox(message.to.text),
        "hiredis.pack_command (RPUSH)": lambda: pack("RPUSH", "k", text),
        "hiredis Reader: BLPOP reply": parse_reply,
    }
    loops = LOOPS // 4 if quick else LOOPS
    figures = {name.lstrip("└ "): _best_us(fn, loops) for name, fn in pieces.items()}
    table = Table("CPU per piece of a hand-off (µs, hot loop, best of 5)", ["piece", "µs"])
    for name in pieces:
        table.rows.append([name, round(figures[name.lstrip("└ ")], 2)])
    return table, figures
