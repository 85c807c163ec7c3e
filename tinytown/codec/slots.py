"""Decoding hot paths build frozen attrs instances without their ``__init__``.

A frozen slotted attrs class sets each attribute in ``__init__`` through a
bound ``object.__setattr__`` looked up by name. Message decoding (every
hand-off) builds a ``Message``, its ``MessageId`` and its kind: writing the
slots directly through their member descriptors makes the same object (same
class, same attribute values, equal and hashing alike) for less work.
:func:`slot_setters` refuses a class for which that would not hold: a field
with a validator, converter or ``on_setattr`` hook, a default computed by
``__init__`` (the caller must give every field), or a post-init hook.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MemberDescriptorType
from typing import Any

import attrs

Setter = Callable[[Any, Any], None]
"""``setter(instance, value)``: writes one slot."""


def slot_setters(cls: type[Any], names: tuple[str, ...]) -> tuple[Setter, ...]:
    """One setter per field of ``cls``, in order; ``names`` must list all its fields.

    Raises:
        TypeError: ``names`` are not exactly ``cls``'s fields, or building
            ``cls`` field by field would skip something its ``__init__`` does.
    """
    fields = attrs.fields(cls)
    if tuple(f.name for f in fields) != names:
        raise TypeError(f"{cls.__name__} fields are {[f.name for f in fields]}, not {names}")
    if hasattr(cls, "__attrs_post_init__") or hasattr(cls, "__attrs_pre_init__"):
        raise TypeError(f"{cls.__name__} has an init hook")
    out = []
    for f in fields:
        hooked = f.validator is not None or f.converter is not None or f.on_setattr
        descriptor: Any = getattr(cls, f.name, None)
        plain = type(descriptor) is MemberDescriptorType and f.init and f.alias == f.name
        if hooked or not plain:
            raise TypeError(f"{cls.__name__}.{f.name} is not a plain slot")
        out.append(descriptor.__set__)
    return tuple(out)
