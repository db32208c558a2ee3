"""LinearStudent: multinomial logistic regression on the teacher's choices, fitted by scikit-learn.

The cheapest learned model over many sparse features (a featurizer's word n-grams): one
multiply-add per feature and action. scikit-learn's L-BFGS fits it on all training states in
seconds, where the torch MLP family reaches the same softmax regression only through its
successive-halving rungs. It is stored, run, costed and exported exactly as an
:class:`~hybrid.students.mlp.MLPStudent` without hidden layers (one weight matrix and a bias),
so its probabilities — the cascade's confidence — are a softmax of its logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import DataError, ParameterError
from hybrid.students._base import register
from hybrid.students.mlp import MLPStudent


@register
class LinearStudent(MLPStudent):
    """Softmax regression on the teacher's top action (L2 strength ``1 / C``), weighted by ``sample_weight``."""

    family = "linear"
    expensive = False  # one L-BFGS fit on all training states, no successive halving
    searched_by_default = False  # added on record states (auto_search.space.default_families_for)
    search_order = 12  # after the MLP, before keyword lists and tree-derived rule lists
    colour = "#e6ab02"
    activation = "relu"  # no hidden layer: never applied, read by the shared MLP code
    hidden_sizes = ()

    def __init__(self, C: float = 1.0, max_iter: int = 300, random_state: int = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Softmax regression by L-BFGS on all training states (n-gram features), strongest L2 first."""
        return [{"C": c} for c in (0.1, 1.0, 10.0)]

    def _check_params(self) -> None:
        if not self.C > 0:
            raise ParameterError(f"C must be > 0 (inverse L2 strength); got {self.C!r}.")

    def _fit(self, X: np.ndarray, P: np.ndarray, w: np.ndarray | None) -> None:
        """One L-BFGS fit of scikit-learn's logistic regression on the teacher's top actions."""
        from sklearn.linear_model import LogisticRegression

        labels = P.argmax(axis=1)
        k = P.shape[1]
        if np.unique(labels).size < 2:
            raise DataError("the teacher chose one action on every state; a linear student needs at least two.")
        model = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.random_state)
        if np.count_nonzero(X) < 0.1 * X.size:  # n-gram features are mostly zero: sparse products are many times faster
            from scipy import sparse

            model.fit(sparse.csr_matrix(X), labels, sample_weight=w)
        else:
            model.fit(X, labels, sample_weight=w)
        W = np.zeros((k, X.shape[1]))
        b = np.full(k, -30.0)  # actions the teacher never chose here: probability ≈ e^-30 of the rest
        if model.coef_.shape[0] == 1:  # two actions: sigmoid(z) is softmax([0, z])
            W[model.classes_[1]], b[model.classes_[0]], b[model.classes_[1]] = model.coef_[0], 0.0, model.intercept_[0]
        else:
            W[model.classes_], b[model.classes_] = model.coef_, model.intercept_
        self.weights_, self.biases_ = [W], [b]
        self.best_epoch_, self.epochs_run_, self.val_fidelity_ = 0, int(np.max(model.n_iter_)), None
