"""Dashboard routes: the page, its fragments, sign-in and sign-out."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Final

from quart import Blueprint, Response, redirect, render_template, request, send_from_directory
from quart_schema import hide

from tinytown.cli.display import clock
from tinytown.townhall.auth import AuthError, Principal
from tinytown.townhall.context import ctx
from tinytown.townhall.dashboard.data import gather

COOKIE: Final = "tt_dashboard_key"
READ: Final = "town.read"
WRITE: Final = "town.write"
MANAGE: Final = "agent.manage"
FRAGMENTS: Final = ("overview", "attention", "agents", "tasks", "missions")
NEEDS_SCOPE: Final = {
    "answer": WRITE,
    "approve": MANAGE,
    "reject": MANAGE,
    "restart": MANAGE,
    "reclaim": MANAGE,
    "resume": MANAGE,
}

STATIC: Final = Path(__file__).with_name("static")
STATIC_FILES: Final = frozenset({"dashboard.js", "dashboard.css"})

bp = Blueprint("dashboard", __name__, template_folder="templates")


async def _principal() -> Principal | None:
    key = request.headers.get("X-API-Key") or request.cookies.get(COOKIE)
    try:
        return await ctx().auth.authenticate(request.headers.get("Authorization"), key)
    except AuthError:
        return None


def _allowed(principal: Principal) -> set[str]:
    return {action for action, scope in NEEDS_SCOPE.items() if principal.has(scope)}


def _audit(principal: Principal | None, status: int) -> None:
    ctx().audit.record(
        request_id="",
        principal=principal.id if principal else "anonymous",
        scopes=principal.scopes if principal else (),
        method=request.method,
        route=request.path,
        path=request.path,
        status=status,
    )


async def _login_page(error: str | None, status: int) -> tuple[str, int]:
    town = ctx().town
    return await render_template("dashboard/login.html", town=town.name, error=error), status


async def _render(template: str, principal: Principal) -> str:
    page = await gather(ctx().town)
    return await render_template(
        template, page=page, allowed=_allowed(principal),
        signed_in=ctx().config.auth.mode != "none",
    )


@bp.get("/")
@hide
async def index() -> Any:
    """The dashboard (or the sign-in form when the town needs a key)."""
    principal = await _principal()
    if principal is None:
        return await _login_page(None, 401)
    if not principal.has(READ):
        return await _login_page("This key cannot read the town (it lacks town.read).", 403)
    return await _render("dashboard/page.html", principal)


@bp.get("/dashboard/fragment/<name>")
@hide
async def fragment(name: str) -> Any:
    """One view of the page, rendered alone (for scripts that want a single view)."""
    if name not in FRAGMENTS:
        return Response("unknown view", status=404, content_type="text/plain")
    principal = await _principal()
    if principal is None:
        return Response("sign in again", status=401, content_type="text/plain")
    if not principal.has(READ):
        return Response("forbidden", status=403, content_type="text/plain")
    return await _render(f"dashboard/_{name}.html", principal)


@bp.post("/dashboard/login")
@hide
async def login() -> Any:
    """Check the key once; keep it in a session cookie for the server-rendered views."""
    form = await request.form
    key = (form.get("key") or "").strip()
    try:
        principal = await ctx().auth.authenticate(None, key or None)
    except AuthError:
        _audit(None, 401)
        return await _login_page("That key was not accepted.", 401)
    _audit(principal, 303)
    response = redirect("/", 303)
    response.set_cookie(COOKIE, key, httponly=True, samesite="Strict", path="/",
                        secure=request.scheme == "https")
    return response


@bp.post("/dashboard/logout")
@hide
async def logout() -> Any:
    response = redirect("/", 303)
    response.delete_cookie(COOKIE, path="/")
    return response


@bp.get("/dashboard/static/<name>")
@hide
async def static(name: str) -> Any:
    """The page's own script and style sheet (vendored: no CDN, works offline)."""
    if name not in STATIC_FILES:
        return Response("not found", status=404, content_type="text/plain")
    response = await send_from_directory(STATIC, name)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.app_template_filter("ago")
def ago(when: datetime | None, now: datetime | None = None) -> str:
    """``42 s``, ``5 min``, ``3 h 07 min``, ``2 days``: how long ago."""
    if when is None:
        return "—"
    seconds = int(((now or datetime.now(when.tzinfo)) - when).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days"


bp.add_app_template_filter(clock, "clock")
