"""``agent-distill serve`` end to end: the real CLI under uvicorn, the real ``openai`` client, a real local upstream."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

openai = pytest.importorskip("openai")

from auto_search.serve.standin import ServerThread, free_port, standin_app  # noqa: E402
from hybrid import TrajectoryStore  # noqa: E402
from hybrid.data.featurize import RecordFeaturizer  # noqa: E402
from hybrid.students.featurized import FeaturizedStudent  # noqa: E402
from hybrid.students.linear import LinearStudent  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Cairo", "Tokyo", "Quito", "Accra"]
THINGS = ["cats", "flights", "recipes", "shoes", "news", "jobs", "songs", "maps"]


def write_model(folder: Path, defer_below: float) -> str:
    """A router over weather / search / a plain answer, as ``search --out folder`` would leave it; returns its hash."""
    records = [{"text": f"weather in {c}"} for c in CITIES] + [{"text": f"search for {t}"} for t in THINGS] + [{"text": f"hello there {n}"} for n in CITIES]
    labels = ["get_weather"] * 8 + ["search"] * 8 + ["answer"] * 8
    names = ["get_weather", "search", "answer"]
    student = FeaturizedStudent(student=LinearStudent(C=10.0), featurizer=RecordFeaturizer(), defer_below=defer_below)
    student.fit(records, [names.index(a) for a in labels], action_names=names)
    (folder / "model").mkdir(parents=True, exist_ok=True)
    tmp = folder / "model" / "model.json.tmp"
    student.save(tmp)
    tmp.replace(folder / "model" / "model.json")
    return student.content_hash


def upstream_decides(state: dict) -> str:
    return "search" if "find" in state["text"] else "answer"


class Serving:
    """``agent-distill serve`` as a subprocess on a free port."""

    def __init__(self, model_dir: Path, upstream: str, log: Path, *extra: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "auto_search.cli", "serve", str(model_dir), "--upstream", upstream, "--log", str(log), "--port", str(self.port), *extra]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {self.proc.communicate(timeout=5)}")
            time.sleep(0.1)
        self.client = openai.OpenAI(base_url=f"{self.base}/v1", api_key="client-key", max_retries=0)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ask(self, text: str, **kwargs):
        raw = self.client.chat.completions.with_raw_response.create(model="gpt-x", messages=[{"role": "user", "content": text}], **kwargs)
        return raw.headers["x-agent-distill-decided-by"], raw.parse()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        return err


@pytest.fixture(scope="module")
def upstream():
    with ServerThread(standin_app(upstream_decides)) as server:
        yield server


def test_student_and_upstream_answers_streams_reloads_metrics_and_the_log(tmp_path, upstream):
    first = write_model(tmp_path / "router", defer_below=0.6)
    served = Serving(tmp_path / "router", upstream.url, tmp_path / "served.db")
    try:
        who, reply = served.ask("weather in Paris")
        assert who == "student" and reply.choices[0].message.tool_calls[0].function.name == "get_weather"
        assert reply.choices[0].message.tool_calls[0].function.arguments == "{}" and reply.choices[0].finish_reason == "tool_calls"
        who, reply = served.ask("please find me zzz qqq")  # words the student never saw: it defers
        assert who == "upstream" and reply.choices[0].message.tool_calls[0].function.name == "search"
        who, reply = served.ask("hello there Oslo")  # the student decides "answer", but writing text is the upstream's job
        assert who == "upstream" and reply.choices[0].message.content.startswith("(stand-in answer")
        # a tool whose schema requires arguments goes upstream too
        tools = [
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            }
        ]
        assert served.ask("weather in Rome", tools=tools)[0] == "upstream"
        # streaming, on both paths
        with served.client.chat.completions.with_streaming_response.create(
            model="gpt-x", messages=[{"role": "user", "content": "weather in Lima"}], stream=True
        ) as response:
            assert response.headers["x-agent-distill-decided-by"] == "student"
            chunks = list(response.parse())
        assert chunks[0].choices[0].delta.tool_calls[0].function.name == "get_weather"
        chunks = list(served.client.chat.completions.create(model="gpt-x", messages=[{"role": "user", "content": "find qqq"}], stream=True))
        assert chunks[0].choices[0].delta.tool_calls[0].function.name == "search"
        # a malformed request is an OpenAI-format 400, never a traceback
        with pytest.raises(openai.BadRequestError, match="messages"):
            served.client.chat.completions.create(model="gpt-x", messages=[])
        # reload: a model that defers everything, picked up by the endpoint, then by SIGHUP
        second = write_model(tmp_path / "router", defer_below=1.5)
        assert httpx.post(f"{served.base}/admin/reload", timeout=30).json()["model_hash"] == second
        assert served.ask("weather in Paris")[0] == "upstream"
        third = write_model(tmp_path / "router", defer_below=0.5)
        served.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while httpx.get(f"{served.base}/healthz").json()["model_hash"] != third and time.monotonic() < deadline:
            time.sleep(0.05)
        assert served.ask("weather in Paris")[0] == "student"
        metrics = httpx.get(f"{served.base}/metrics").text
        assert 'agent_distill_requests_total{decided_by="student"} 3' in metrics
        assert 'agent_distill_requests_total{decided_by="upstream"} 5' in metrics
        assert 'agent_distill_requests_total{decided_by="error"} 1' in metrics
        assert "agent_distill_student_share 0.375" in metrics and "agent_distill_reloads_total 2" in metrics
        assert 'agent_distill_request_seconds_count{path="student"} 3' in metrics
    finally:
        err = served.stop()
    assert "client-key" not in err
    with TrajectoryStore(tmp_path / "served.db") as store:
        rows = list(store.db["served_requests"].rows_where(order_by="id"))
        assert len(rows) == 9  # every request, the malformed one too
        assert [r["decided_by"] for r in rows] == ["student", "upstream", "upstream", "upstream", "student", "upstream", "error", "upstream", "student"]
        assert [r["model_hash"] for r in rows[-2:]] == [second, third] and rows[0]["model_hash"] == first
        assert json.loads(rows[1]["state"]) == {"text": "please find me zzz qqq", "tools_called": [], "turn": 0}
        assert all(r["latency_ms"] > 0 for r in rows) and "client-key" not in json.dumps(rows)
        # the upstream's answers are labelled decisions: the store re-distils from served traffic
        ds = store.to_dataset()
        assert len(ds) == 5 and {r["text"] for r in ds.records} >= {"please find me zzz qqq", "find qqq"}
        assert [ds.action_names[i] for i in ds.labels[:2]] == ["search", "answer"]


def test_a_failing_upstream_is_retried_then_answered_502(tmp_path):
    write_model(tmp_path / "router", defer_below=0.6)
    flaky = standin_app(upstream_decides, fail_first=1)
    with ServerThread(flaky) as up:
        served = Serving(tmp_path / "router", up.url, tmp_path / "served.db", "--retries", "1", "--backoff", "0.01")
        try:
            assert served.ask("find zzz")[0] == "upstream"  # the first try got 503, the retry an answer
            assert flaky.state.calls == 2
            assert served.ask("weather in Oslo")[0] == "student"  # the student path needs no upstream
        finally:
            served.stop()
    dead = Serving(tmp_path / "router", f"http://127.0.0.1:{free_port()}/v1", tmp_path / "dead.db", "--retries", "2", "--backoff", "0.01")
    try:
        with pytest.raises(openai.APIStatusError) as caught:
            dead.ask("find zzz")  # below the threshold: never answered by the student, even now
        assert caught.value.status_code == 502 and "failed 3 times" in caught.value.message
        assert dead.ask("weather in Oslo")[0] == "student"
        assert "agent_distill_upstream_errors_total 1" in httpx.get(f"{dead.base}/metrics").text
    finally:
        dead.stop()


def test_routes_send_decided_requests_to_the_model_the_student_chose(tmp_path):
    write_model(tmp_path / "router", defer_below=0.6)
    with ServerThread(standin_app(lambda s: "answer")) as small, ServerThread(standin_app(lambda s: "search")) as default:
        served = Serving(tmp_path / "router", default.url, tmp_path / "served.db", "--route", f"get_weather={small.url}")
        try:
            raw = served.client.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "weather in Rome"}])
            assert raw.headers["x-agent-distill-decided-by"] == "student" and raw.headers["x-agent-distill-routed-to"] == "get_weather"
            assert raw.parse().choices[0].message.content.startswith("(stand-in answer")
            who, reply = served.ask("qqq zzz")
            assert who == "upstream" and reply.choices[0].message.tool_calls[0].function.name == "search"
        finally:
            served.stop()


def test_safe_defaults_refuse_a_wide_bind_without_a_key_and_check_the_key(tmp_path, upstream):
    write_model(tmp_path / "router", defer_below=0.6)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("AGENT_DISTILL_API_KEY", None)
    cmd = [sys.executable, "-m", "auto_search.cli", "serve", str(tmp_path / "router"), "--upstream", upstream.url, "--host", "0.0.0.0"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--api-key" in proc.stderr and "Traceback" not in proc.stderr
    proc = subprocess.run([*cmd[:7], "--route", "nope=http://x"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "never decides" in proc.stderr
    proc = subprocess.run([*cmd[:4], str(tmp_path / "missing"), *cmd[5:7]], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "no model under" in proc.stderr
    served = Serving(tmp_path / "router", upstream.url, tmp_path / "served.db", "--api-key", "sekret", "--max-body-bytes", "2000")
    try:
        with pytest.raises(openai.AuthenticationError):
            served.ask("weather in Paris")
        served.client = openai.OpenAI(base_url=f"{served.base}/v1", api_key="sekret", max_retries=0)
        assert served.ask("weather in Paris")[0] == "student"
        with pytest.raises(openai.APIStatusError) as caught:
            served.ask("x" * 5000)
        assert caught.value.status_code == 413 and "--max-body-bytes" in caught.value.message
        assert httpx.get(f"{served.base}/metrics").status_code == 401
    finally:
        served.stop()
