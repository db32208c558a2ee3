"""OpenAI chat-completions transcripts as decision logs: every assistant turn is a decision.

A JSONL line is one logged call, as vLLM, llama.cpp's server, Ollama and OpenAI take and return
it — ``{"request": {"messages": [...], "tools": [...], "metadata": {...}}, "response": {"choices":
[{"message": {...}, "logprobs": {...}}]}}`` — or one whole conversation, ``{"messages": [...],
"tools": [...]}`` with its assistant turns inside. Other top-level keys (ids, timestamps) are
ignored; ``metadata`` may also sit at the top level.

Each assistant turn decides the tool it calls (``tool_calls[0].function.name``) or ``answer`` when
it calls none. Its state is a record read from the messages before it (:func:`conversation_state`):
the last user message as ``text``, the tools already called as ``tools_called`` (a list), the
number of earlier assistant turns as ``turn``, and the metadata fields. A multi-step transcript
gives one decision per turn; a turn logged again in a later line of the same conversation (same
messages before it, same call) counts once. When the response carries log-probabilities, the
first token's ``top_logprobs`` become the target probabilities (:func:`token_probabilities`),
else the choice is one-hot. A bad line fails with its line number and nothing is stored.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hybrid.data.record_ingest import RecordDecisions, parse_record_lines, read_json_lines
from hybrid.errors import DataError
from provenance.hashing import hash_json

ANSWER = "answer"  # the decision of an assistant turn that calls no tool
STATE_FIELDS = {"text": "text", "tools_called": "list", "turn": "number"}
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


def is_transcript_log(lines: list[tuple[int, Any]]) -> bool:
    """True when the first line is a chat-completions call (``request`` or ``messages``), not a decision with a ``state``."""
    record = lines[0][1] if lines else None
    return isinstance(record, dict) and "state" not in record and ("request" in record or "messages" in record)


def message_text(message: Mapping[str, Any]) -> str:
    """A message's text: its ``content`` string, or the text parts of a list of content parts."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping) and p.get("type", "text") == "text")
    raise DataError(f"message content is {type(content).__name__}; it must be a string or a list of content parts")


def assistant_decision(message: Mapping[str, Any]) -> tuple[str, str | None]:
    """(the tool an assistant message calls, or ``answer``; that call's JSON arguments or None)."""
    calls = message.get("tool_calls")
    if calls:
        if not isinstance(calls, list) or not isinstance(calls[0], Mapping) or not isinstance(calls[0].get("function"), Mapping):
            raise DataError('tool_calls must be a list of {"type": "function", "function": {"name": ..., "arguments": ...}}')
        function = calls[0]["function"]
    elif isinstance(message.get("function_call"), Mapping):  # the pre-tools form of the same call
        function = message["function_call"]
    else:
        return ANSWER, None
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise DataError("a tool call has no function.name; every call must name its tool")
    arguments = function.get("arguments")
    return name, None if arguments is None else str(arguments)


def conversation_state(messages: Sequence[Any], metadata: Mapping[str, Any] | None = None, metadata_fields: Sequence[str] | None = None) -> dict[str, Any]:
    """The record an assistant turn following ``messages`` decides on (see the module docstring).

    The server reads a request's state with this too, so a student trained on transcripts reads
    served requests the same way. ``metadata_fields`` keeps only those fields (missing ones as
    None); ``None`` keeps every metadata field.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise DataError('messages must be a list of {"role": ..., "content": ...} objects')
    text, called, turn = "", [], 0
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise DataError(f"messages[{i}] is {type(message).__name__}, not an object with a role")
        role = message.get("role")
        if role not in _ROLES:
            raise DataError(f"messages[{i}] has role {role!r}; the roles are {list(_ROLES)}")
        if role == "user":
            text = message_text(message)
        elif role == "assistant":
            turn += 1
            for call in message.get("tool_calls") or []:
                name = call.get("function", {}).get("name") if isinstance(call, Mapping) else None
                if not isinstance(name, str):
                    raise DataError(f"messages[{i}] has a tool call without function.name")
                called.append(name)
    state: dict[str, Any] = {"text": text, "tools_called": called, "turn": turn}
    meta = dict(metadata or {})
    for name in meta if metadata_fields is None else metadata_fields:
        if name in STATE_FIELDS:
            raise DataError(f"metadata field {name!r} has the name of a state field {list(STATE_FIELDS)}; rename it")
        value = meta.get(name)
        if isinstance(value, Mapping):
            raise DataError(f"metadata field {name!r} is an object; metadata values are strings, numbers, booleans or lists of strings")
        state[name] = value
    return state


def token_probabilities(top_logprobs: Sequence[Any], labels: Sequence[str], sampled: int | None) -> list[float] | None:
    """Label probabilities from one token's ``top_logprobs``: each listed token counts for the
    labels it begins (ignoring case and spaces); mass shared by several labels goes to the sampled
    label when it is one of them, else is split evenly. ``None`` when no token begins a label."""
    lowered = [label.lower() for label in labels]
    probs = [0.0] * len(labels)
    for entry in top_logprobs or []:
        if not isinstance(entry, Mapping):
            continue
        token = str(entry.get("token", "")).strip().lower()
        logprob = entry.get("logprob")
        if not token or isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
            continue
        owners = [i for i, label in enumerate(lowered) if label.startswith(token)]
        if sampled is not None and sampled in owners:
            owners = [sampled]
        for i in owners:
            probs[i] += math.exp(logprob) / len(owners)
    total = math.fsum(probs)
    return [p / total for p in probs] if total > 0 else None


def first_top_logprobs(choice: Mapping[str, Any]) -> list[Any]:
    """The ``top_logprobs`` of a choice's first content token (a reply or a stream chunk); [] when absent."""
    content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), Mapping) else None
    return (content[0] or {}).get("top_logprobs") or [] if isinstance(content, list) and content and isinstance(content[0], Mapping) else []


