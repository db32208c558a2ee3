"""Forwarding a request to an OpenAI-compatible upstream, retrying what a retry can fix.

Timeouts, connection failures, 408, 429 and 5xx answers are retried with exponential back-off
(``backoff_s``, doubled each time); after ``max_retries`` retries the caller gets
:class:`UpstreamFailed` and answers 502. Any other answer — a 4xx naming the client's mistake —
is passed back as the upstream gave it. The upstream's key travels only in the
``Authorization`` header of the forwarded request, never into a log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_PASSED_HEADERS = ("content-type", "openai-organization", "openai-project")


class UpstreamFailed(Exception):
    """The upstream could not answer after every retry (the message says what happened last)."""


@dataclass(frozen=True)
class Upstream:
    """One OpenAI-compatible server: ``url`` is its base (``http://host:port/v1``) or the full
    ``…/chat/completions`` address; ``api_key`` is sent as a bearer token when given."""

    name: str
    url: str
    api_key: str | None = None

    @property
    def endpoint(self) -> str:
        base = self.url.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"

    def headers(self, incoming: Mapping[str, str], client_auth: bool) -> dict[str, str]:
        """Headers for the forwarded request: content type and OpenAI's routing headers; the
        upstream's own key, else the client's ``Authorization`` when the server has no key of its own."""
        out = {k: v for k, v in incoming.items() if k.lower() in _PASSED_HEADERS}
        out.setdefault("content-type", "application/json")
        if self.api_key:
            out["authorization"] = f"Bearer {self.api_key}"
        elif client_auth and "authorization" in incoming:
            out["authorization"] = incoming["authorization"]
        return out


async def send(
    client: httpx.AsyncClient, upstream: Upstream, body: bytes, headers: dict[str, str], *, stream: bool, max_retries: int, backoff_s: float
) -> tuple[httpx.Response, int]:
    """The upstream's answer (opened as a stream when ``stream``; the caller closes it) and the
    number of retries it took; raises :class:`UpstreamFailed` when every try failed."""
    last = "no attempt"
    for attempt in range(max_retries + 1):
        if attempt:
            await asyncio.sleep(backoff_s * 2 ** (attempt - 1))
        try:
            response = await client.send(client.build_request("POST", upstream.endpoint, content=body, headers=headers), stream=stream)
        except httpx.TimeoutException:
            last = "timed out"
            continue
        except httpx.HTTPError as e:
            last = f"{type(e).__name__}: {e}"
            continue
        if response.status_code not in RETRY_STATUS:
            return response, attempt
        last = f"HTTP {response.status_code}"
        await response.aclose()
    raise UpstreamFailed(f"upstream {upstream.name!r} failed {max_retries + 1} times (last: {last})")
