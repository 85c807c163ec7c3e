"""Public probes: ``/health``, ``/ready``, ``/metrics``, ``/api/scaling`` (townhall.md §5.2).

They never require auth. Readiness pings Redis; metrics use the exact
Prometheus lines of 0.10 and, when gathering fails, answer 503 with every
value 0 and a ``# tinytown_metrics_error`` line.
"""

from __future__ import annotations

from datetime import UTC, datetime

from quart import Blueprint, Response
from quart_schema import document_response

from tinytown.errors import RedisError, TinytownError
from tinytown.services import missions as mission_service
from tinytown.services import scaling
from tinytown.townhall.context import ctx
from tinytown.townhall.models import Health, Problem, Ready, Scaling
from tinytown.townhall.pipeline import problem

bp = Blueprint("probes", __name__)
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@bp.get("/health")
@bp.get("/healthz")
@document_response(Health)
async def health() -> dict[str, object]:
    """Liveness: the process is up."""
    return {"status": "ok", "uptime_secs": ctx().uptime_s}


@bp.get("/ready")
@bp.get("/readyz")
@document_response(Ready)
@document_response(Ready, 503)
async def ready() -> tuple[dict[str, object], int]:
    """Readiness: Redis answers PING; the mission dispatcher's state."""
    town = ctx().town
    try:
        latency = await scaling.ping_latency_s(town)
    except RedisError as exc:
        return {
            "status": "not_ready", "redis": "disconnected", "dispatcher": "unknown",
            "town": town.name, "detail": f"Redis ping failed: {exc}",
        }, 503
    try:
        missions = await mission_service.list_missions(town, include_all=True)
    except TinytownError:
        missions = []
    return {
        "status": "ready", "redis": "connected",
        "redis_latency_ms": round(latency * 1000, 3),
        "dispatcher": scaling.dispatcher_status(missions, datetime.now(UTC)),
        "town": town.name,
    }, 200


def _gauge(name: str, help_text: str, lines: list[str]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", *lines]


def metrics_text(snapshot: scaling.MetricsSnapshot | None, error: str | None = None) -> str:
    """The Prometheus exposition of ``snapshot`` (None: the all-zero failure form)."""
    s = snapshot
    out = _gauge("tinytown_up", "Whether the townhall process is running.", ["tinytown_up 1"])
    out += _gauge("tinytown_ready", "Whether townhall can reach its Redis-backed town state.",
                  [f"tinytown_ready {1 if s else 0}"])
    states = [f'tinytown_agents_total{{state="{k}"}} {v}'
              for k, v in (s.agents_by_state.items() if s else ())]
    out += _gauge("tinytown_agents_total", "Number of registered agents by state.", states)
    rows = (
        ("tinytown_tasks_pending", "Number of queued tasks across backlog and agent inboxes.",
         s.tasks_pending if s else 0),
        ("tinytown_tasks_completed_total", "Total completed tasks persisted in town state.",
         s.completed if s else 0),
        ("tinytown_missions_active", "Number of active missions.",
         s.missions_active if s else 0),
        ("tinytown_redis_latency_seconds", "Redis round-trip latency for this scrape.",
         f"{s.latency_s if s else 0.0:.6f}"),
        ("tinytown_backlog_tasks", "Tasks currently in the global backlog.",
         s.backlog if s else 0),
        ("tinytown_tasks_assigned_pending", "Pending assigned tasks across all agents.",
         s.assigned_pending if s else 0),
        ("tinytown_urgent_messages", "Urgent inbox messages across all agents.",
         s.urgent if s else 0),
    )
    for name, help_text, value in rows:
        out += _gauge(name, help_text, [f"{name} {value}"])
    if error is not None:
        out.append("# tinytown_metrics_error " + " ".join(error.splitlines()))
    return "\n".join(out) + "\n"


@bp.get("/metrics")
async def metrics() -> Response:
    """Prometheus metrics (text exposition format 0.0.4)."""
    try:
        snapshot = await scaling.metrics_snapshot(ctx().town)
    except TinytownError as exc:
        return Response(metrics_text(None, str(exc)), status=503, content_type=METRICS_TYPE)
    return Response(metrics_text(snapshot), content_type=METRICS_TYPE)


@bp.get("/api/scaling")
@document_response(Scaling)
@document_response(Problem, 503)
async def scaling_signal() -> dict[str, object] | Response:
    """The autoscaler signal (KEDA metrics-api, Cloud Run...)."""
    town = ctx().town
    try:
        signal, advice = await scaling.scaling_signal(town, datetime.now(UTC))
    except TinytownError as exc:
        return problem(503, str(exc))
    return {
        "town": signal.town, "timestamp": signal.timestamp.isoformat(),
        "queue_depth": signal.queue_depth, "pending_tasks": signal.pending_tasks,
        "in_flight_tasks": signal.in_flight_tasks, "active_agents": signal.active_agents,
        "cold_agents": signal.cold_agents, "desired_agents": signal.desired_agents,
        "max_agents": signal.max_agents, "scaling_recommendation": advice,
    }
