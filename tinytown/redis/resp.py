"""RESP encoding of commands and the error replies that have their own exception class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeAlias, cast

import hiredis

from tinytown.errors import AuthenticationError, NoScriptError, ResponseError

CommandArg: TypeAlias = str | bytes | int | float
"""What a command argument may be; ``str`` is sent as UTF-8."""

pack_utf8: Final = cast(Callable[[tuple[CommandArg | bytes, ...]], bytes], hiredis.pack_command)
"""``hiredis.pack_command``: :func:`pack_command` without its fallback (raises
UnicodeEncodeError on lone surrogates)."""
_SPECIAL_ERRORS: Final[dict[str, type[ResponseError]]] = {
    "NOSCRIPT": NoScriptError,
    "WRONGPASS": AuthenticationError,
    "NOAUTH": AuthenticationError,
}

def pack_command(args: tuple[CommandArg, ...]) -> bytes:
    """Encode one command in RESP.

    Strings that carry lone surrogates (bytes that were not UTF-8 when read,
    decoded with ``surrogateescape``) are re-encoded to the original bytes.
    """
    try:
        return pack_utf8(args)
    except UnicodeEncodeError:
        return pack_utf8(
            tuple(a.encode("utf-8", "surrogateescape") if isinstance(a, str) else a for a in args)
        )


def pack_head(args: tuple[CommandArg, ...], total: int) -> bytes:
    """The RESP of the first arguments of a command of ``total`` arguments.

    :func:`pack_tail` completes it: a command sent again and again with only
    its last argument new (a message pushed to one inbox) is packed once.
    """
    packed = pack_command(args)
    return b"*%d\r\n%b" % (total, packed[packed.index(b"\r\n") + 2 :])


def pack_tail(head: bytes, last: bytes) -> bytes:
    """``head`` (from :func:`pack_head`, one argument short) completed with ``last``."""
    return b"%b$%d\r\n%b\r\n" % (head, len(last), last)


def specialize(error: ResponseError) -> ResponseError:
    """Return the most specific :class:`ResponseError` subclass for an error reply."""
    cls = _SPECIAL_ERRORS.get(error.code)
    return error if cls is None else cls(*error.args)
