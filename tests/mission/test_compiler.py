"""Issue references and the pure compiler (missions.md §4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tinytown.errors import ConfigError, InvalidInputError
from tinytown.mission.compiler import (
    IssueInfo,
    compile_work_items,
    detect_dependencies,
    infer_kind,
    infer_role,
    parse_manifest,
)
from tinytown.mission.refs import (
    PullRef,
    extract_pr_refs,
    parse_issue_ref,
    parse_origin,
    parse_pr_target,
)
from tinytown.models.mission import DocRef, IssueRef, MissionId, WorkKind

T0 = datetime(2026, 4, 18, 12, 0, tzinfo=UTC)
ORIGIN = ("acme", "widgets")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("git@github.com:acme/widgets.git", ORIGIN),
        ("git@github.com:acme/widgets", ORIGIN),
        ("https://github.com/acme/widgets.git", ORIGIN),
        ("https://token@github.com/acme/widgets", ORIGIN),
        ("ssh://git@github.com/acme/widgets.git", ORIGIN),
        ("https://gitlab.com/acme/widgets.git", None),
        ("/srv/git/widgets.git", None),
    ],
)
def test_parse_origin(url: str, expected: tuple[str, str] | None) -> None:
    assert parse_origin(url) == expected


@pytest.mark.parametrize(
    ("text", "origin", "expected"),
    [
        ("23", ORIGIN, IssueRef("acme", "widgets", 23)),
        ("23", None, None),
        ("other/repo#24", ORIGIN, IssueRef("other", "repo", 24)),
        ("https://github.com/o/r/issues/7", None, IssueRef("o", "r", 7)),
        ("https://github.com/o/r/issues/7/", None, None),
        ("https://github.com/o/r/issues/7?x=1", None, None),
        ("#5", ORIGIN, None),
        ("repo#x", ORIGIN, None),
        ("hello", ORIGIN, None),
    ],
)
def test_parse_issue_ref(
    text: str, origin: tuple[str, str] | None, expected: IssueRef | None
) -> None:
    assert parse_issue_ref(text, origin) == expected


def test_issue_display() -> None:
    assert str(IssueRef("o", "r", 42)) == "o/r#42"
    assert str(DocRef("docs/d.md")) == "docs/d.md"


def test_extract_pr_refs_sorts_and_dedupes_urls_and_short_refs() -> None:
    refs = extract_pr_refs([
        "task:1",
        "Opened https://github.com/o/r/pull/42 and o/r#42, see also x/y#3",
        "https://github.com/o/r/pull/42",
    ])
    assert refs == ["https://github.com/o/r/pull/42", "o/r#42", "x/y#3"]
    assert extract_pr_refs(["no refs here", "#12 alone"]) == []


def test_parse_pr_target() -> None:
    assert parse_pr_target("https://github.com/o/r/pull/42") == PullRef("o", "r", 42)
    assert parse_pr_target("o/r#42") == PullRef("o", "r", 42)
    assert parse_pr_target("garbage") is None
    assert parse_pr_target("https://github.com/o/r/pull/x") is None


@pytest.mark.parametrize(
    ("title", "body", "kind"),
    [
        ("Design the cache", "", WorkKind.DESIGN),
        ("Write an RFC", "", WorkKind.DESIGN),
        ("Add tests", "", WorkKind.TEST),
        ("Review module", "", WorkKind.REVIEW),
        ("Merge release", "", WorkKind.MERGEGATE),
        ("Follow-up on login", "", WorkKind.FOLLOWUP),
        ("Fix crash", "", WorkKind.FOLLOWUP),
        ("Implement auth", "", WorkKind.IMPLEMENT),
    ],
)
def test_infer_kind(title: str, body: str, kind: WorkKind) -> None:
    assert infer_kind(title, body) is kind


def test_infer_role_first_match_and_naive_substrings() -> None:
    assert infer_role("Add API endpoint", "", WorkKind.IMPLEMENT) == "backend"
    assert infer_role("Build the page", "", WorkKind.IMPLEMENT) == "frontend"  # "ui" in "build"
    assert infer_role("Check", "", WorkKind.TEST) == "tester"
    assert infer_role("Look", "qa owner: bob", WorkKind.IMPLEMENT) == "tester"
    assert infer_role("Look", "", WorkKind.REVIEW) == "reviewer"
    assert infer_role("Deploy it", "", WorkKind.IMPLEMENT) == "devops"
    assert infer_role("Other", "", WorkKind.IMPLEMENT) is None


def test_detect_dependencies_keywords_lists_and_repos() -> None:
    own = IssueRef("a", "x", 9)
    body = "Depends on #1, #2 & #3 and #4. Blocked by #5; requires b/y#6. thereafter #7. See #8."
    assert detect_dependencies(body, own) == [
        IssueRef("a", "x", 1), IssueRef("a", "x", 2), IssueRef("a", "x", 3),
        IssueRef("a", "x", 4), IssueRef("a", "x", 5), IssueRef("b", "y", 6),
        IssueRef("a", "x", 7),
    ]


def _compile(issues: list[IssueInfo], docs: list[DocRef] | None = None, manifest: str = ""):  # type: ignore[no-untyped-def]
    parsed = parse_manifest(manifest) if manifest else None
    return compile_work_items(MissionId.new(), issues, docs or [], T0, parsed)


def test_compile_issues_then_docs_with_dependencies() -> None:
    items = _compile(
        [
            IssueInfo(IssueRef("o", "r", 1), "Design API", "server side"),
            IssueInfo(IssueRef("o", "r", 2), "Implement it", "depends on #1 and #99"),
        ],
        [DocRef("plan.md")],
    )
    assert [i.title for i in items] == ["Design API", "Implement it", "plan.md"]
    assert items[0].kind is WorkKind.DESIGN
    assert items[0].owner_role == "backend"
    assert items[1].depends_on == [items[0].id]  # #99 is not in the mission: ignored
    assert items[1].source_ref == "o/r#2"
    assert items[2].kind is WorkKind.DESIGN
    assert items[2].source_ref == "plan.md"
    assert all(i.status.value == "pending" for i in items)


def test_cross_repo_equal_numbers_do_not_collide() -> None:
    """0.10 mapped dependencies by number only; here #5 means the same repository's #5."""
    items = _compile([
        IssueInfo(IssueRef("a", "x", 5), "A five", ""),
        IssueInfo(IssueRef("b", "y", 5), "B five", ""),
        IssueInfo(IssueRef("b", "y", 6), "B six", "after #5"),
        IssueInfo(IssueRef("a", "x", 7), "A seven", "after b/y#6"),
    ])
    by = {i.title: i for i in items}
    assert by["B six"].depends_on == [by["B five"].id]
    assert by["A seven"].depends_on == [by["B six"].id]


