"""Chat-completions transcripts as decision logs: one decision per assistant turn, line-numbered errors."""

from __future__ import annotations

import json
import math
import re

import pytest

from auto_search.cli import main as cli
from hybrid import DataError, TrajectoryStore
from hybrid.data.transcripts import conversation_state, read_transcripts

TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object", "properties": {}}}} for n in ("get_weather", "search")]


def call(name: str, args: str = "{}") -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": name, "arguments": args}}]}


def write(path, lines) -> None:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines), encoding="utf-8")


def two_step(question: str) -> list[dict]:
    """A multi-step agent logged as two calls: weather, then the answer after the tool result."""
    user = [{"role": "system", "content": "be brief"}, {"role": "user", "content": question}]
    first = {
        "request": {"model": "m", "messages": user, "tools": TOOLS, "metadata": {"channel": "app"}},
        "response": {"choices": [{"message": call("get_weather")}]},
    }
    history = [*user, call("get_weather"), {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]
    second = {
        "request": {"model": "m", "messages": history, "tools": TOOLS, "metadata": {"channel": "app"}},
        "response": {"choices": [{"message": {"role": "assistant", "content": "Sunny."}}]},
    }
    return [first, second]


def test_every_assistant_turn_is_one_decision_with_its_conversation_state(tmp_path):
    path = tmp_path / "t.jsonl"
    write(path, [*two_step("weather in Paris?"), {"messages": [{"role": "user", "content": [{"type": "text", "text": "find cats"}]}, call("search")]}])
    d = read_transcripts(path)
    assert d.action_names == ("get_weather", "answer", "search")
    assert d.records[0] == {"text": "weather in Paris?", "tools_called": [], "turn": 0, "channel": "app"}
    assert d.records[1] == {"text": "weather in Paris?", "tools_called": ["get_weather"], "turn": 1, "channel": "app"}
    assert d.records[2]["text"] == "find cats" and "channel" not in d.records[2]
    assert len(d.records) == 3  # the first call's turn, logged again inside the second call's history, counts once
    assert d.fields["text"] == "text" and d.fields["tools_called"] == "list" and d.fields["turn"] == "number"
    assert d.actions.tolist() == [0, 1, 2] and d.episodes.tolist() == [0, 1, 2]
    assert json.loads(d.traces[1])["content"] == "Sunny."


def test_log_probabilities_become_target_probabilities(tmp_path):
    logprobs = {
        "content": [
            {
                "token": "search",
                "logprob": math.log(0.7),
                "top_logprobs": [{"token": "search", "logprob": math.log(0.7)}, {"token": "get", "logprob": math.log(0.2)}],
            }
        ]
    }
    lines = [
        {"request": {"messages": [{"role": "user", "content": "a"}]}, "response": {"choices": [{"message": call("get_weather")}]}},
        {"request": {"messages": [{"role": "user", "content": "b"}]}, "response": {"choices": [{"message": call("search"), "logprobs": logprobs}]}},
    ]
    write(tmp_path / "t.jsonl", lines)
    d = read_transcripts(tmp_path / "t.jsonl")
    assert d.probs[0].tolist() == [1.0, 0.0]
    assert d.probs[1] == pytest.approx([0.2 / 0.9, 0.7 / 0.9])


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{not json", "line 2: invalid JSON"),
        ([1, 2], "line 2: expected a JSON object"),
        (
            {"request": {"messages": [{"role": "wizard", "content": "x"}]}, "response": {"choices": [{"message": call("search")}]}},
            "line 2: messages[0] has role 'wizard'",
        ),
        ({"request": {"messages": [{"role": "user", "content": "x"}]}, "response": {"choices": []}}, "line 2: response has no choices[0].message"),
        ({"request": {"messages": [{"role": "user", "content": "x"}]}}, "line 2: the call has no assistant turn"),
        (
            {"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}]},
            "line 2: a tool call has no function.name",
        ),
        ({"request": {"messages": "hi"}}, "line 2: the call has no messages list"),
        ({"messages": [{"role": "user", "content": "x"}, call("search")], "metadata": {"turn": 3}}, "line 2: metadata field 'turn'"),
    ],
)
def test_a_bad_line_fails_with_its_number_and_stores_nothing(tmp_path, bad, message):
    good = {"messages": [{"role": "user", "content": "x"}, call("get_weather")]}
    write(tmp_path / "t.jsonl", [good, bad])
    with pytest.raises(DataError, match=re.escape(message)):
        read_transcripts(tmp_path / "t.jsonl")
    with TrajectoryStore(tmp_path / "s.db") as store:
        with pytest.raises(DataError, match="nothing from this file was stored"):
            store.ingest_transcripts(tmp_path / "t.jsonl")
        assert store.runs() == []


def test_one_decision_kind_only_is_refused(tmp_path):
    write(tmp_path / "t.jsonl", [{"messages": [{"role": "user", "content": "x"}, call("search")]}])
    with pytest.raises(DataError, match="at least 2 different decisions"):
        read_transcripts(tmp_path / "t.jsonl")


def test_the_store_and_the_cli_ingest_transcripts_into_a_dataset_the_search_reads(tmp_path, capsys):
    write(tmp_path / "t.jsonl", two_step("weather in Rome?") + two_step("weather in Oslo?"))
    with TrajectoryStore(tmp_path / "api.db") as store:
        run = store.ingest_transcripts(tmp_path / "t.jsonl", teacher="gpt")
        ds = store.to_dataset()
        assert store.runs()[0]["source"] == "openai-chat" and run == 1
    assert len(ds) == 4 and ds.action_names == ("get_weather", "answer")
    assert cli(["ingest", str(tmp_path / "t.jsonl"), "--format", "openai-chat", "--store", str(tmp_path / "cli.db")]) == 0
    assert "4 decisions" in capsys.readouterr().err
    with TrajectoryStore(tmp_path / "cli.db") as store:
        assert store.to_dataset().content_hash == ds.content_hash
    write(tmp_path / "bad.jsonl", ["{oops"])
    assert cli(["ingest", str(tmp_path / "bad.jsonl"), "--format", "openai-chat", "--store", str(tmp_path / "cli.db")]) == 2
    assert "bad.jsonl line 1: invalid JSON" in capsys.readouterr().err


def test_a_request_reads_as_the_state_of_its_next_turn():
    messages = [{"role": "user", "content": "hi"}, call("search"), {"role": "tool", "content": "r"}, {"role": "user", "content": "and now?"}]
    assert conversation_state(messages, {"tier": "gold", "x": 1}, ["tier"]) == {"text": "and now?", "tools_called": ["search"], "turn": 1, "tier": "gold"}


def test_record_runs_naming_different_actions_join_into_one_dataset(tmp_path):
    write(tmp_path / "a.jsonl", [{"state": {"text": "x y"}, "action": "search"}, {"state": {"text": "y z"}, "action": "answer"}])
    write(tmp_path / "b.jsonl", [{"state": {"text": "p q"}, "action": "book"}, {"state": {"text": "q r"}, "action": "search"}])
    with TrajectoryStore(tmp_path / "s.db") as store:
        store.ingest_jsonl(tmp_path / "a.jsonl")
        store.ingest_jsonl(tmp_path / "b.jsonl")
        ds = store.to_dataset()
    assert ds.action_names == ("search", "answer", "book")
    assert ds.P.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]]
