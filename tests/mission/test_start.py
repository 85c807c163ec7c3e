"""Starting missions through the service with a fake gh and a GitHub-style origin."""

from __future__ import annotations

import pytest
import trio

from tinytown.errors import ConfigError, InvalidInputError, MissionNotFoundError
from tinytown.mission.github import GitHubError
from tinytown.mission.store import MissionStore
from tinytown.models.mission import DocRef, IssueRef, MissionState, WorkStatus
from tinytown.services import missions
from tinytown.town import Town

from .conftest import T0, FakeGh


async def test_start_reads_issues_through_gh_and_bootstraps(town: Town, fake_gh: FakeGh) -> None:
    fake_gh.issue(1, "Design the API", "server side")
    fake_gh.issue(2, "Implement auth", "depends on #1")
    started = await missions.start(town, ["1", "acme/widgets#2", "bad ref"], ["plan.md"], now=T0)
    assert started.invalid_issues == ["bad ref"]
    m = started.mission
    assert m.state is MissionState.RUNNING
    assert m.objective_refs == [IssueRef("acme", "widgets", 1), IssueRef("acme", "widgets", 2),
                                DocRef("plan.md")]
    assert ["issue", "view", "1", "--repo", "acme/widgets", "--json", "title,body"] in fake_gh.calls
    by = {i.title: i for i in started.items}
    assert by["Design the API"].status is WorkStatus.READY
    assert by["plan.md"].status is WorkStatus.READY
    assert by["Implement auth"].status is WorkStatus.PENDING
    store = MissionStore(town.channel)
    assert await store.active_ids() == [m.id]
    log = await store.recent_log(m.id, 10)
    assert log[-1] == "[2026-04-18 12:00:00] Mission started via CLI"
    assert log[-2].endswith("Bootstrapped 3 work item(s) from mission objectives")
    assert started.bootstrap.total_promoted == 2


async def test_no_objectives_and_nothing_valid_are_errors(town: Town) -> None:
    with pytest.raises(InvalidInputError, match="At least one --issue or --doc is required"):
        await missions.start(town, [], [])
    with pytest.raises(InvalidInputError, match="No valid objectives found"):
        await missions.start(town, ["nope", "x#y"], [])


async def test_a_cycle_is_refused_before_anything_is_written(town: Town, fake_gh: FakeGh) -> None:
    fake_gh.issue(1, "One", "after #2")
    fake_gh.issue(2, "Two", "after #1")
    with pytest.raises(ConfigError, match="Cycle detected in work graph involving: One, Two"):
        await missions.start(town, ["1", "2"], [])
    store = MissionStore(town.channel)
    assert await store.list_missions() == []
    assert await store.active_ids() == []


async def test_unauthenticated_gh_is_a_clear_error_and_writes_nothing(
    town: Town, fake_gh: FakeGh
) -> None:
    fake_gh.fail("issue view 3 --repo acme/widgets --json title,body",
                 "gh: To get started with GitHub CLI, please run:  gh auth login")
    with pytest.raises(GitHubError, match="gh command failed: gh: To get started"):
        await missions.start(town, ["3"], [])
    assert await MissionStore(town.channel).list_missions() == []


async def test_missing_gh_is_a_clear_error(town: Town, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GitHubError, match="gh not found on PATH"):
        await missions.start(town, ["acme/widgets#3"], [])


async def test_docs_only_mission_needs_no_gh(town: Town, fake_gh: FakeGh) -> None:
    started = await missions.start(town, [], ["a.md", "b.md"], max_parallel=3,
                                   reviewer_required=False)
    assert [i.title for i in started.items] == ["a.md", "b.md"]
    assert started.mission.policy.max_parallel_items == 3
    assert fake_gh.calls == []


async def test_unknown_and_invalid_mission_ids(town: Town) -> None:
    with pytest.raises(InvalidInputError, match="Invalid mission ID: zz"):
        await missions.status(town, "zz")
    with pytest.raises(MissionNotFoundError, match=r"Mission .* not found"):
        await missions.status(town, "7d0c2f3e-0000-4000-8000-000000000000")


async def test_number_without_github_origin_is_rejected(town: Town) -> None:
    await trio.run_process(["git", "-C", str(town.root), "remote", "set-url", "origin",
                            "https://gitlab.com/a/b.git"])
    with pytest.raises(InvalidInputError, match="No valid objectives found"):
        await missions.start(town, ["5"], [])
