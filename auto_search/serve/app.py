"""``create_app(settings)``: the OpenAI-compatible cascade endpoint as a Starlette application.

``POST /v1/chat/completions`` reads the request's state as transcript ingest reads an assistant
turn (:func:`hybrid.data.transcripts.conversation_state`) and asks the student. When it decides
a tool it can call without arguments, the reply calls that tool (``x-agent-distill-decided-by:
student``); when its decision names a route (``routes``: action → upstream), the request goes,
unchanged, to that upstream (also ``student``: it chose the model); otherwise — below the
threshold, a text answer, a tool needing arguments — the request goes unchanged to the default
upstream (``upstream``) and its answer labels the state in the log. A decision below the
threshold is never returned, even when the upstream fails: that is a 502.

``GET /metrics`` (Prometheus text), ``GET /healthz``, ``POST /admin/reload`` (optional
``{"model_dir": …}``; SIGHUP reloads the same folder). Requests in flight finish on the model
they started with; the log names the model hash that decided each one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from auto_search.serve.metrics import Metrics
from auto_search.serve.model import ServedModel
from auto_search.serve.protocol import RequestError, answer_of, answer_of_stream, parse_request, student_can_answer, student_completion, student_stream
from auto_search.serve.traffic import Served, TrafficLog, open_log
from auto_search.serve.upstream import Upstream, UpstreamFailed, send
from hybrid.data.transcripts import conversation_state
from hybrid.errors import DataError

DECIDED_BY = "x-agent-distill-decided-by"
DEFAULT_UPSTREAM = "default"


@dataclass(frozen=True)
class ServeSettings:
    """What ``agent-distill serve`` was told; see ``agent-distill serve --help`` for each."""

    model_dir: Path
    upstream: str
    routes: Mapping[str, str] = field(default_factory=dict)
    log: Path | None = None
    api_key: str | None = None
    upstream_key: str | None = None
    max_body_bytes: int = 1 << 20
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_s: float = 0.25


class _Server:
    """The running server's state: the model now serving, the upstreams, metrics and the log."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.model = ServedModel.load(settings.model_dir)
        self.default = Upstream(DEFAULT_UPSTREAM, settings.upstream, settings.upstream_key)
        self.routes = {name: Upstream(name, url, settings.upstream_key) for name, url in settings.routes.items()}
        self.metrics = Metrics(model_hash=self.model.model_hash)
        if settings.log is not None:
            open_log(settings.log)
        self.log: TrafficLog | None = None
        self.client: httpx.AsyncClient | None = None
        self._reloading = asyncio.Lock()

    # -- life --------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
        self.client = httpx.AsyncClient(timeout=self.settings.timeout_s, limits=limits)
        if self.settings.log is not None:
            self.log = TrafficLog(self.settings.log, self.model.action_names, self.model.fields)
            self.log.start()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._reload_quietly()))
        try:
            yield
        finally:
            await self.client.aclose()
            if self.log is not None:
                await asyncio.to_thread(self.log.close)

    # -- requests ----------------------------------------------------------------------------
    def _authorize(self, request: Request) -> None:
        key = self.settings.api_key
        if key is None:
            return
        given = request.headers.get("authorization", "")
        if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), key.encode())):
            raise RequestError(401, "missing or wrong API key: send Authorization: Bearer <the key given to agent-distill serve>", code="invalid_api_key")

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length", "")
        too_big = RequestError(413, f"the request body is larger than {limit} bytes; send less, or start the server with a larger --max-body-bytes")
        if declared.isdigit() and int(declared) > limit:
            raise too_big
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
        return b"".join(chunks)

    async def chat(self, request: Request) -> Response:
        start = time.perf_counter()
        request_id = uuid.uuid4().hex
        model = self.model  # the model this request is decided by, whatever a reload does meanwhile
        base: dict[str, Any] = {"request_id": request_id, "model_hash": model.model_hash}
        state: dict[str, Any] | None = None
        try:
            self._authorize(request)
            raw = await self._body(request)
            body = parse_request(raw)
            try:
                state = conversation_state(body["messages"], body.get("metadata"))
            except DataError as e:
                raise RequestError(400, str(e), param="messages") from None
            action, confidence = model.decide(state)
            stream = bool(body.get("stream"))
            decision: dict[str, Any] = {"decision": action, "confidence": confidence, "stream": stream}
            headers = {DECIDED_BY: "student", "x-request-id": request_id, "x-agent-distill-model": model.model_hash}
            if action is not None and action in self.routes:
                headers["x-agent-distill-routed-to"] = action
                return await self._forward(request, raw, self.routes[action], stream, start, headers, {**base, **decision, "state": state}, label=False)
            if action is not None and student_can_answer(body, action):
                self._record(start, Served(**base, **decision, decided_by="student", status=200, state=state, latency_ms=0.0))
                if stream:
                    return Response(student_stream(body, action, model.model_hash), media_type="text/event-stream", headers=headers)
                return JSONResponse(student_completion(body, action, model.model_hash), headers=headers)
            headers[DECIDED_BY] = "upstream"
            return await self._forward(request, raw, self.default, stream, start, headers, {**base, **decision, "state": state}, label=True)
        except RequestError as e:
            self._record(start, Served(**base, decided_by="error", status=e.status, state=state, error=e.message, latency_ms=0.0))
            return e.response({"x-request-id": request_id})
        except UpstreamFailed as e:
            self.metrics.upstream_failures += 1
            self._record(start, Served(**base, decided_by="error", status=502, state=state, error=str(e), latency_ms=0.0))
            return RequestError(502, f"{e}; try again later", kind="upstream_error", code="upstream_unavailable").response({"x-request-id": request_id})

    async def _forward(
        self, request: Request, body: bytes, upstream: Upstream, stream: bool, start: float, headers: dict[str, str], logged: dict[str, Any], *, label: bool
    ) -> Response:
        """Send the request body unchanged to ``upstream`` and pass its answer back (streamed through when asked)."""
        assert self.client is not None
        out = upstream.headers(request.headers, client_auth=self.settings.api_key is None)
        response, retries = await send(
            self.client, upstream, body, out, stream=stream, max_retries=self.settings.max_retries, backoff_s=self.settings.backoff_s
        )
        self.metrics.upstream_retries += retries
        decided_by = headers[DECIDED_BY]
        media = response.headers.get("content-type", "application/json")
        if not stream or response.status_code != 200:
            content = await response.aread()
            await response.aclose()
            answer = None
            if label and response.status_code == 200:
                with contextlib.suppress(ValueError):
                    answer = answer_of(json.loads(content))
            self._record(start, Served(**logged, decided_by=decided_by, status=response.status_code, upstream=upstream.name, answer=answer, latency_ms=0.0))
            return Response(content, status_code=response.status_code, media_type=media, headers=headers)

        async def passthrough() -> AsyncIterator[bytes]:
            seen = bytearray()
            try:
                async for chunk in response.aiter_raw():
                    seen += chunk
                    yield chunk
            finally:
                await response.aclose()
                answer = answer_of_stream(bytes(seen)) if label else None
                self._record(start, Served(**logged, decided_by=decided_by, status=200, upstream=upstream.name, answer=answer, latency_ms=0.0))

        return StreamingResponse(passthrough(), media_type=media, headers=headers)

    def _record(self, start: float, served: Served) -> None:
        seconds = time.perf_counter() - start
        self.metrics.observe(served.decided_by, seconds)
        if self.log is not None:
            self.log.put(Served(**{**served.__dict__, "latency_ms": 1000.0 * seconds}))

    # -- operations --------------------------------------------------------------------------
    async def metrics_text(self, request: Request) -> Response:
        try:
            self._authorize(request)
        except RequestError as e:
            return e.response()
        return PlainTextResponse(self.metrics.render(), media_type="text/plain; version=0.0.4")

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "model_hash": self.model.model_hash})

    async def reload(self, request: Request) -> Response:
        try:
            self._authorize(request)
            raw = await self._body(request)
            given = json.loads(raw) if raw.strip() else {}
            if not isinstance(given, dict) or not isinstance(given.get("model_dir", ""), str):
                raise RequestError(400, 'the reload body is {"model_dir": "PATH"} or empty (reload the same folder)', param="model_dir")
            model = await self._load(Path(given["model_dir"]) if given.get("model_dir") else self.settings.model_dir)
        except json.JSONDecodeError as e:
            return RequestError(400, f"the reload body is not JSON ({e})").response()
        except RequestError as e:
            return e.response()
        return JSONResponse({"model_hash": model.model_hash, "path": str(model.path)})

    async def _load(self, model_dir: Path) -> ServedModel:
        async with self._reloading:
            try:
                model = await asyncio.to_thread(ServedModel.load, model_dir)
            except DataError as e:
                raise RequestError(400, f"reload failed, still serving {self.model.model_hash}: {e}", param="model_dir") from None
            self.model = model  # one assignment: a request reads either the old model or the new one
            self.metrics.reloads += 1
            self.metrics.model_hash = model.model_hash
            if self.log is not None:
                self.log.model_changed(model.action_names, model.fields)
            print(f"agent-distill serve: now serving {model.model_hash} from {model.path}", file=sys.stderr, flush=True)
            return model

    async def _reload_quietly(self) -> None:
        try:
            await self._load(self.settings.model_dir)
        except RequestError as e:
            print(f"agent-distill serve: {e.message}", file=sys.stderr, flush=True)


def create_app(settings: ServeSettings) -> Starlette:
    """The application for ``settings`` (the model is loaded now, so a bad folder fails before serving)."""
    server = _Server(settings)
    routes = [
        Route("/v1/chat/completions", server.chat, methods=["POST"]),
        Route("/chat/completions", server.chat, methods=["POST"]),
        Route("/metrics", server.metrics_text, methods=["GET"]),
        Route("/healthz", server.healthz, methods=["GET"]),
        Route("/admin/reload", server.reload, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=server.lifespan)
    app.state.server = server
    return app
