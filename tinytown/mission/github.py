"""GitHub through the ``gh`` CLI, behind a small client protocol (missions.md §8.2).

Authentication is whatever ``gh`` uses (``GH_TOKEN``/``GITHUB_TOKEN`` or
``gh auth login``); tinytown never reads a token. The parsing of ``gh``'s JSON
is pure and lives here too; :class:`GhCli` only runs processes.
"""

from __future__ import annotations

import enum
import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Protocol

import attrs
import trio

from tinytown.errors import TinytownError
from tinytown.mission.refs import PullRef, parse_origin
from tinytown.models.mission import IssueRef

GH_TIMEOUT_S: Final = 60.0
PR_STATUS_FIELDS: Final = "statusCheckRollup,mergeable,reviewDecision,reviews"
PR_REVIEW_FIELDS: Final = "reviews,reviewDecision"
_GH_HINT: Final = " (install GitHub CLI and run 'gh auth login' or set GH_TOKEN)"
_MERGEABLE: Final = frozenset({"MERGEABLE", "CLEAN", "HAS_HOOKS", "UNSTABLE"})
_SUCCESS: Final = frozenset({"success", "neutral", "skipped"})
_PENDING: Final = frozenset({"queued", "pending", "in_progress", "expected"})
_FAILURE: Final = frozenset({"failure", "failed", "timed_out", "action_required", "cancelled"})


class GitHubError(TinytownError):
    """``gh`` is missing, failed, timed out or answered something unreadable."""


class CheckStatus(enum.Enum):
    SUCCESS = "success"
    PENDING = "pending"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@attrs.frozen
class Review:
    author: str
    state: str
    key: str = ""
    """What identifies this review (its id, else author and time), for de-duplication."""

    @property
    def changes_requested(self) -> bool:
        return self.state.upper() == "CHANGES_REQUESTED"


@attrs.frozen
class Comment:
    author: str | None
    body: str
    key: str = ""
    """What identifies this comment (its id, else its body), for de-duplication."""

    @property
    def is_bot(self) -> bool:
        if not self.author:
            return False
        login, body = self.author.lower(), self.body.lower()
        return "bugbot" in login or "cursor" in login or "bugbot" in body


@attrs.frozen
class PrStatus:
    checks: CheckStatus
    mergeable: bool


class GitHubClient(Protocol):
    """What mission mode asks of GitHub."""

    async def issue(self, ref: IssueRef) -> tuple[str, str]:
        """``(title, body)`` of an issue."""
        ...

    async def pr_status(self, pr: PullRef) -> PrStatus: ...

    async def pr_reviews(self, pr: PullRef) -> list[Review]: ...

    async def issue_comments(self, pr: PullRef) -> list[Comment]: ...


# --- parsing (pure) ------------------------------------------------------------------


def entry_status(entry: Mapping[str, Any]) -> CheckStatus:
    """One rollup entry: the first of conclusion/state/status that is a string, folded."""
    raw = next((v for k in ("conclusion", "state", "status")
                if isinstance(v := entry.get(k), str)), None)
    text = (raw or "").lower()
    if text in _SUCCESS:
        return CheckStatus.SUCCESS
    if text in _PENDING:
        return CheckStatus.PENDING
    if text in _FAILURE:
        return CheckStatus.FAILURE
    return CheckStatus.UNKNOWN


def fold_checks(statuses: list[CheckStatus]) -> CheckStatus:
    """Failure is sticky; success with pending is pending; no entries is unknown."""
    overall = CheckStatus.UNKNOWN
    for status in statuses:
        if overall is CheckStatus.FAILURE or status is CheckStatus.FAILURE:
            overall = CheckStatus.FAILURE
        elif overall is CheckStatus.UNKNOWN:
            overall = status
        elif {overall, status} == {CheckStatus.SUCCESS, CheckStatus.PENDING}:
            overall = CheckStatus.PENDING
    return overall


