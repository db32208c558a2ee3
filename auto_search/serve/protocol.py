"""The OpenAI chat-completions wire format the server speaks: errors, the student's reply and its stream.

Errors are ``{"error": {"message", "type", "param", "code"}}`` as OpenAI sends them, so a client's
own error handling (the ``openai`` package raises ``BadRequestError``, ``APIStatusError``…) works
unchanged. The student's reply is a chat completion whose assistant message calls the decided
tool with ``{}`` arguments; streamed, it is one chunk carrying the whole call, then ``[DONE]``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from hybrid.data.transcripts import ANSWER, assistant_decision, first_top_logprobs


class RequestError(Exception):
    """A request the server refuses: its HTTP status and the OpenAI error fields."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error", param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param, self.code = status, message, kind, param, code

    def response(self, headers: Mapping[str, str] | None = None) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=dict(headers or {}))


def parse_request(raw: bytes) -> dict[str, Any]:
    """The request body as a chat-completions request, or a 400 naming what is wrong."""
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RequestError(400, f"the request body is not JSON ({e}); send a chat-completions request as JSON") from None
    if not isinstance(body, dict):
        raise RequestError(400, f"the request body is a JSON {type(body).__name__}; send an object with 'model' and 'messages'")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestError(400, "'messages' must be a non-empty list of {role, content} objects", param="messages")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise RequestError(400, "'tools' must be a list of function tools", param="tools")
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RequestError(400, "'metadata' must be an object of string keys", param="metadata")
    return body


def student_can_answer(body: Mapping[str, Any], action: str) -> bool:
    """Whether the decided tool can be called without arguments: the student chooses tools, it
    does not write arguments. ``answer`` (a text reply), a tool the request does not offer, one
    whose schema requires parameters, ``tool_choice`` forbidding it, or ``n`` > 1 go upstream."""
    if action == ANSWER or body.get("n", 1) not in (None, 1):
        return False
    choice = body.get("tool_choice")
    if choice == "none" or (isinstance(choice, Mapping) and (choice.get("function") or {}).get("name") not in (None, action)):
        return False
    tools = body.get("tools")
    if not tools:
        return True  # no tool list: the student's actions are the tools
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and function.get("name") == action:
            return not ((function.get("parameters") or {}).get("required") or [])
    return False


def _call(action: str) -> dict[str, Any]:
    return {"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function", "function": {"name": action, "arguments": "{}"}}


def student_completion(body: Mapping[str, Any], action: str, model_hash: str) -> dict[str, Any]:
    """A chat completion whose assistant message calls ``action`` (arguments ``{}``)."""
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": str(body.get("model") or "agent-distill"),
        "system_fingerprint": model_hash,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [_call(action)]}, "logprobs": None, "finish_reason": "tool_calls"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def student_stream(body: Mapping[str, Any], action: str, model_hash: str) -> bytes:
    """The same reply as server-sent events: one chunk with the whole call, then ``[DONE]``."""
    call = {**_call(action), "index": 0}
    chunk = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": str(body.get("model") or "agent-distill"),
        "system_fingerprint": model_hash,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": None, "tool_calls": [call]}, "logprobs": None, "finish_reason": "tool_calls"}],
    }
    return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()


def answer_of(completion: Any) -> tuple[str, list[Any]] | None:
    """The decision in an upstream's chat completion (tool name or ``answer``) and its first
    token's ``top_logprobs``; None when the reply holds no assistant message."""
    try:
        choice = completion["choices"][0]
        action, _ = assistant_decision(choice["message"])
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None
    return action, first_top_logprobs(choice)


def answer_of_stream(raw: bytes) -> tuple[str, list[Any]] | None:
    """The decision in an upstream's streamed reply: the first tool call's name, else ``answer``
    once any content arrived (server-sent events, ``data: {chunk}`` lines)."""
    name: str | None = None
    content = False
    top: list[Any] = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        if not line.startswith("data:") or line[5:].strip() == "[DONE]":
            continue
        try:
            choice = json.loads(line[5:])["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError):
            continue
        delta = choice.get("delta") or {}
        for call in delta.get("tool_calls") or []:
            name = name or ((call.get("function") or {}).get("name") if isinstance(call, Mapping) else None)
        content = content or bool(delta.get("content"))
        top = top or first_top_logprobs(choice)
    if name:
        return name, top
    return (ANSWER, top) if content else None
