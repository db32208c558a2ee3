"""The ``cascade:0.99`` policy: ship the student (and threshold) that decides the most requests
while agreeing ≥ 99% with the teacher on those it decides; the teacher answers the rest.

The held-out states are halved (seeded). On the *calibration* half each candidate gets the
lowest confidence threshold that keeps its decided agreement ≥ the target (Wilson lower bound,
:func:`hybrid.cascade.choose_threshold`), and the candidate deciding most there is chosen. The
*report* half, used for neither choice, gives the figures printed for it: coverage, agreement
on the decided share, overall agreement and the coverage–agreement curve. If the report half
misses the target, the words say so with the measured value.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auto_search.errors import SearchConfigError, SearchError
from auto_search.evaluate import describe
from auto_search.sections import ReportSection, png, register_section
from auto_search.space import student_class
from hybrid.cascade import WILSON_Z, calibration_split, cascade_score, choose_threshold, coverage_curve

DEFERRING_FAMILIES = ("keywords", "linear", "rules", "tree", "mlp")  # families whose Python export can defer


@dataclass(frozen=True)
class Cascade:
    """Most coverage with agreement ≥ ``agreement_at_least`` on the decided share."""

    agreement_at_least: float = 0.99
    needs_held_out = True

    def __post_init__(self) -> None:
        if not 0.0 < self.agreement_at_least <= 1.0:
            raise SearchConfigError(
                f"cascade:… takes the agreement to keep on decided requests, a share in (0, 1] (0.99 = 99%); got {self.agreement_at_least!r}."
            )

    @property
    def spec(self) -> str:
        return f"cascade:{self.agreement_at_least:g}"

    def bound_holds(self, c: Any) -> bool:
        """Its bound (agreement on the decided share) belongs to a threshold calibrated on the
        chosen student's held-out predictions; a candidate record carries neither, so no model
        changed after the choice can be shown to hold it."""
        return False

    def __call__(self, pool: Sequence[Any]) -> tuple[Any, str]:
        raise SearchConfigError("the cascade policy chooses on held-out predictions; run it through AutoDistill (it calls choose()).")

    def choose(self, pool: Sequence[Any], artifacts: dict[int, dict], data: Any, *, seed: int = 0) -> tuple[Any, str, Any, dict[str, Any]]:
        """(candidate, words, student to ship with its threshold, figures for the report)."""
        from hybrid.students.featurized import FeaturizedStudent

        able = [c for c in pool if c.family in DEFERRING_FAMILIES]
        if not able:
            raise SearchConfigError(f"the cascade policy needs a candidate of {list(DEFERRING_FAMILIES)}; add one of them to families.")
        teacher = data.P_val.argmax(axis=1)
        cal, rep = calibration_split(len(teacher), seed)
        scored = []
        for c in able:
            student = student_class(c.family).from_dict(artifacts[c.id])
            actions = np.asarray(student.predict(data.X_val))
            confidence = student.predict_proba(data.X_val)[np.arange(len(actions)), actions]
            threshold = choose_threshold(teacher[cal], actions[cal], confidence[cal], self.agreement_at_least)
            calib = cascade_score(teacher[cal], actions[cal], confidence[cal], threshold if threshold is not None else np.inf)
            scored.append((c, student, threshold, calib, actions, confidence))
        reaching = [s for s in scored if s[2] is not None]
        if not reaching:  # a router deferring every request is no cascade: say what would let one show the bound
            raise SearchError(self._unreachable(len(cal), data))
        c, student, found, calib, actions, confidence = min(reaching, key=lambda s: (-s[3].coverage, s[0].ops_per_decision, s[0].parameters, s[0].id))
        assert found is not None  # reaching holds only candidates with a threshold
        threshold = float(found)
        report = cascade_score(teacher[rep], actions[rep], confidence[rep], threshold)
        met = report.agreement_decided is not None and report.agreement_decided >= self.agreement_at_least
        # numeric states too get the wrapper: it is what defers (decide returns None)
        shipped = FeaturizedStudent.from_parts(getattr(data, "featurizer", None), student, defer_below=float(threshold), action_names=data.action_names)
        info = {
            "policy": self.spec,
            "agreement_at_least": self.agreement_at_least,
            "threshold": float(threshold),
            "candidate": c.id,
            "calibration": calib.to_dict(),
            "held_out": report.to_dict(),
            "met": bool(met),
            "curve": coverage_curve(teacher[rep], actions[rep], confidence[rep]),
            "candidates": [
                {"id": s[0].id, "family": s[0].family, "threshold": s[2], "calibration_coverage": s[3].coverage}
                for s in sorted(scored, key=lambda s: -s[3].coverage)[:10]
            ],
        }
        return c, self._words(c, threshold, report, met), shipped, info

    def requests_needed(self) -> int | None:
        """Calibration requests on which even a student agreeing on every one shows the target:
        the Wilson lower bound of n agreements in n, n / (n + z²), reaches it from this n on
        (``None`` for a target of 100%, which no finite sample shows)."""
        target = self.agreement_at_least
        return None if target >= 1.0 else max(1, int(np.ceil(WILSON_Z**2 * target / (1.0 - target) - 1e-9)))

    def _unreachable(self, n_cal: int, data: Any) -> str:
        """Why no cascade ships: too few calibration requests to show the target at all, or no
        candidate agreeing enough on them; with the data or target that would do."""
        need = self.requests_needed()
        if need is None or n_cal < need:
            best = n_cal / (n_cal + WILSON_Z**2)
            held_share = len(data.P_val) / (len(data.P_val) + len(data.P))  # calibration is half the held-out rows
            enough = (
                "no finite number of requests shows 100%"
                if need is None
                else (f"it needs at least {need} calibration requests, about {int(np.ceil(2 * need / held_share))} decisions in all at this val_fraction")
            )
            return (
                f"{self.spec} cannot be shown on {n_cal} calibration requests: even a student agreeing on all of them has a lower bound of "
                f"{100 * best:.1f}%; {enough}; or choose a target they can show, such as cascade:{np.floor(1000 * best) / 1000:g}"
            )
        return (
            f"no candidate keeps {100 * self.agreement_at_least:g}% agreement (lower bound) even on its most confident of {n_cal} "
            "calibration requests, so no router would decide any; log more decisions, add families, or lower the target"
        )

    def _words(self, c: Any, threshold: float, report: Any, met: bool) -> str:
        target = f"{100 * self.agreement_at_least:g}%"
        agree = "n/a" if report.agreement_decided is None else f"{100 * report.agreement_decided:.2f}%"
        verdict = f"meets {target}" if met else f"MISSES {target}"
        return (
            f"cascade deciding the most calibration requests at ≥ {target} agreement: {describe(c)}, defers below confidence "
            f"{threshold:.4g}; on the report half it decides {100 * report.coverage:.1f}% with {agree} agreement ({verdict}), "
            f"{100 * report.agreement_overall:.2f}% overall with the teacher answering the rest"
        )


def _markdown(data: dict[str, Any]) -> list[str]:
    """Report lines: the cascade's figures and its coverage–agreement curve (report half)."""
    info = data["cascade"]
    held = info["held_out"]
    agree = "n/a" if held["agreement_decided"] is None else f"{100 * held['agreement_decided']:.2f}%"
    lines = [
        "## Cascade",
        "",
        f"Threshold {info['threshold']:.4g} chosen on {info['calibration']['n']} calibration states; figures on {held['n']} other held-out states: "
        f"coverage {100 * held['coverage']:.1f}% (teacher calls saved: {held['teacher_calls_saved']}), agreement on decided {agree} "
        f"({'met' if info['met'] else 'MISSED'}: target {100 * info['agreement_at_least']:g}%), overall {100 * held['agreement_overall']:.2f}%.",
        "",
        "| threshold | coverage | agreement on decided |",
        "|---|---|---|",
    ]
    lines += [f"| {p['threshold']:.6g} | {100 * p['coverage']:.1f}% | {100 * p['agreement']:.2f}% |" for p in info["curve"]]
    return [*lines, ""]


def _html(data: dict[str, Any]) -> str:
    """The cascade section of the HTML report: its words and the coverage–agreement curve as an inline PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    info = data["cascade"]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([100 * p["coverage"] for p in info["curve"]], [100 * p["agreement"] for p in info["curve"]], marker=".")
    ax.axhline(100 * info["agreement_at_least"], color="#999", linestyle="--", linewidth=1)
    held = info["held_out"]
    ax.plot([100 * held["coverage"]], [100 * (held["agreement_decided"] or 0.0)], "r*", markersize=12)
    ax.set_xlabel("coverage (% decided without the teacher)")
    ax.set_ylabel("agreement on decided (%)")
    fig.tight_layout()
    words = " ".join(_markdown(data)[2:3])
    return f"<h2>Cascade</h2><p>{html.escape(words)}</p><img alt='coverage–agreement curve' src='{png(fig)}'>"


register_section(ReportSection("cascade", 20, _markdown, _html))
