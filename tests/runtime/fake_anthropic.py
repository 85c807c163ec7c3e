"""A tiny local fake of the Anthropic Messages API, enough to drive the real Claude Code CLI.

``POST /v1/messages`` (streaming or not). The "model" reads the conversation:

* when the last user turn holds a ``tool_result``, it ends the turn with a short text;
* else, when the request offers a ``Bash`` tool and the prompt names a Tinytown task
  (``Task ID: <uuid>``), it calls ``Bash`` with ``tt task complete <uuid> --result …``;
* else it answers with a short text (titles, summaries, probes).

Every request body is kept in :attr:`FakeAnthropic.requests` for the test to inspect.
Any other path answers ``{}`` with 200 (counters, probes).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TASK_ID = re.compile(r"Task ID: ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
RESULT = "done by Claude Code through its Bash tool"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(_text_of(b.get("text", "")) if isinstance(b, dict) else str(b)
                         for b in content)
    return ""


def _has_tool_result(message: dict[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def reply_blocks(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The content blocks and stop reason the fake model answers ``body`` with (pure)."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else {}
    tools = {t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)}
    if last and _has_tool_result(last):
        return [{"type": "text", "text": "The task is complete."}], "end_turn"
    prompt = "\n".join(_text_of(m.get("content")) for m in messages if m.get("role") == "user")
    found = TASK_ID.search(prompt)
    if "Bash" in tools and found:
        command = f"tt task complete {found.group(1)} --result '{RESULT}'"
        return [{"type": "tool_use", "id": "toolu_fake_1", "name": "Bash",
                 "input": {"command": command, "description": "Complete the task"}}], "tool_use"
    return [{"type": "text", "text": "OK"}], "end_turn"


def _message(body: dict[str, Any], blocks: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {"id": "msg_fake", "type": "message", "role": "assistant",
            "model": body.get("model", "claude-fake"), "content": blocks, "stop_reason": stop,
            "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 10}}


def _events(body: dict[str, Any], blocks: list[dict[str, Any]], stop: str
            ) -> Iterator[tuple[str, dict[str, Any]]]:
    start = _message(body, [], stop)
    start["stop_reason"] = None
    yield "message_start", {"type": "message_start", "message": start}
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": {"type": "text", "text": ""}}
            yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                          "delta": {"type": "text_delta", "text": block["text"]}}
        else:
            head = {**block, "input": {}}
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": head}
            yield "content_block_delta", {
                "type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}}
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield "message_delta", {"type": "message_delta",
                            "delta": {"stop_reason": stop, "stop_sequence": None},
                            "usage": {"output_tokens": 10}}
    yield "message_stop", {"type": "message_stop"}


class FakeAnthropic:
    """The server; use :func:`serve_fake_anthropic`."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send_json(self, doc: Any, status: int = 200) -> None:
                data = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                fake.paths.append(self.path)
                self._send_json({})

            def do_POST(self) -> None:
                fake.paths.append(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b"{}"
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                if not self.path.split("?")[0].endswith("/v1/messages"):
                    self._send_json({"input_tokens": 10} if "count_tokens" in self.path else {})
                    return
                fake.requests.append(body)
                blocks, stop = reply_blocks(body)
                if not body.get("stream"):
                    self._send_json(_message(body, blocks, stop))
                    return
                chunks = b"".join(
                    f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                    for name, data in _events(body, blocks, stop))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(chunks)))
                self.end_headers()
                self.wfile.write(chunks)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"


@contextmanager
def serve_fake_anthropic() -> Iterator[FakeAnthropic]:
    """Run the fake on 127.0.0.1 (a free port) in a thread; shut it down on exit."""
    fake = FakeAnthropic()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
        thread.join(timeout=5)


if __name__ == "__main__":  # manual use: print the URL and serve until Ctrl+C
    import time

    with serve_fake_anthropic() as server:
        print(server.url, flush=True)
        while True:
            time.sleep(3600)
