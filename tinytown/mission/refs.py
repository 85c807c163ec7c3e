"""GitHub references: issue objectives, origin remotes, PR refs (missions.md §4.1, §6.4, §8.1).

Pure functions over text; nothing here runs ``git`` or ``gh``.
"""

from __future__ import annotations

import re

from tinytown.models.mission import IssueRef

_SCP_REMOTE = re.compile(r"^[\w.-]+@github\.com:(?P<owner>[^/\s]+)/(?P<repo>[^/\s]+?)(?:\.git)?/?$")
_URL_REMOTE = re.compile(r"github\.com[/:](?P<owner>[^/\s]+)/(?P<repo>[^/\s]+?)(?:\.git)?/?$")
_PR_URL = re.compile(r"https://github\.com/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)/pull/(\d+)")
_PR_SHORT = re.compile(r"(?<![A-Za-z0-9_./-])([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)#(\d+)")


PullRef = IssueRef
"""A pull request: GitHub numbers pull requests as issues of their repository."""


def parse_origin(url: str) -> tuple[str, str] | None:
    """``(owner, repo)`` of a GitHub remote URL (``git@github.com:o/r.git``, ``https://github.com/o/r``)."""
    text = url.strip()
    match = _SCP_REMOTE.match(text) or _URL_REMOTE.search(text)
    if match is None:
        return None
    return match["owner"], match["repo"]


def parse_issue_ref(text: str, origin: tuple[str, str] | None) -> IssueRef | None:
    """An issue objective from ``N``, ``owner/repo#N`` or an issue URL; None if unparsable.

    ``N`` needs ``origin`` (the town repository's GitHub owner and name).
    """
    raw = text.strip()
    if raw.isdigit():
        if origin is None:
            return None
        return IssueRef(origin[0], origin[1], int(raw))
    if "github.com" in raw and "/issues/" in raw:
        pieces = raw.split("/")
        if len(pieces) < 4 or not pieces[-1].isdigit():
            return None
        return _issue(pieces[-4], pieces[-3], pieces[-1])
    if "#" in raw:
        left, _, right = raw.partition("#")
        if "/" not in left or not right.strip().isdigit():
            return None
        owner, _, repo = left.partition("/")
        return _issue(owner, repo, right.strip())
    return None


def _issue(owner: str, repo: str, number: str) -> IssueRef | None:
    if not owner.strip() or not repo.strip() or not number.isdigit():
        return None
    return IssueRef(owner.strip(), repo.strip(), int(number))


def extract_pr_refs(artifacts: list[str]) -> list[str]:
    """PR references in artifact texts: full URLs and ``owner/repo#N``, sorted and deduplicated.

    Short refs inside a URL are not counted again (a URL path has no ``#``).
    """
    found: set[str] = set()
    for text in artifacts:
        for match in _PR_URL.finditer(text):
            found.add(match.group(0))
        for match in _PR_SHORT.finditer(text):
            found.add(match.group(0))
    return sorted(found)


def parse_pr_target(ref: str) -> PullRef | None:
    """A watch target (``https://github.com/o/r/pull/N`` or ``o/r#N``) as a :class:`PullRef`."""
    text = ref.strip()
    if "github.com" in text:
        pieces = text.split("/")
        if len(pieces) < 5 or not pieces[-1].isdigit():
            return None
        return PullRef(pieces[-4], pieces[-3], int(pieces[-1]))
    left, sep, right = text.partition("#")
    if not sep or "/" not in left or not right.isdigit():
        return None
    owner, _, repo = left.partition("/")
    if not owner or not repo:
        return None
    return PullRef(owner, repo, int(right))
