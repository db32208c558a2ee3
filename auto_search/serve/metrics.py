"""The server's counters and latency histograms, rendered in the Prometheus text exposition format.

Requests by who decided them (``student``, ``upstream``, ``error``), the share the student
decided, latency histograms per path, upstream retries and failures, reloads, and the hash of the
model serving now. Kept by hand (a few counters) rather than through ``prometheus_client``, so
serving needs no extra package.
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field

BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
PATHS = ("student", "upstream", "error")


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))
    total_s: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_S, seconds)] += 1
        self.total_s += seconds


@dataclass
class Metrics:
    """What ``GET /metrics`` reports; the event loop is its only writer."""

    requests: Counter = field(default_factory=Counter)
    latency: dict[str, _Histogram] = field(default_factory=lambda: {p: _Histogram() for p in PATHS})
    upstream_retries: int = 0
    upstream_failures: int = 0
    reloads: int = 0
    model_hash: str = ""

    def observe(self, decided_by: str, seconds: float) -> None:
        self.requests[decided_by] += 1
        self.latency[decided_by].observe(seconds)

    def render(self) -> str:
        decided = self.requests["student"] + self.requests["upstream"]
        lines = [
            "# HELP agent_distill_requests_total Chat-completions requests answered, by who decided them.",
            "# TYPE agent_distill_requests_total counter",
            *(f'agent_distill_requests_total{{decided_by="{p}"}} {self.requests[p]}' for p in PATHS),
            "# HELP agent_distill_student_share Share of answered requests the student decided.",
            "# TYPE agent_distill_student_share gauge",
            f"agent_distill_student_share {self.requests['student'] / decided if decided else 0.0:.6g}",
            "# HELP agent_distill_request_seconds Time from receiving a request to the end of its answer, by path.",
            "# TYPE agent_distill_request_seconds histogram",
        ]
        for path, h in self.latency.items():
            running = 0
            for bound, count in zip((*BUCKETS_S, float("inf")), h.counts):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'agent_distill_request_seconds_bucket{{path="{path}",le="{le}"}} {running}')
            lines += [f'agent_distill_request_seconds_sum{{path="{path}"}} {h.total_s:.6f}', f'agent_distill_request_seconds_count{{path="{path}"}} {running}']
        lines += [
            "# HELP agent_distill_upstream_retries_total Upstream attempts retried after a timeout, a failed connection or a 408/429/5xx.",
            "# TYPE agent_distill_upstream_retries_total counter",
            f"agent_distill_upstream_retries_total {self.upstream_retries}",
            "# HELP agent_distill_upstream_errors_total Requests answered 502 because the upstream failed every try.",
            "# TYPE agent_distill_upstream_errors_total counter",
            f"agent_distill_upstream_errors_total {self.upstream_failures}",
            "# HELP agent_distill_reloads_total Models loaded after start-up.",
            "# TYPE agent_distill_reloads_total counter",
            f"agent_distill_reloads_total {self.reloads}",
            "# HELP agent_distill_model_info The model serving now.",
            "# TYPE agent_distill_model_info gauge",
            f'agent_distill_model_info{{model_hash="{self.model_hash}"}} 1',
        ]
        return "\n".join(lines) + "\n"
