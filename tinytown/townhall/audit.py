"""The audit log: one structured line per mutating or denied request (townhall.md §9).

Each record carries the request id, principal, scopes, method, route, status
and result (``success``, ``denied``, ``error``). Header values, keys and
bodies are never written. Records go to the ``tinytown.townhall.audit``
logger and, one JSON object per line, to ``<town>/.tt/logs/townhall-audit.jsonl``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

AUDIT_FILE: Final = "townhall-audit.jsonl"
MUTATING: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
log = logging.getLogger("tinytown.townhall.audit")


def result_for(status: int) -> str:
    if 200 <= status < 300:
        return "success"
    if status in (401, 403):
        return "denied"
    return "error"


def audit_record(
    *,
    request_id: str,
    principal: str,
    scopes: Iterable[str],
    method: str,
    route: str,
    path: str,
    status: int,
    now: datetime,
) -> dict[str, Any]:
    """The JSON object written for one request."""
    return {
        "ts": now.isoformat(),
        "request_id": request_id,
        "principal": principal,
        "scopes": sorted(scopes),
        "method": method,
        "route": route,
        "path": path,
        "status": status,
        "result": result_for(status),
    }


class AuditLog:
    """Appends audit records; the file is opened per write (O_APPEND, mode 0600)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def for_town(cls, tt_dir: Path) -> AuditLog:
        return cls(tt_dir / "logs" / AUDIT_FILE)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        level = logging.INFO if record["result"] == "success" else logging.WARNING
        log.log(level, "audit: %s", line)
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("audit: cannot write %s: %s", self.path, exc)

    def record(self, **fields: Any) -> None:
        self.write(audit_record(now=datetime.now(UTC), **fields))
