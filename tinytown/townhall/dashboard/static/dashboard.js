// Tinytown dashboard: live updates over /v1/events/stream and actions over the REST API.
// No dependencies, no CDN: the page works without this file (read-only, not live).
(() => {
  "use strict";
  const KEY = "tinytown.apiKey";
  const REFRESH_MS = 250;
  const RETRY_MS = 2000;
  const FEED_MAX = 200;

  const apiKey = () => sessionStorage.getItem(KEY);
  const headers = (extra) => {
    const h = Object.assign({}, extra || {});
    const key = apiKey();
    if (key) h["X-API-Key"] = key;
    return h;
  };
  const say = (text) => {
    const out = document.getElementById("say");
    if (out) out.textContent = text;
  };
  const live = (text) => {
    const out = document.getElementById("live");
    if (out) out.textContent = text;
  };
  const reveal = () => {
    document.querySelectorAll("form.act[hidden]").forEach((f) => { f.hidden = false; });
  };

  // One request re-renders every view: the page is read once, its sections swapped in.
  let timer = null;
  const refresh = async () => {
    timer = null;
    let fresh;
    try {
      const r = await fetch("/", { headers: headers(), credentials: "same-origin" });
      if (!r.ok) return;
      fresh = new DOMParser().parseFromString(await r.text(), "text/html");
    } catch (err) { return; /* the next event retries */ }
    for (const section of document.querySelectorAll("[data-fragment]")) {
      // Keep a half-typed answer: skip a view whose form has focus.
      if (section.contains(document.activeElement) && document.activeElement.tagName === "INPUT") continue;
      const next = fresh.querySelector(`[data-fragment="${section.dataset.fragment}"]`);
      if (next) section.innerHTML = next.innerHTML;
    }
    reveal();
  };
  const soon = () => { if (timer === null) timer = setTimeout(refresh, REFRESH_MS); };

  const act = async (form) => {
    const body = JSON.parse(form.dataset.body || "{}");
    const field = form.dataset.field;
    if (field) body[field] = form.elements[field].value;
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    try {
      const r = await fetch(form.dataset.url, {
        method: form.dataset.method || "POST",
        headers: headers({ "Content-Type": "application/json", "Accept": "application/json" }),
        credentials: "same-origin",
        body: JSON.stringify(body),
      });
      if (r.ok) {
        say("Done.");
        await refresh();
      } else {
        let detail = r.statusText;
        try { detail = (await r.json()).detail || detail; } catch (err) { /* not JSON */ }
        say(`Failed (${r.status}): ${detail}`);
      }
    } catch (err) {
      say(`Failed: ${err}`);
    } finally {
      if (button) button.disabled = false;
    }
  };

  const addEvent = (id, ev) => {
    const feed = document.getElementById("feed");
    if (!feed) return;
    feed.querySelectorAll("li.empty").forEach((li) => li.remove());
    const li = document.createElement("li");
    li.dataset.id = id;
    const time = document.createElement("time");
    time.textContent = (ev.timestamp || "").slice(11, 19);
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = ev.event_type || "event";
    li.append(time, " ", kind, " ", ev.message || "");
    feed.prepend(li);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
  };

  const handle = (frame, state) => {
    let id = null; const data = [];
    for (const line of frame.split("\n")) {
      if (line.startsWith("id:")) id = line.slice(3).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
    }
    if (id !== null) state.last = id;
    if (!data.length) return;
    try { addEvent(id, JSON.parse(data.join("\n"))); } catch (err) { return; }
    soon();
  };

  const follow = async () => {
    const feed = document.getElementById("feed");
    if (!feed) return;
    const state = { last: feed.dataset.lastEventId || "" };
    for (;;) {
      try {
        const h = headers({ "Accept": "text/event-stream" });
        if (state.last) h["Last-Event-ID"] = state.last;
        const r = await fetch("/v1/events/stream", { headers: h, credentials: "same-origin" });
        if (!r.ok || !r.body) throw new Error(`HTTP ${r.status}`);
        live("live");
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            handle(buffer.slice(0, cut), state);
            buffer = buffer.slice(cut + 2);
          }
        }
      } catch (err) { /* reconnect below */ }
      live("reconnecting…");
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  };

  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    if (form.id === "login") { sessionStorage.setItem(KEY, form.elements.key.value.trim()); return; }
    if (form.id === "logout") { sessionStorage.removeItem(KEY); return; }
    if (!form.classList.contains("act")) return;
    ev.preventDefault();
    act(form);
  });

  document.addEventListener("DOMContentLoaded", () => {
    reveal();
    if (document.getElementById("feed")) follow();
  });
})();
