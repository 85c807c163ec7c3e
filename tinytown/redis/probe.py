"""A few commands to a town's own Redis over its unix socket, without a client.

Starting, checking and stopping the server must work when nothing else
does (no pool, no connection settings), so this module sends raw commands:
encoded with the client's ``pack_command`` (hiredis) and parsed with
``hiredis.Reader``: no second hand-written RESP codec. Error replies come back as
``hiredis.ReplyError`` values, not exceptions.
"""

import re
import socket
from collections.abc import Sequence
from pathlib import Path

import hiredis
import trio

from tinytown.redis.resp import pack_command

PING_TIMEOUT_S = 1.0

Reply = object  # bytes, int, list, None or hiredis.ReplyError
Command = Sequence[str]


def with_auth(commands: Sequence[Command], password: str | None) -> list[Command]:
    """``commands`` preceded by ``AUTH password`` when there is one."""
    return [("AUTH", password), *commands] if password else list(commands)


def _encode(commands: Sequence[Command]) -> bytes:
    return b"".join(pack_command(tuple(cmd)) for cmd in commands)


def _drain(reader: hiredis.Reader, replies: list[Reply]) -> None:
    while (reply := reader.gets()) is not False:
        replies.append(reply)


def query_sync(path: Path, commands: Sequence[Command]) -> list[Reply] | None:
    """Send ``commands`` and read their replies.

    Returns ``None`` when nothing listens on ``path``, and fewer replies (maybe
    none) when the server closes the connection or stays silent for
    ``PING_TIMEOUT_S`` (busy, e.g. saving a large dataset: still alive).
    """
    replies: list[Reply] = []
    reader = hiredis.Reader()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(PING_TIMEOUT_S)
        try:
            sock.connect(str(path))
        except TimeoutError:
            return replies
        except OSError:
            return None
        try:
            sock.sendall(_encode(commands))
            while len(replies) < len(commands) and (data := sock.recv(65536)):
                reader.feed(data)
                _drain(reader, replies)
        except OSError:
            pass
    return replies


async def query(path: Path, commands: Sequence[Command]) -> list[Reply] | None:
    """Async twin of :func:`query_sync`."""
    replies: list[Reply] = []
    with trio.move_on_after(PING_TIMEOUT_S) as scope:
        try:
            stream = await trio.open_unix_socket(str(path))
        except OSError:
            return None
    if scope.cancelled_caught:
        return replies
    reader = hiredis.Reader()
    async with stream:
        with trio.move_on_after(PING_TIMEOUT_S):
            try:
                await stream.send_all(_encode(commands))
                while len(replies) < len(commands) and (data := await stream.receive_some()):
                    reader.feed(data)
                    _drain(reader, replies)
            except (OSError, trio.BrokenResourceError):
                pass
    return replies


def alive(replies: list[Reply] | None) -> bool:
    """Something listens on the socket: a server owns it, whatever it answered."""
    return replies is not None


def pong(replies: Sequence[Reply]) -> bool:
    return any(r == b"PONG" for r in replies)


def refused(replies: Sequence[Reply], word: str) -> bool:
    """Whether an error reply mentions ``word`` (``NOAUTH``, ``ERR`` …)."""
    return any(isinstance(r, hiredis.ReplyError) and word in str(r) for r in replies)


def last_is_error(replies: Sequence[Reply]) -> bool:
    return bool(replies) and isinstance(replies[-1], hiredis.ReplyError)


def info_pid(replies: Sequence[Reply]) -> int | None:
    """``process_id`` from an ``INFO server`` reply among ``replies``."""
    for reply in replies:
        if isinstance(reply, bytes) and (m := re.search(rb"process_id:(\d+)", reply)):
            return int(m.group(1))
    return None
