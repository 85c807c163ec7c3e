"""Writing a pulled plan into an existing ``tasks.toml`` without losing what the user wrote.

``tt sync pull`` refreshes the fields it owns — ``description``, ``agent``,
``status``, ``tags``, ``parent`` — of the ``[[tasks]]`` entries it pulled,
and appends entries for tasks the file does not list yet. Everything else is
kept as written, with tomlkit (a round-tripping TOML library): comments,
blank lines, key order, ``[meta]``, and keys this tool does not know. A key
that did not exist is inserted after the entry's last owned key, so it does
not land after a comment that introduces the next entry. Pure: text in, text out.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from tinytown.services.plan_file import Plan, PlanEntry

_OWNED = ("id", "description", "agent", "status", "tags", "parent")


def _owned_values(entry: PlanEntry) -> dict[str, Any]:
    return {
        "description": entry.description,
        "agent": entry.agent,
        "status": entry.status,
        "tags": list(entry.tags) or None,
        "parent": entry.parent,
    }


def _update_table(table: Table, entry: PlanEntry) -> None:
    for key, value in _owned_values(entry).items():
        if value is None:
            if key in table:
                del table[key]
            continue
        if key in table:
            if table[key] != value:  # untouched values keep their formatting and comments
                table[key] = value
            continue
        anchor = next((k for k in reversed(_OWNED) if k in table), None)
        if anchor is None:
            table[key] = value
        else:
            table.value._insert_after(anchor, key, value)


def _new_table(entry: PlanEntry) -> Table:
    table = tomlkit.table()
    table["id"] = entry.id
    for key, value in _owned_values(entry).items():
        if value is not None:
            table[key] = value
    return table


def _entry_id(table: Table, index: int) -> str:
    raw = table.get("id")
    return str(raw).strip() if isinstance(raw, str) else f"task-{index + 1}"


def update_plan_text(text: str, plan: Plan, touched: Collection[str]) -> str:
    """``text`` (a valid ``tasks.toml``) with the entries of ``plan`` named in ``touched`` written.

    Entries of ``touched`` that ``text`` lacks are appended as new ``[[tasks]]`` tables.
    """
    doc = tomlkit.parse(text)
    tasks = doc.get("tasks")
    if not isinstance(tasks, AoT):
        if doc.as_string().strip() and not doc.as_string().endswith("\n\n"):
            doc.add(tomlkit.nl())
        tasks = tomlkit.aot()
        doc.append("tasks", tasks)
    tables = {_entry_id(t, i): t for i, t in enumerate(tasks)}
    for entry in plan.tasks:
        if entry.id not in touched:
            continue
        table = tables.get(entry.id)
        if table is not None:
            _update_table(table, entry)
            continue
        if len(tasks) and not tasks[-1].as_string().endswith("\n\n"):
            tasks[-1].add(tomlkit.nl())
        tasks.append(_new_table(entry))
    return tomlkit.dumps(doc)