def parse_reviews(data: Mapping[str, Any]) -> list[Review]:
    out = []
    for review in data.get("reviews") or []:
        if not isinstance(review, dict):
            continue
        author = review.get("author") or {}
        login = author.get("login") if isinstance(author, dict) else None
        key = review.get("id") or f"{login}@{review.get('submittedAt')}"
        out.append(Review(author=str(login or "reviewer"), state=str(review.get("state") or ""),
                          key=str(key)))
    return out


def parse_pr_status(data: Mapping[str, Any]) -> PrStatus:
    rollup = data.get("statusCheckRollup") or []
    statuses = [entry_status(e) for e in rollup if isinstance(e, dict)]
    mergeable = str(data.get("mergeable") or "").upper() in _MERGEABLE
    return PrStatus(checks=fold_checks(statuses), mergeable=mergeable)


def parse_comments(data: Any) -> list[Comment]:
    if not isinstance(data, list):
        raise GitHubError("gh api returned something other than a list of comments")
    out = []
    for comment in data:
        if not isinstance(comment, dict):
            continue
        user = comment.get("user") or {}
        login = user.get("login") if isinstance(user, dict) else None
        body = str(comment.get("body") or "")
        out.append(Comment(author=login, body=body, key=str(comment.get("id") or body)))
    return out


# --- the gh CLI -----------------------------------------------------------------------------


class GhCli:
    """:class:`GitHubClient` over the ``gh`` executable, run in ``cwd`` (the town root)."""

    def __init__(self, cwd: Path, *, executable: str = "gh",
                 env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.executable = executable
        self.env = dict(os.environ if env is None else env)

    async def _json(self, *args: str) -> Any:
        out = await run_tool([self.executable, *args], self.cwd, self.env, "gh")
        try:
            return json.loads(out)
        except ValueError:
            raise GitHubError(f"gh {args[0]} {args[1]} returned invalid JSON") from None

    async def issue(self, ref: IssueRef) -> tuple[str, str]:
        data = await self._json("issue", "view", str(ref.number), "--repo", ref.repo_slug,
                                "--json", "title,body")
        if not isinstance(data, dict):
            raise GitHubError(f"gh issue view returned no issue for {ref}")
        return str(data.get("title") or f"Issue #{ref.number}"), str(data.get("body") or "")

    async def pr_status(self, pr: PullRef) -> PrStatus:
        data = await self._json("pr", "view", str(pr.number), "--repo", pr.repo_slug,
                                "--json", PR_STATUS_FIELDS)
        return parse_pr_status(data if isinstance(data, dict) else {})

    async def pr_reviews(self, pr: PullRef) -> list[Review]:
        data = await self._json("pr", "view", str(pr.number), "--repo", pr.repo_slug,
                                "--json", PR_REVIEW_FIELDS)
        return parse_reviews(data if isinstance(data, dict) else {})

    async def issue_comments(self, pr: PullRef) -> list[Comment]:
        data = await self._json("api", f"repos/{pr.repo_slug}/issues/{pr.number}/comments")
        return parse_comments(data)


async def run_tool(argv: list[str], cwd: Path, env: Mapping[str, str] | None, name: str) -> str:
    """Run a helper tool and return its stdout; GitHubError with one clear line otherwise."""
    try:
        with trio.fail_after(GH_TIMEOUT_S):
            proc = await trio.run_process(
                argv, cwd=cwd, env=env, check=False,
                capture_stdout=True, capture_stderr=True, stdin=subprocess.DEVNULL,
            )
    except FileNotFoundError:
        hint = _GH_HINT if name == "gh" else ""
        raise GitHubError(f"{name} not found on PATH{hint}") from None
    except trio.TooSlowError:
        raise GitHubError(f"{name} command timed out after {GH_TIMEOUT_S:.0f}s") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip() or f"exit status {proc.returncode}"
        raise GitHubError(f"{name} command failed: {err.splitlines()[0] if err else err}")
    return proc.stdout.decode(errors="replace")


async def origin_repo(cwd: Path) -> tuple[str, str] | None:
    """The GitHub ``(owner, repo)`` of ``git remote get-url origin`` in ``cwd``; None if none."""
    try:
        url = await run_tool(["git", "remote", "get-url", "origin"], cwd, None, "git")
    except GitHubError:
        return None
    return parse_origin(url)
