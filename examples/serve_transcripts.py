"""From an LLM agent's chat transcripts to a cascade in production, and back to a better cascade.

1. Transcripts: multi-step OpenAI-format conversations of a travel assistant (it calls a tool,
   reads the result, answers), as vLLM, llama.cpp's server or OpenAI log them — made here by a
   scripted stand-in for the LLM, since no LLM runs on this machine.
2. ``agent-distill ingest transcripts.jsonl --format openai-chat --store S.db``: one decision per
   assistant turn (the tool it called, or ``answer``).
3. ``agent-distill search S.db --out router --policy cascade:0.99``: the student deciding the
   most turns at ≥ 99% agreement with the LLM.
4. ``agent-distill serve router --upstream URL --log S.db``: the student in front of the
   (stand-in) LLM, behind the real ``openai`` client when installed.
5. Served traffic: new conversations, turn by turn; the header ``x-agent-distill-decided-by``
   says who answered; every request lands in S.db, the LLM's answers as new decisions.
6. ``agent-distill search S.db --out router2``: re-distilled from the transcripts and the traffic.

    python examples/serve_transcripts.py [--conversations 1000] [--traffic 200] [--budget 30] [--out runs/serve]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from auto_search.cli import main as agent_distill
from auto_search.serve.standin import ServerThread, free_port, standin_app
from hybrid import TrajectoryStore
from hybrid.data.transcripts import conversation_state

TOOLS = {
    "get_weather": ["weather", "forecast", "rain", "sunny", "temperature", "snow"],
    "search_flights": ["flight", "fly", "plane", "airport", "ticket", "depart"],
    "book_hotel": ["hotel", "room", "stay", "night", "suite", "check-in"],
    "convert_currency": ["convert", "currency", "euros", "dollars", "exchange", "yen"],
}
FILLER = ["please", "can you", "I need", "tell me", "for", "in", "next week", "tomorrow", "Lisbon", "Kyoto", "Denver", "my trip", "asap", "the"]
SCHEMAS = [{"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}} for name in TOOLS]


def llm_decides(state: dict) -> str:
    """The stand-in LLM's policy: answer once a tool has run, else the tool whose words the
    request uses most (ties and no match: answer directly)."""
    if state["tools_called"]:
        return "answer"
    words = state["text"].lower()
    hits = {tool: sum(w in words for w in vocab) for tool, vocab in TOOLS.items()}
    best = max(hits.values())
    top = [t for t, h in hits.items() if h == best]
    return top[0] if best and len(top) == 1 else "answer"


def request_text(rng: np.random.Generator) -> str:
    tool = list(TOOLS)[int(rng.integers(len(TOOLS) + 1)) % len(TOOLS)] if rng.random() < 0.85 else None
    words = list(rng.choice(FILLER, 3)) + ([str(w) for w in rng.choice(TOOLS[tool], 2)] if tool else ["hello"])
    rng.shuffle(words)
    return " ".join(words)


def conversation(text: str) -> list[dict]:
    """The calls a multi-step agent makes for one request: each a request and its response."""
    messages = [{"role": "system", "content": "You are a travel assistant."}, {"role": "user", "content": text}]
    calls = []
    for _ in range(3):
        action = llm_decides(conversation_state(messages))
        if action == "answer":
            reply = {"role": "assistant", "content": f"Here is what I found for: {text}"}
        else:
            reply = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": f"call_{len(calls)}", "type": "function", "function": {"name": action, "arguments": "{}"}}],
            }
        calls.append({"request": {"model": "travel-llm", "messages": list(messages), "tools": SCHEMAS}, "response": {"choices": [{"message": reply}]}})
        if action == "answer":
            break
        messages += [reply, {"role": "tool", "tool_call_id": reply["tool_calls"][0]["id"], "content": '{"result": "ok"}'}]
    return calls


def serve(router: Path, upstream: str, store: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "auto_search.cli", "serve", str(router), "--upstream", upstream, "--log", str(store), "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return proc, base
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(f"error: the server did not start: {proc.communicate()[1]}") from None
            time.sleep(0.1)
    raise SystemExit("error: the server did not start within 60 s")


def chat(base: str, messages: list[dict]) -> tuple[str, dict]:
    """One request through the openai client when installed (else plain HTTP): (decided by, assistant message)."""
    try:
        import openai
    except ImportError:
        r = httpx.post(f"{base}/v1/chat/completions", json={"model": "travel-llm", "messages": messages, "tools": SCHEMAS}, timeout=60)
        return r.headers["x-agent-distill-decided-by"], r.json()["choices"][0]["message"]
    client = openai.OpenAI(base_url=f"{base}/v1", api_key="unused-locally", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model="travel-llm", messages=messages, tools=SCHEMAS)
    return raw.headers["x-agent-distill-decided-by"], raw.parse().choices[0].message.model_dump(exclude_none=True)


def traffic(base: str, n: int, rng: np.random.Generator) -> dict[str, int]:
    """``n`` new conversations played turn by turn against the server; requests by who decided."""
    counts = {"student": 0, "upstream": 0}
    for _ in range(n):
        messages = [{"role": "system", "content": "You are a travel assistant."}, {"role": "user", "content": request_text(rng)}]
        for _ in range(3):
            who, message = chat(base, messages)
            counts[who] += 1
            if not message.get("tool_calls"):
                break
            messages += [message, {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": '{"result": "ok"}'}]
    return counts


def coverage(out: Path) -> str:
    info = json.loads((out / "report.json").read_text())["cascade"]["held_out"]
    return f"decides {100 * info['coverage']:.1f}% of held-out turns at {100 * (info['agreement_decided'] or 0):.2f}% agreement ({info['n']} turns)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--conversations", type=int, default=1000, help="logged conversations (≈1.8 calls each)")
    p.add_argument("--traffic", type=int, default=200, help="conversations sent to the server")
    p.add_argument("--budget", type=float, default=30.0, help="seconds for each search")
    p.add_argument("--out", type=Path, default=Path("runs/serve"))
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.conversations < 20 or a.traffic < 1 or a.budget <= 0:
        p.error("--conversations ≥ 20, --traffic ≥ 1 and --budget > 0")
    rng = np.random.default_rng(a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    transcripts, store = a.out / "transcripts.jsonl", a.out / "S.db"
    store.unlink(missing_ok=True)
    calls = [c for _ in range(a.conversations) for c in conversation(request_text(rng))]
    transcripts.write_text("".join(json.dumps(c) + "\n" for c in calls), encoding="utf-8")
    print(f"1. wrote {len(calls)} chat-completions calls from {a.conversations} conversations to {transcripts}")
    if agent_distill(["ingest", str(transcripts), "--format", "openai-chat", "--store", str(store), "--teacher", "travel-llm"]) != 0:
        return 2
    print(f"2. ingested into {store}")
    # 40% held out: a 99% bound needs a few hundred calibration turns (Wilson, z = 1: ≥ 99 all agreeing)
    search = ["--policy", "cascade:0.99", "--budget", str(a.budget), "--val-fraction", "0.4", "--n-jobs", "1", "--seed", str(a.seed)]
    if agent_distill(["search", str(store), "--out", str(a.out / "router"), *search]) != 0:
        return 2
    print(f"3. router: {coverage(a.out / 'router')}")
    with ServerThread(standin_app(llm_decides)) as llm:
        proc, base = serve(a.out / "router", llm.url, store)
        try:
            print(f"4. serving {a.out / 'router'} at {base}/v1 in front of the stand-in LLM at {llm.url}")
            counts = traffic(base, a.traffic, rng)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=60)
    total = sum(counts.values())
    with TrajectoryStore(store) as s:
        logged = s.db["served_requests"].count
        labelled = s.db.execute("select count(*) from steps join runs on steps.run_id = runs.id where runs.source = 'served'").fetchone()[0]
    print(
        f"5. served {total} requests: the student decided {counts['student']} ({100 * counts['student'] / total:.1f}%), the LLM {counts['upstream']}; "
        f"{logged} requests logged, {labelled} LLM answers stored as new decisions"
    )
    if agent_distill(["search", str(store), "--out", str(a.out / "router2"), *search]) != 0:
        return 2
    print(f"6. re-distilled from transcripts + traffic: {coverage(a.out / 'router2')}")
    return 0 if logged == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
