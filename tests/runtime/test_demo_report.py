"""``tt demo``'s scenario and progress report (pure parts)."""

from __future__ import annotations

from tinytown.cli.demo_report import (
    DEMO_AGENTS,
    DEMO_QUERY,
    DEMO_TASKS,
    AgentView,
    Observation,
    TaskView,
    progress_lines,
    summary_lines,
)
from tinytown.cli.demo_run import demo_env
from tinytown.models import AgentState, TaskState


def obs(agent_states: dict[str, AgentState], task_states: list[TaskState]) -> Observation:
    agents = {n: AgentView(f"Nick [{n}]", state, 2, 1) for n, state in agent_states.items()}
    tasks = {
        f"t{n}": TaskView(n, f"task number {n}", state, "Nick [backend]")
        for n, state in enumerate(task_states, start=1)
    }
    return Observation(agents, tasks)


def test_scenario_has_three_agents_a_reviewer_a_review_and_a_query() -> None:
    names = [a.name for a in DEMO_AGENTS]
    assert len(names) == 3
    assert [a.role for a in DEMO_AGENTS if a.name == "reviewer"] == ["reviewer"]
    assert {t.agent for t in DEMO_TASKS} == set(names)
    assert any(t.agent == "reviewer" and "review" in t.description.lower() for t in DEMO_TASKS)
    assert DEMO_QUERY.sender in names
    assert DEMO_QUERY.recipient in names
    assert DEMO_QUERY.sender != DEMO_QUERY.recipient


def test_first_observation_reports_every_agent() -> None:
    after = obs({"backend": AgentState.STARTING}, [TaskState.ASSIGNED])
    assert progress_lines(Observation(), after, 0.5) == [
        "[   0.5s] 🔄 Nick [backend] is Starting",
    ]


def test_changes_only() -> None:
    before = obs(
        {"backend": AgentState.IDLE, "frontend": AgentState.IDLE},
        [TaskState.ASSIGNED, TaskState.ASSIGNED],
    )
    after = obs(
        {"backend": AgentState.WORKING, "frontend": AgentState.IDLE},
        [TaskState.RUNNING, TaskState.COMPLETED],
    )
    assert progress_lines(before, after, 12.25) == [
        "[  12.2s] ⚡ Nick [backend] is Working",
        "[  12.2s] 🔄 Task 1/2 started by Nick [backend]: task number 1",
        "[  12.2s] ✅ Task 2/2 completed by Nick [backend]: task number 2 (1/2 done)",
    ]
    assert progress_lines(after, after, 13.0) == []


def test_completions_in_one_poll_count_up() -> None:
    before = obs({}, [TaskState.COMPLETED, TaskState.RUNNING, TaskState.ASSIGNED])
    after = obs({}, [TaskState.COMPLETED, TaskState.COMPLETED, TaskState.COMPLETED])
    assert [line.rsplit(" (", 1)[1] for line in progress_lines(before, after, 1.0)] == [
        "2/3 done)",
        "3/3 done)",
    ]


def test_busy_while_an_agent_works() -> None:
    assert obs({"a": AgentState.WORKING, "b": AgentState.IDLE}, []).busy
    assert not obs({"a": AgentState.IDLE}, []).busy


def test_completion_and_problems() -> None:
    done = obs({"a": AgentState.IDLE}, [TaskState.COMPLETED, TaskState.COMPLETED])
    assert done.all_completed
    assert done.problem() is None
    assert not Observation().all_completed
    failed = obs({"a": AgentState.IDLE}, [TaskState.FAILED])
    assert failed.problem() == "task 1 (task number 1) failed"
    broken = obs({"a": AgentState.ERROR}, [TaskState.ASSIGNED])
    problem = broken.problem()
    assert problem is not None
    assert problem.startswith("agent Nick [a] is in Error")


def test_summary() -> None:
    final = obs(
        {"backend": AgentState.IDLE, "reviewer": AgentState.STOPPED},
        [TaskState.COMPLETED, TaskState.COMPLETED],
    )
    assert summary_lines(final, 9.04) == [
        "📊 Demo summary",
        "   Tasks: 2/2 completed",
        "   Agents: 2",
        "     - Nick [backend]: 1 task(s), 2 round(s), Idle",
        "     - Nick [reviewer]: 1 task(s), 2 round(s), Stopped",
        "   Rounds: 4",
        "   Elapsed: 9.0s",
    ]


def test_demo_env_drops_foreign_town_settings() -> None:
    env = demo_env(
        {
            "PATH": "/bin",
            "REDIS_URL": "redis://elsewhere",
            "TINYTOWN_AGENT_ID": "x",
            "TINYTOWN_TOWN": "/other",
            "TINYTOWN_DEMO_DELAY_S": "0.1",
        }
    )
    assert env == {"PATH": "/bin", "TINYTOWN_DEMO_DELAY_S": "0.1"}
