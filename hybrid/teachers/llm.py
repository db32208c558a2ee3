"""``LLMTeacher``: an OpenAI-compatible chat-completions endpoint (vLLM, llama.cpp's server, Ollama)
as a teacher over structured states, every answer paid for once.

A prompt template renders each state (``str.format`` with the state's fields, ``{actions}`` — the
labels joined by commas — and ``{state}`` — the record as JSON). The label set is the teacher's
actions. Probabilities come from the log-probabilities of the answer's first token
(``logprobs: true, top_logprobs: K``): each listed token counts for the labels it begins, and
mass shared by several labels goes to the sampled answer when it is one of them, else is split
evenly. When the server returns no log-probabilities, the sampled answer becomes a one-hot row.

Every call is cached in the trajectory store (table ``llm_calls``) under the SHA-256 of the
endpoint, model, messages and sampling parameters; the raw response is kept, so a decision is
paid for once and re-distillation is free. Connection failures, timeouts, 429 and 5xx answers are
retried with exponential back-off. The teacher's identity in the ledger (``content_hash``) is the
endpoint, the model name, the prompt template's hash, the labels and the parameters.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.data.transcripts import token_probabilities
from hybrid.errors import DataError, TeacherError
from hybrid.teachers.base import Teacher
from provenance.hashing import hash_json

DEFAULT_TEMPLATE = "Choose the tool that should handle this request. Options: {actions}.\nRequest: {text}\nAnswer with the option name only."
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class LLMTeacher(Teacher):
    """A chat-completions endpoint choosing among ``action_names`` for each record state: a
    discrete ``Teacher`` whose states are records (dicts of field values) instead of vectors.

    Parameters
    ----------
    endpoint: base URL of the OpenAI-compatible API, e.g. ``http://127.0.0.1:8000/v1``.
    model: the model name the server knows.
    action_names: the labels the model must answer with.
    prompt_template: ``str.format`` template over the state's fields, ``{actions}`` and ``{state}``.
    cache: a ``TrajectoryStore`` or the path of one (created when new); ``None`` caches nothing.
    system: optional system message.
    temperature, max_tokens, top_logprobs, seed: sampling parameters sent with every call.
    timeout_s, max_retries, backoff_s: per-call timeout, retries after the first try, first pause.
    api_key: sent as a bearer token when given (local servers need none).
    """

    state_kind = "record"

    def __init__(
        self,
        endpoint: str,
        model: str,
        action_names: Sequence[str],
        prompt_template: str = DEFAULT_TEMPLATE,
        *,
        cache: Any = None,
        system: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 8,
        top_logprobs: int = 20,
        seed: int | None = 0,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        api_key: str | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise TeacherError(f"endpoint must be an http(s) URL such as http://127.0.0.1:8000/v1; got {endpoint!r}")
        names = [str(a) for a in action_names]
        if len(names) < 2 or len(set(names)) != len(names):
            raise TeacherError(f"action_names must hold at least 2 unique labels; got {names}")
        self.endpoint = endpoint.rstrip("/")
        self.model = model
        self.prompt_template = prompt_template
        self.system = system
        self.params = {"temperature": temperature, "max_tokens": max_tokens, "logprobs": True, "top_logprobs": top_logprobs}
        if seed is not None:
            self.params["seed"] = seed
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self._api_key = api_key
        self._store = _open_cache(cache)
        self.calls_made = 0  # requests that reached the server (retries included)
        self.cache_hits = 0
        super().__init__(
            self._label,
            names,
            identity=f"llm:{model}@{self.endpoint}",
            content_hash=hash_json(  # identity in the ledger: endpoint, model, prompt-template hash, labels and parameters
                {
                    "kind": "llm-chat-completions",
                    "endpoint": self.endpoint,
                    "model": self.model,
                    "prompt_template_hash": self.prompt_hash,
                    "actions": names,
                    "params": self.params,
                }
            ),
        )

    def __repr__(self) -> str:
        return f"LLMTeacher({self.identity!r}, actions={list(self.action_names)})"

    @property
    def prompt_hash(self) -> str:
        return hash_json({"template": self.prompt_template, "system": self.system})

    # -- the contract ---------------------------------------------------------------------------
    def render(self, state: Mapping[str, Any]) -> str:
        """The user message for one state."""
        if not isinstance(state, Mapping):
            raise DataError(f"an LLM teacher reads record states (dicts of field values); got {type(state).__name__}")
        values = {k: "" if v is None else v for k, v in state.items()}
        try:
            return self.prompt_template.format(**values, actions=", ".join(self.action_names), state=json.dumps(dict(state), sort_keys=True))
        except KeyError as e:
            raise DataError(
                f"the prompt template uses field {e.args[0]!r}, which this state lacks (it has {sorted(state)}); log the field or change the template"
            ) from None

    def _states(self, X: Any) -> list[Mapping[str, Any]]:
        """Record states as a list (one dict is one row); each is checked when it is rendered."""
        return [X] if isinstance(X, Mapping) else list(X)

    def to_dataset(self, states: Sequence[Mapping[str, Any]], fields: Mapping[str, str] | None = None) -> Any:
        """A ``RecordDataset`` of ``states`` labelled by this teacher (cached calls cost nothing)."""
        from hybrid.data.featurize import infer_kinds
        from hybrid.data.records import RecordDataset

        return RecordDataset(
            states,
            self.predict_proba(states),
            self.action_names,
            infer_kinds(states, fields),
            meta={"teacher": self.identity, "teacher_hash": self.content_hash},
        )

    def _label(self, records: Any) -> np.ndarray:
        return np.asarray([self._one(r) for r in records], dtype=np.float64).reshape(-1, self.n_actions)

    # -- one call ---------------------------------------------------------------------------------
    def _one(self, state: Mapping[str, Any]) -> list[float]:
        messages = ([{"role": "system", "content": self.system}] if self.system else []) + [{"role": "user", "content": self.render(state)}]
        body = {"model": self.model, "messages": messages, **self.params}
        key = hash_json({"endpoint": self.endpoint, **body})
        response = self._cached(key)
        if response is None:
            response = self._post(body)
            self._remember(key, body, response)
        else:
            self.cache_hits += 1
        return label_probabilities(response, self.action_names)

    def _cached(self, key: str) -> dict | None:
        if self._store is None:
            return None
        row = self._store.db.execute("select response from llm_calls where key = ?", [key]).fetchone()
        return None if row is None else json.loads(row[0])

    def _remember(self, key: str, body: dict, response: dict) -> None:
        if self._store is not None:
            store = self._store
            store.transaction(
                lambda: store.db["llm_calls"].insert(
                    {
                        "key": key,
                        "endpoint": self.endpoint,
                        "model": self.model,
                        "request": json.dumps(body, sort_keys=True),
                        "response": json.dumps(response, sort_keys=True),
                        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    },
                    replace=True,
                )
            )

    def _post(self, body: dict) -> dict:
        """POST ``/chat/completions`` with retries and exponential back-off."""
        url = self.endpoint + "/chat/completions"
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        data = json.dumps(body).encode("utf-8")
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            self.calls_made += 1
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers, method="POST"), timeout=self.timeout_s) as r:
                    return json.loads(r.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:300]
                if e.code not in _RETRY_STATUS:
                    raise TeacherError(f"{url} answered HTTP {e.code}: {detail}; check the model name {self.model!r} and the request") from None
                last = f"HTTP {e.code}: {detail}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = str(getattr(e, "reason", e))
            except json.JSONDecodeError as e:
                raise TeacherError(f"{url} answered with something that is not JSON ({e.msg}); is it an OpenAI-compatible server?") from None
        raise TeacherError(f"{url} failed {self.max_retries + 1} times (last: {last}); check that the server is up, or raise max_retries")


def label_probabilities(response: Mapping[str, Any], labels: Sequence[str]) -> list[float]:
    """Label probabilities from one chat-completions response (see the module docstring)."""
    try:
        choice = response["choices"][0]
        answer = (choice.get("message") or {}).get("content") or choice.get("text") or ""
    except (KeyError, IndexError, TypeError):
        raise TeacherError(f"the response has no choices[0].message.content: {json.dumps(response)[:300]}") from None
    lowered = [label.lower() for label in labels]
    sampled = _match(answer, lowered)
    top = (((choice.get("logprobs") or {}).get("content") or [{}])[0] or {}).get("top_logprobs") or []
    probs = token_probabilities(top, labels, sampled)
    if probs is not None:
        return probs
    if sampled is None:
        raise TeacherError(
            f"the model answered {answer!r}, which is none of the labels {list(labels)}, and gave no usable "
            "log-probabilities; make the prompt ask for one label only"
        )
    return [float(i == sampled) for i in range(len(labels))]


def _match(answer: str, lowered: Sequence[str]) -> int | None:
    """The label the sampled answer names: exact (ignoring case, spaces, quotes, final dot), else the
    longest label it starts with."""
    text = answer.strip().strip("\"'`.").strip().lower()
    if text in lowered:
        return lowered.index(text)
    starts = [i for i, label in enumerate(lowered) if text.startswith(label)]
    return max(starts, key=lambda i: len(lowered[i])) if starts else None


def _open_cache(cache: Any) -> Any:
    """The store holding ``llm_calls`` (created when missing); ``None`` for no cache."""
    if cache is None:
        return None
    from hybrid.data.store import TrajectoryStore

    store = cache if isinstance(cache, TrajectoryStore) else TrajectoryStore(Path(cache))
    store.db.table("llm_calls").create(
        {"key": str, "endpoint": str, "model": str, "request": str, "response": str, "created_at": str}, pk="key", if_not_exists=True
    )
    return store