def _turns(record: Mapping[str, Any]) -> tuple[list[Any], list[tuple[int, Mapping[str, Any], list[Any]]], dict[str, Any], str | None]:
    """(the conversation's messages, its assistant turns as (position, message, top_logprobs), metadata, model)."""
    request = record["request"] if "request" in record else record
    if not isinstance(request, Mapping):
        raise DataError("request must be an object holding messages")
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise DataError('the call has no messages list; log the request as {"request": {"messages": [...]}, "response": {...}}')
    messages = list(messages)
    turns: list[tuple[int, Mapping[str, Any], list[Any]]] = [
        (i, m, []) for i, m in enumerate(messages) if isinstance(m, Mapping) and m.get("role") == "assistant"
    ]
    response = record.get("response")
    if response is not None:
        choices = response.get("choices") if isinstance(response, Mapping) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping) or not isinstance(choices[0].get("message"), Mapping):
            raise DataError("response has no choices[0].message; log the chat completion the server returned")
        turns.append((len(messages), choices[0]["message"], first_top_logprobs(choices[0])))
        messages.append(choices[0]["message"])
    metadata = {**(request.get("metadata") or {}), **(record.get("metadata") or {})}
    model = request.get("model")
    return messages, turns, metadata, model if isinstance(model, str) else None


def parse_transcript_lines(
    lines: list[tuple[int, Any]], source: str, *, metadata_fields: Sequence[str] | None = None, fields: Mapping[str, str] | None = None
) -> RecordDecisions:
    """Validate ``(line number, parsed JSON)`` calls into one decision per distinct assistant turn (all or nothing)."""

    def fail(line: int, reason: str) -> DataError:
        return DataError(f"{source} line {line}: {reason}; nothing from this file was stored. Fix the line and ingest again.")

    seen: set[str] = set()
    found: list[tuple[int, dict[str, Any], str, list[Any], dict[str, Any]]] = []
    for episode, (line, record) in enumerate(lines):
        if not isinstance(record, dict):
            raise fail(line, f"expected a JSON object (one chat-completions call), got {type(record).__name__}")
        try:
            messages, turns, metadata, model = _turns(record)
            if not turns:
                raise DataError("the call has no assistant turn: log the response, or a conversation with assistant messages")
            for position, message, top in turns:
                action, arguments = assistant_decision(message)
                key = hash_json({"before": messages[:position], "action": action, "arguments": arguments})
                if key in seen:
                    continue
                seen.add(key)
                state = conversation_state(messages[:position], metadata, metadata_fields)
                trace = {"model": model, "arguments": arguments, "content": message_text(message) or None}
                found.append((line, state, action, top, {"episode": episode, "trace": trace}))
        except DataError as e:
            raise fail(line, str(e)) from None
    if not found:
        raise DataError(f"{source} holds no chat-completions calls; log one JSON object a line with request messages and the response")
    labels = list(dict.fromkeys(action for _, _, action, _, _ in found))
    if len(labels) < 2:
        raise DataError(f"{source}: every assistant turn chose {labels[0]!r}; distillation needs at least 2 different decisions logged")
    decisions = []
    for line, state, action, top, extra in found:
        probs = token_probabilities(top, labels, labels.index(action)) if top else None
        row = probs or [float(label == action) for label in labels]
        decisions.append((line, {"state": state, "action_probs": dict(zip(labels, row)), "action": action, **extra}))
    return parse_record_lines(decisions, source, {**STATE_FIELDS, **(fields or {})})


def read_transcripts(path: str | Path, *, metadata_fields: Sequence[str] | None = None, fields: Mapping[str, str] | None = None) -> RecordDecisions:
    """Parse a JSONL file of chat-completions calls into decisions (blank lines skipped).

    ``metadata_fields`` keeps only those metadata fields; ``fields`` declares kinds of metadata
    fields (``{"channel": "category"}``), as for other record logs.
    """
    return parse_transcript_lines(read_json_lines(Path(path)), str(path), metadata_fields=metadata_fields, fields=fields)
