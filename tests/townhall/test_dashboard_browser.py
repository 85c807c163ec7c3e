"""The dashboard in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Playwright's sync API runs in a worker thread while the townhall serves on the
test's Trio loop. The browser is Debian's (``/usr/bin/chromium``), never one
downloaded by ``playwright install``. Without it the tests skip, unless
``TT_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs it) makes that a
failure. Screenshots of the main views go to ``test-output/dashboard/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
import trio

from tinytown.mission.store import MissionStore
from tinytown.models import Agent, AgentId, AgentState, Message, MessageType
from tinytown.models.mission import DocRef, MissionRun, WorkItem, WorkKind, WorkStatus
from tinytown.town import Town, utcnow

from .conftest import Running, Start
from .test_auth import KEY, api_key_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "dashboard"
WAIT_MS = 15_000
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
T = TypeVar("T")

if not Path(CHROMIUM).exists():
    if os.environ.get("TT_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"chromium not found at {CHROMIUM} (TT_REQUIRE_BROWSER=1)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                allow_module_level=True)


async def in_browser(url: str, script: Callable[[Any], T], *,
                     viewport: tuple[int, int] = (1280, 800)) -> T:
    """Run ``script(page)`` in a fresh headless Chromium on ``url``, in a worker thread."""

    def run() -> T:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            try:
                page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
                page.set_default_timeout(WAIT_MS)
                page.goto(url)
                return script(page)
            finally:
                browser.close()

    return await trio.to_thread.run_sync(run)


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def add_agent(town: Town, name: str, state: AgentState = AgentState.IDLE) -> Agent:
    agent = attrs.evolve(Agent.new(name, "claude", utcnow() - timedelta(minutes=7)),
                         state=state, host="elsewhere")
    await town.channel.set_agent(agent)
    return agent


async def ask(town: Town, agent: Agent, question: str) -> Message:
    message = Message(from_=agent.id, to=AgentId.supervisor(),
                      kind=MessageType.Query(question=question))
    await town.channel.send(message)
    return message


async def test_assign_appears_in_the_live_feed_without_reload(th: Running) -> None:
    await add_agent(th.town, "worker-1")
    # A lived-in town for the screenshot: a question, an agent in Error, a gated item.
    asker = await add_agent(th.town, "reviewer", AgentState.WORKING)
    await ask(th.town, asker, "The login API changes the session format: migrate old sessions?")
    await add_agent(th.town, "builder", AgentState.ERROR)
    await gated_mission(th.town)
    tt = shutil.which("tt") or str(Path(sys.executable).with_name("tt"))
    root = th.town.root

    def script(page: Any) -> str:
        page.wait_for_selector("#live:text('live')")
        page.evaluate("window.__sameDocument = true")
        done = subprocess.run([tt, "assign", "worker-1", "Write the release notes"],
                              cwd=root, capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0, done.stderr
        page.wait_for_selector("#feed li:has-text('Write the release notes')")
        # The views re-render from the event too: the task shows up under Tasks.
        page.wait_for_selector("#tasks li:has-text('Write the release notes')")
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        shoot(page, "dashboard-1280x800")
        return str(page.inner_text("#feed"))

    feed = await in_browser(th.url + "/", script)
    assert "Write the release notes" in feed


async def test_answering_a_query_reaches_the_agent_inbox(th: Running) -> None:
    asker = await add_agent(th.town, "asker", AgentState.WORKING)
    question = await ask(th.town, asker, "Which database should I use?")

    def script(page: Any) -> None:
        entry = page.locator(f"[data-entry='query:{question.id}']")
        entry.get_by_label("Answer").fill("PostgreSQL 16")
        shoot(page, "attention-answer")
        entry.get_by_role("button", name="Send answer").click()
        page.wait_for_selector("#say:text('Done.')")
        page.wait_for_selector(f"[data-entry='query:{question.id}']", state="detached")

    await in_browser(th.url + "/", script)
    inbox = await th.town.channel.peek(asker.id)
    assert [m.correlation_id for m in inbox] == [question.id]
    assert isinstance(inbox[0].kind, MessageType.Task)
    assert "PostgreSQL 16" in inbox[0].kind.description


async def gated_mission(town: Town) -> tuple[MissionRun, WorkItem]:
    now = utcnow()
    mission = MissionRun.new([DocRef("plan.md")], now).started(now)
    item = attrs.evolve(WorkItem.new(mission.id, "Login API", WorkKind.IMPLEMENT, now),
                        status=WorkStatus.BLOCKED)
    store = MissionStore(town.channel)
    await store.save_mission(mission)
    await store.save_work_items([item])
    await store.activate(mission.id)
    return mission, item


async def test_approving_a_gated_work_item_changes_it(th: Running) -> None:
    mission, item = await gated_mission(th.town)
    store = MissionStore(th.town.channel)

    def script(page: Any) -> None:
        entry = page.locator(f"[data-entry='review_gate:{mission.id}:{item.id}']")
        shoot(page, "missions-gate")
        entry.get_by_role("button", name="Approve").click()
        page.wait_for_selector("#say:text('Done.')")
        page.wait_for_selector(f"[data-entry='review_gate:{mission.id}:{item.id}']",
                               state="detached")

    await in_browser(th.url + "/", script)
    stored = await store.get_work_item(mission.id, item.id)
    assert stored is not None
    assert stored.reviewer_approved


async def test_read_only_key_sees_no_action_buttons(start_townhall: Start, town: Town) -> None:
    asker = await add_agent(town, "asker", AgentState.WORKING)
    await ask(town, asker, "Ready to merge?")
    await add_agent(town, "broken", AgentState.ERROR)

    def sign_in_and_count(page: Any) -> tuple[int, int, str]:
        page.fill("#key", KEY)
        page.click("button:text('Sign in')")
        page.wait_for_selector("#attention")
        page.wait_for_selector("#live:text('live')")  # the key reached the event stream too
        entries = page.locator("#attention li.entry").count()
        buttons = page.locator("#attention button.action").count()
        return entries, buttons, str(page.inner_text("#attention"))

    reader = await start_townhall(api_key_config(["town.read"]))
    entries, buttons, text = await in_browser(reader.url + "/", sign_in_and_count)
    assert entries == 2
    assert "Ready to merge?" in text
    assert buttons == 0

    admin = await start_townhall(api_key_config())
    entries, buttons, _ = await in_browser(admin.url + "/", sign_in_and_count)
    assert entries == 2
    assert buttons >= 2  # answer, restart (and reclaim)


async def test_phone_width_and_keyboard(th: Running) -> None:
    asker = await add_agent(th.town, "asker", AgentState.WORKING)
    await ask(th.town, asker, "Keyboard only?")

    def script(page: Any) -> tuple[int, int, str]:
        page.wait_for_selector("#live:text('live')")
        shoot(page, "dashboard-phone")
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        # Tab from the top: the skip link first, then into the answer field.
        page.keyboard.press("Tab")
        first = page.evaluate("document.activeElement.textContent")
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.name") == "answer":
                break
        page.keyboard.type("yes")
        page.keyboard.press("Enter")
        page.wait_for_selector("#say:text('Done.')")
        return widths[0], widths[1], first

    scroll_width, width, first = await in_browser(th.url + "/", script, viewport=(390, 844))
    assert scroll_width <= width  # nothing forces sideways scrolling at phone width
    assert first == "Skip to what needs you"
    assert len(await th.town.channel.peek(asker.id)) == 1