def test_cycle_is_reported_with_titles() -> None:
    with pytest.raises(ConfigError) as err:
        _compile([
            IssueInfo(IssueRef("o", "r", 1), "One", "after #2"),
            IssueInfo(IssueRef("o", "r", 2), "Two", "after #1"),
            IssueInfo(IssueRef("o", "r", 3), "Three", ""),
        ])
    text = str(err.value)
    assert text.startswith("Cycle detected in work graph involving: ")
    assert "One" in text
    assert "Two" in text
    assert "Three" not in text


def test_self_dependency_is_a_cycle() -> None:
    with pytest.raises(ConfigError):
        _compile([IssueInfo(IssueRef("o", "r", 1), "One", "requires #1")])


def test_manifest_overrides_skip_and_priority() -> None:
    manifest = """
[[work_items]]
issue = 1
kind = "merge_gate"
owner_role = "runner"

[[work_items]]
issue = 2
skip = true

[[overrides]]
issue = "o/r#3"
depends_on = [1]
priority = -1
"""
    items = _compile(
        [
            IssueInfo(IssueRef("o", "r", 1), "One", ""),
            IssueInfo(IssueRef("o", "r", 2), "Two", ""),
            IssueInfo(IssueRef("o", "r", 3), "Three", "after #2"),
        ],
        manifest=manifest,
    )
    assert [i.title for i in items] == ["Three", "One"]
    three, one = items
    assert one.kind is WorkKind.MERGEGATE
    assert one.owner_role == "runner"
    assert three.depends_on == [one.id]
    assert three.created_at < one.created_at


@pytest.mark.parametrize("text", ["not = [toml", "[[work_items]]\nkind = 'test'\n",
                                  "[[work_items]]\nissue = 'nope'\n"])
def test_bad_manifests_are_clear_errors(text: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_manifest(text, "m.toml")
    assert "m.toml" in str(err.value)
