"""Confidential text need not be in argv: ``-`` reads stdin, ``--file`` a file (item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
from _work_helpers import in_town, spawn, uuids

from tinytown.town import Town

SECRET = "rotate the production key\nthen tell nobody"


def _task(town_dir: Path, task_id: str) -> dict[str, str]:
    async def body(town: Town) -> dict[str, str]:
        flat = await town.redis.execute("HGETALL", town.channel.keys.task(task_id))
        return dict(zip(flat[::2], flat[1::2], strict=True))

    return in_town(town_dir, body)


def test_assign_and_complete_read_their_text_from_stdin(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    spawn(town_dir, "backend")
    res = tt("assign", "backend", "-", stdin=SECRET + "\n")
    assert res.code == 0, res.err
    (task_id,) = uuids(res.out)
    assert _task(town_dir, task_id)["description"] == SECRET
    done = tt("task", "complete", task_id, "--result", "-", stdin="done quietly\n")
    assert done.code == 0, done.err
    assert _task(town_dir, task_id)["result"] == "done quietly"


def test_send_and_backlog_add_read_their_text_from_a_file(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, tmp_path: Path
) -> None:
    spawn(town_dir, "backend")
    note = tmp_path / "note.txt"
    note.write_text(SECRET + "\n")
    sent = tt("send", "backend", "--info", "--file", str(note))
    assert sent.code == 0, sent.err
    peek = tt("inbox", "backend")
    assert "rotate the production key" in peek.out
    added = tt("backlog", "add", "--file", str(note))
    assert added.code == 0, added.err
    (task_id,) = uuids(added.out)
    assert _task(town_dir, task_id)["description"] == SECRET
    result = tmp_path / "result.txt"
    result.write_text("all good")
    done = tt("task", "complete", task_id, "--result-file", str(result))
    assert done.code == 0, done.err
    assert _task(town_dir, task_id)["result"] == "all good"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["assign", "backend", "inline", "--file", "x.txt"], "Error: give the task description "
         "as an argument or with --file, not both"),
        (["assign", "backend", "--file", "missing.txt"], "Error: cannot read the task "
         "description from missing.txt: No such file or directory"),
        (["send", "backend"], "Error: missing the message: give it as an argument, '-' for "
         "stdin, or --file PATH"),
    ],
)
def test_bad_text_sources_are_one_line_errors(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, args: list[str], error: str
) -> None:
    spawn(town_dir, "backend")
    res = tt(*args)
    assert res.code == 2
    assert res.err == error + "\n"


def test_a_round_completes_several_tasks_with_results_from_stdin(tt, town_dir: Path) -> None:  # type: ignore[no-untyped-def]
    spawn(town_dir, "backend")
    ids = [uuids(tt("assign", "backend", f"job {i}").out)[0] for i in range(2)]
    done = tt("task", "complete", *ids, "--results-json", "-",
              stdin='["first secret", "second\\nsecret"]')
    assert done.code == 0, done.err
    assert [_task(town_dir, t)["result"] for t in ids] == ["first secret", "second\nsecret"]


@pytest.mark.parametrize(
    ("stdin", "extra", "error"),
    [
        ("not json", [], "Error: --results-json is not JSON: Expecting value: line 1 column 1 "
         "(char 0)"),
        ('{"a": 1}', [], "Error: --results-json must be a non-empty JSON array of strings"),
        ('["one", 2]', [], "Error: --results-json must be a non-empty JSON array of strings"),
        ('["a", "b", "c"]', [], "Error: 2 tasks but 3 --result values: give one for all, or "
         "one per task"),
        ('["a"]', ["--result", "x"], "Error: give the results with one of --result, "
         "--result-file, --results-json"),
    ],
)
def test_bad_json_results_change_nothing(  # type: ignore[no-untyped-def]
    tt, town_dir: Path, stdin: str, extra: list[str], error: str
) -> None:
    spawn(town_dir, "backend")
    ids = [uuids(tt("assign", "backend", f"job {i}").out)[0] for i in range(2)]
    res = tt("task", "complete", *ids, "--results-json", "-", *extra, stdin=stdin)
    assert res.code == 2
    assert res.err == error + "\n"
    assert [_task(town_dir, t)["state"] for t in ids] == ["assigned", "assigned"]
