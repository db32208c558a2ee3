"""LLMTeacher against a small local HTTP server speaking the OpenAI chat-completions protocol.

No model weights are available here, so the server is a stand-in (loopback only, a handful of
requests per test): it routes by keyword and answers with log-probabilities the way vLLM,
llama.cpp's server and Ollama do. What is tested is the protocol, the parsing, the cache and
the retries — not the quality of any real model.
"""

from __future__ import annotations

import json
import math
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from hybrid.errors import DataError, TeacherError
from hybrid.teachers.llm import LLMTeacher, label_probabilities

LABELS = ("weather", "booking", "music")
KEYWORDS = {"rain": "weather", "forecast": "weather", "table": "booking", "reserve": "booking", "song": "music", "play": "music"}


class FakeServer:
    """Chat-completions on 127.0.0.1: ``fail_first`` 503s, then answers; ``logprobs`` on or off."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_first = 0
        self.logprobs = True
        self.answer_override: str | None = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body})
                if len(server.requests) <= server.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    self.wfile.write(b'{"error": "warming up"}')
                    return
                payload = json.dumps(server.respond(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def respond(self, body: dict) -> dict:
        prompt = body["messages"][-1]["content"].lower()
        label = next((v for k, v in KEYWORDS.items() if k in prompt), "music")
        answer = self.answer_override or label
        choice = {"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}
        if self.logprobs and body.get("logprobs"):
            others = [x for x in LABELS if x != label]
            top = [
                {"token": label, "logprob": math.log(0.7)},
                {"token": " " + others[0], "logprob": math.log(0.2)},
                {"token": others[1][:3], "logprob": math.log(0.05)},
                {"token": "\n", "logprob": math.log(0.05)},
            ]
            choice["logprobs"] = {"content": [{"token": label, "logprob": math.log(0.7), "top_logprobs": top[: body["top_logprobs"]]}]}
        return {"id": "x", "object": "chat.completion", "model": body["model"], "choices": [choice]}

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


STATES = [{"text": "will it rain tomorrow"}, {"text": "reserve a table for four"}, {"text": "play my favourite song"}]


def teacher(server, tmp_path, **kw):
    return LLMTeacher(
        server.url, "tiny-router", LABELS, "Options: {actions}.\nRequest: {text}\nAnswer:", cache=tmp_path / "store.db", backoff_s=0.01, timeout_s=5, **kw
    )


def test_probabilities_come_from_the_label_logprobs(server, tmp_path):
    P = teacher(server, tmp_path).predict_proba(STATES)
    assert P.shape == (3, 3) and np.allclose(P.sum(axis=1), 1)
    np.testing.assert_allclose(P[0], [0.7, 0.2, 0.05] / np.float32(0.95), rtol=1e-5)  # "\n" names no label
    assert list(P.argmax(axis=1)) == [0, 1, 2]
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["body"]["model"] == "tiny-router" and sent["body"]["logprobs"] is True
    assert "Request: will it rain tomorrow" in sent["body"]["messages"][-1]["content"] and "weather, booking, music" in sent["body"]["messages"][-1]["content"]


def test_every_call_is_cached_in_the_store_so_redistillation_is_free(server, tmp_path):
    first = teacher(server, tmp_path)
    P = first.predict_proba(STATES)
    assert len(server.requests) == 3 and first.calls_made == 3
    again = teacher(server, tmp_path)  # a new process would open the same store
    np.testing.assert_array_equal(again.predict_proba(STATES), P)
    assert len(server.requests) == 3 and again.cache_hits == 3 and again.calls_made == 0
    changed = LLMTeacher(server.url, "tiny-router", LABELS, "Route: {text} ({actions})", cache=tmp_path / "store.db", backoff_s=0.01)
    changed.predict_proba(STATES[:1])
    assert len(server.requests) == 4  # another prompt is another question
    assert changed.content_hash != first.content_hash == again.content_hash


def test_retries_with_backoff_then_succeeds(server, tmp_path):
    server.fail_first = 2
    t = teacher(server, tmp_path)
    assert t.predict_proba(STATES[:1]).argmax() == 0
    assert t.calls_made == 3 and len(server.requests) == 3


def test_gives_up_after_the_retries_with_the_reason(server, tmp_path):
    server.fail_first = 100
    with pytest.raises(TeacherError, match=r"failed 3 times \(last: HTTP 503"):
        teacher(server, tmp_path, max_retries=2).predict_proba(STATES[:1])


def test_unreachable_endpoint_names_the_url():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again on exit: nothing listens there
    t = LLMTeacher(f"http://127.0.0.1:{port}/v1", "m", LABELS, max_retries=1, backoff_s=0.01, timeout_s=2)
    with pytest.raises(TeacherError, match=f"127.0.0.1:{port}/v1/chat/completions failed 2 times"):
        t.predict_proba(STATES[:1])


def test_without_logprobs_the_sampled_answer_is_one_hot(server, tmp_path):
    server.logprobs = False
    P = teacher(server, tmp_path).predict_proba(STATES)
    np.testing.assert_array_equal(P, np.eye(3, dtype=np.float32))


def test_an_answer_outside_the_labels_is_an_error(server, tmp_path):
    server.logprobs, server.answer_override = False, "I would rather not say"
    with pytest.raises(TeacherError, match="none of the labels"):
        teacher(server, tmp_path).predict_proba(STATES[:1])


def test_shared_first_tokens_go_to_the_sampled_label():
    response = {
        "choices": [
            {
                "message": {"content": "credit_cards"},
                "logprobs": {"content": [{"top_logprobs": [{"token": "credit", "logprob": math.log(0.9)}, {"token": "bank", "logprob": math.log(0.1)}]}]},
            }
        ]
    }
    assert label_probabilities(response, ["credit_limit", "credit_cards", "banking"]) == pytest.approx([0.0, 0.9, 0.1])


def test_template_field_missing_from_the_state_is_a_clear_error(server, tmp_path):
    with pytest.raises(DataError, match="uses field 'text'"):
        teacher(server, tmp_path).predict_proba([{"query": "hello"}])


def test_labels_a_record_dataset_a_student_learns_from(server, tmp_path):
    from hybrid.data.featurize import RecordFeaturizer
    from hybrid.students import FeaturizedStudent, TreeStudent

    rng = np.random.default_rng(0)
    words = [*KEYWORDS, "please", "now", "me", "the"]
    states = [{"text": " ".join(rng.choice(words, size=4))} for _ in range(40)]
    t = teacher(server, tmp_path)
    ds = t.to_dataset(states)
    assert len(ds) == 40 and ds.fields == {"text": "text"} and ds.meta["teacher_hash"] == t.content_hash
    student = FeaturizedStudent(TreeStudent(max_depth=6), RecordFeaturizer(min_df=1)).fit(list(ds.records), ds.P, action_names=LABELS)
    assert (student.predict(list(ds.records)) == ds.labels).mean() > 0.9
    assert len(server.requests) == len({s["text"] for s in states})  # one paid call per distinct state
