"""A stand-in OpenAI-compatible upstream, and a uvicorn server in a thread, for where no LLM runs.

``standin_app(decide)`` answers each chat-completions request with the tool ``decide(state)``
names (``answer``: a text reply), after ``delay_s``, streaming when asked; ``fail_first=n`` makes
it answer 503 to its first ``n`` requests. The tests, ``benchmarks/serve.py`` and
``examples/serve_transcripts.py`` put it behind ``agent-distill serve``; with a real model, point
``--upstream`` at vLLM, llama.cpp's server or Ollama instead. :class:`ServerThread` runs any ASGI
application under a real uvicorn server on a free loopback port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hybrid.data.transcripts import ANSWER, conversation_state


def _message(action: str, state: dict[str, Any]) -> dict[str, Any]:
    if action == ANSWER:
        return {"role": "assistant", "content": f"(stand-in answer to {state['text']!r})"}
    call = {"id": f"call_{uuid.uuid4().hex[:12]}", "type": "function", "function": {"name": action, "arguments": json.dumps({"query": state["text"]})}}
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def standin_app(decide: Callable[[dict[str, Any]], str], *, delay_s: float = 0.0, fail_first: int = 0) -> Starlette:
    """An upstream answering as ``decide`` says (see the module docstring); ``app.state.calls`` counts requests."""

    async def chat(request: Request) -> Response:
        app.state.calls += 1
        if app.state.calls <= fail_first:
            return JSONResponse({"error": {"message": "stand-in is failing on purpose", "type": "server_error"}}, status_code=503)
        body = await request.json()
        if delay_s:
            await asyncio.sleep(delay_s)
        state = conversation_state(body["messages"], body.get("metadata"))
        message = _message(decide(state), state)
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.get("model", "standin")}
        if not body.get("stream"):
            return JSONResponse({**head, "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": finish}]})
        delta = {**message}
        if delta.get("tool_calls"):
            delta["tool_calls"] = [{**delta["tool_calls"][0], "index": 0}]
        chunks = [
            {**head, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
            {**head, "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]},
        ]
        text = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return Response(text, media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    app.state.calls = 0
    return app


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """``app`` under a real uvicorn server on 127.0.0.1 in a daemon thread; a context manager."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def main(argv: list[str] | None = None) -> int:
    """``python -m auto_search.serve.standin --port 8080 --tool search --delay-ms 50``: a stand-in
    upstream that calls one tool (or ``answer``s) for every request."""
    import argparse

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--tool", default="search", help="the tool every answer calls (answer: a text reply)")
    p.add_argument("--delay-ms", type=float, default=0.0, help="time each answer takes")
    a = p.parse_args(argv)
    uvicorn.run(
        standin_app(lambda state: a.tool, delay_s=a.delay_ms / 1000),
        host="127.0.0.1",
        port=a.port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
