"""KeywordRulesStudent: a short decision list of keyword tests, learned by sequential covering.

Made for 0/1 features such as a featurizer's ``text has "weather"``, ``channel is "app"``: each
rule is ``IF f [AND g | AND NOT g] THEN action``; a numeric feature offers the tests ``x > d`` at
its deciles ``d``. Fit, greedily (the covering scheme of CN2 and
of imodels' greedy rule lists): among the states no earlier rule covers, find the condition and
action with the best score ``correct − λ·wrong``, where ``λ = p / (1 − p)`` for the precision
``p = min_precision`` (a rule scores > 0 only above that precision); append it; repeat until
``max_rules`` rules or no rule scores > 0. Conjunctions are searched around the ``beam`` best
single keywords only, which keeps a fit to a few sparse products per rule. The rest go to the
default, the teacher's most common action among the uncovered states.

The result is a :class:`~hybrid.students.rules.RuleListStudent` (same conditions, text, cost,
Python and C exports), so a featurized keyword list prints ``IF text has "weather" AND NOT text
has "book" THEN GetWeather`` and each rule carries its training coverage and precision, which a
cascade reads as its confidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import register
from hybrid.students.rules import Condition, Rule, RuleListStudent
from hybrid.students.tree import f32_split_bound


@register
class KeywordRulesStudent(RuleListStudent):
    """Decision list of keyword rules over 0/1 features.

    Parameters
    ----------
    max_rules: most rules (besides the default).
    max_terms: keywords per rule: 1 (``IF f``) or 2 (``IF f AND g`` / ``IF f AND NOT g``).
    min_precision: precision a rule needs on the training states it covers to be worth adding.
    min_support: fewest training states a rule must cover.
    beam: single keywords around which two-keyword rules are searched.
    """

    family = "keywords"
    expensive = False
    searched_by_default = False  # added on record states (auto_search.space.default_families_for)
    search_order = 14  # after the linear student, before tree-derived rule lists
    colour = "#66a61e"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Decision lists of one or two keywords (0/1 features of records), shortest first."""
        return [{"max_rules": r, "max_terms": t, "min_precision": p} for r in (8, 16, 32, 64, 128) for t, p in ((1, 0.6), (2, 0.6), (2, 0.9))]

    def __init__(
        self, max_rules: int = 32, max_terms: int = 2, min_precision: float = 0.8, min_support: int = 5, beam: int = 30, random_state: int = 0
    ) -> None:
        self.max_rules = max_rules
        self.max_terms = max_terms
        self.min_precision = min_precision
        self.min_support = min_support
        self.beam = beam
        self.random_state = random_state

    def _check_params(self) -> None:
        if self.max_rules is None or self.max_rules < 0 or self.max_terms not in (1, 2) or not 0.0 < self.min_precision < 1.0:
            raise ParameterError(
                "KeywordRulesStudent needs max_rules ≥ 0, max_terms 1 or 2 and min_precision in (0, 1); "
                f"got {self.max_rules!r}, {self.max_terms!r}, {self.min_precision!r}."
            )

    def _fit(self, X: np.ndarray, P: np.ndarray, w: np.ndarray | None) -> None:
        """Sequential covering on the boolean tests of ``X`` (see the module docstring)."""
        B, tests = _boolean_tests(X)
        self.rules_ = self._cover(B, tests, P.argmax(axis=1), np.ones(X.shape[0]) if w is None else w, P.shape[1])
        self._describe(X, P, w)

    def _cover(self, B: np.ndarray, tests: list[tuple[int, float]], labels: np.ndarray, w: np.ndarray, k: int) -> list[Rule]:
        """Sequential covering on the boolean matrix ``B`` (states × tests ``x[feature] > bound``)."""
        from scipy import sparse

        lam = self.min_precision / (1.0 - self.min_precision)
        Y = np.zeros((len(labels), k))
        Y[np.arange(len(labels)), labels] = w
        S = sparse.csc_matrix(B, dtype=np.float64)
        open_ = np.ones(len(labels), dtype=bool)
        rules: list[Rule] = []
        while len(rules) < (self.max_rules or 0) and open_.any():
            Yo = Y * open_[:, None]
            counts = np.asarray(S.T @ Yo)  # [features, actions]: weighted states with f and each action
            best = self._best(counts, counts.sum(axis=1, keepdims=True), lam, None)
            if best is None:
                break
            if self.max_terms == 2:
                top = np.argsort(-(counts - lam * (counts.sum(axis=1, keepdims=True) - counts)).max(axis=1), kind="stable")[: self.beam]
                for f in top:
                    rows = S[:, f].toarray().ravel().astype(bool) & open_
                    if rows.sum() < self.min_support:
                        continue
                    both = np.asarray(S[rows].T @ Y[rows])  # f AND g
                    total_f = Y[rows].sum(axis=0)
                    for cand in (
                        self._best(both, both.sum(axis=1, keepdims=True), lam, (f, True)),
                        self._best(total_f - both, (total_f - both).sum(axis=1, keepdims=True), lam, (f, False)),
                    ):
                        if cand is not None and cand[0] > best[0]:
                            best = cand
            _, terms, action = best
            covered = open_.copy()
            for g, present in terms:
                covered &= B[:, g] == present
            if not covered.any():
                break
            open_ &= ~covered
            conditions = tuple(
                Condition((tests[g][0],), (1.0,), tests[g][1], None) if present else Condition((tests[g][0],), (1.0,), None, tests[g][1])
                for g, present in terms
            )
            rules.append(Rule(conditions, int(action), (), 0.0, 0.0))
        return rules

    def _best(self, counts: np.ndarray, totals: np.ndarray, lam: float, pair: tuple[int, bool] | None) -> tuple | None:
        """(score, [(feature, present), …], action) of the best row of ``counts`` [features, actions];
        with ``pair=(f, g_present)`` the rows are ``g`` and the condition is ``f AND [NOT] g``."""
        score = counts - lam * (totals - counts)
        score[totals[:, 0] < self.min_support] = -np.inf
        if pair is not None:
            score[pair[0]] = -np.inf  # f AND f is f
        g, a = np.unravel_index(int(np.argmax(score)), score.shape)
        if not score[g, a] > 0:
            return None
        terms = [(int(g), True)] if pair is None else [(pair[0], True), (int(g), pair[1])]
        return float(score[g, a]), terms, int(a)


def _boolean_tests(X: np.ndarray) -> tuple[np.ndarray, list[tuple[int, float]]]:
    """The tests rules are made of, as a boolean matrix and ``(feature, bound)`` pairs meaning
    ``x[feature] > bound``: ``> 0.5`` for a 0/1 feature (the keyword is present), and for any
    other feature its deciles (bounds in double that reproduce the float32 comparison, as trees do)."""
    columns, tests = [], []
    for j in range(X.shape[1]):
        x = X[:, j]
        if np.all((x == 0) | (x == 1)):
            cuts: Any = [np.float32(0.5)]
        else:
            cuts = np.unique(np.quantile(x, np.linspace(0.1, 0.9, 9)).astype(np.float32))
        for t in cuts:
            columns.append(x > t)
            tests.append((j, f32_split_bound(float(t))))
    return np.column_stack(columns), tests
