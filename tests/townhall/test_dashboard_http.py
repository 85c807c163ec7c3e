"""The dashboard over plain HTTP (no browser): rendering, sign-in, scopes, fragments."""

from __future__ import annotations

from datetime import timedelta

import attrs

from tinytown.models import Agent, AgentId, AgentState, Message, MessageType
from tinytown.town import Town, utcnow

from .conftest import Running, Start
from .test_auth import KEY, api_key_config


async def _town_with_a_question(town: Town) -> Message:
    agent = attrs.evolve(Agent.new("asker", "claude", utcnow() - timedelta(minutes=3)),
                         state=AgentState.WORKING, host="elsewhere")
    await town.channel.set_agent(agent)
    question = Message(from_=agent.id, to=AgentId.supervisor(),
                       kind=MessageType.Query(question="Ship <b>on</b> Friday?"))
    await town.channel.send(question)
    return question


async def test_page_renders_every_view_without_javascript(th: Running) -> None:
    question = await _town_with_a_question(th.town)
    r = await th.client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    for section in ("overview", "attention", "agents", "tasks", "missions", "events"):
        assert f'id="{section}"' in html
    assert "asker asks: Ship &lt;b&gt;on&lt;/b&gt; Friday?" in html  # escaped, never raw HTML
    assert f'/v1/queries/{question.id}/answer' in html  # auth none: every action offered
    assert '<tr data-agent="asker">' in html
    static = await th.client.get("/dashboard/static/dashboard.js")
    assert static.status_code == 200
    assert "text/event-stream" in static.text
    css = await th.client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200
    frag = await th.client.get("/dashboard/fragment/attention")
    assert frag.status_code == 200
    assert "<html" not in frag.text
    assert "Ship &lt;b&gt;on&lt;/b&gt; Friday?" in frag.text
    assert (await th.client.get("/dashboard/fragment/nope")).status_code == 404


async def test_dashboard_is_not_in_the_openapi_document(th: Running) -> None:
    paths = (await th.client.get("/openapi.json")).json()["paths"]
    assert "/v1/attention" in paths
    assert not [p for p in paths if p == "/" or p.startswith("/dashboard")]


async def test_key_sign_in_and_read_only_scopes(start_townhall: Start, town: Town) -> None:
    await _town_with_a_question(town)
    full = await start_townhall(api_key_config())
    first = await full.client.get("/")
    assert first.status_code == 401
    assert 'id="login"' in first.text
    assert (await full.client.get("/dashboard/fragment/agents")).status_code == 401
    wrong = await full.client.post("/dashboard/login", data={"key": "nope"})
    assert wrong.status_code == 401
    assert "not accepted" in wrong.text
    signed = await full.client.post("/dashboard/login", data={"key": KEY})
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = await full.client.get("/")
    assert page.status_code == 200
    assert 'class="act"' in page.text

    reader = await start_townhall(api_key_config(["town.read"]))
    await reader.client.post("/dashboard/login", data={"key": KEY})
    read_only = await reader.client.get("/")
    assert read_only.status_code == 200
    assert "asker asks" in read_only.text
    assert 'class="act"' not in read_only.text
    out = await reader.client.post("/dashboard/logout")
    assert out.status_code == 303
    assert (await reader.client.get("/")).status_code == 401
