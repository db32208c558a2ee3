"""Shared data for the student tests: CartPole teacher states and a small synthetic problem."""

from __future__ import annotations

import numpy as np
import pytest
from _cartpole_data import cartpole_teacher_data

from hybrid.teachers.zoo import load_teacher


@pytest.fixture(scope="session")
def cartpole_split():
    """10k training and 6k held-out states (32 episodes in all) of the committed CartPole teacher,
    with its feature and action names. Held-out states come from later episodes, not a shuffle,
    so fidelity is measured on episodes the student never saw."""
    X, P = cartpole_teacher_data(16_000, 0)
    teacher = load_teacher("CartPole-v1")
    return {
        "X": X[:10_000],
        "P": P[:10_000],
        "X_test": X[10_000:],
        "P_test": P[10_000:],
        "feature_names": list(teacher.feature_names),
        "action_names": list(teacher.action_names),
    }


@pytest.fixture(scope="session")
def three_actions():
    """600 states of 3 features and a 3-action teacher whose probabilities are a softmax of a
    fixed linear map: small enough to fit every family in well under a second."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3)).astype(np.float32)
    logits = X @ np.array([[2.0, -1.0, 0.0], [0.0, 1.5, -1.5], [1.0, 0.0, 1.0]]) + np.array([0.0, 0.2, -0.2])
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P = (P / P.sum(axis=1, keepdims=True)).astype(np.float32)
    X.setflags(write=False)
    P.setflags(write=False)
    return X, P


@pytest.fixture(scope="session")
def two_dimensions():
    """600 states of 3 features and a smooth, saturating two-dimensional controller's actions
    (bounds ``[-2, 2]`` and ``[-1, 1]``): the continuous counterpart of ``three_actions``."""
    X = np.random.default_rng(0).uniform(-1, 1, size=(600, 3)).astype(np.float32)
    A = np.stack([-3.0 * X[:, 0] + 1.5 * X[:, 1] * X[:, 2], np.sin(2.0 * X[:, 2]) - 0.5 * X[:, 0]], axis=1)
    A = np.clip(A, [-2.0, -1.0], [2.0, 1.0])
    X.setflags(write=False)
    A.setflags(write=False)
    return X, A


@pytest.fixture(scope="session")
def probe():
    """The ``probe_states`` function, for tests that compare exports with ``predict``."""
    return _probe_states


def _probe_states(X: np.ndarray, bounds: list[tuple[int, float]], n: int, seed: int) -> np.ndarray:
    """``n`` float32 states spread around the training states (a random training state plus noise
    of one standard deviation), a tenth of them put exactly on a split bound of the student."""
    rng = np.random.default_rng(seed)
    states = X[rng.integers(len(X), size=n)] + rng.normal(size=(n, X.shape[1])) * X.std(axis=0)
    for row in rng.choice(n, size=n // 10, replace=False) if bounds else []:
        feature, value = bounds[rng.integers(len(bounds))]
        states[row, feature] = value
    return states.astype(np.float32)


# Small, fast hyperparameters per family for the common tests; a family missing here is
# tested with its defaults, so a newly registered family joins the common tests unchanged.
FAST_PARAMS = {
    "tree": {"max_depth": 5},
    "rules": {"max_depth": 3, "oblique": True},
    "mlp": {"hidden_sizes": (4,), "epochs": 3},
    "hybrid": {"tau": 0.8, "rule_depth": 3, "hidden_sizes": (4,), "epochs": 3},
    "mlp_regressor": {"hidden_sizes": (8,), "epochs": 30},
    "regression_tree": {"max_depth": 5},
    "linear_rules": {"max_rules": 8},
    "hybrid_regressor": {"max_rules": 4, "hidden_sizes": (8,), "epochs": 30},
}


@pytest.fixture(scope="session")
def fast_student():
    """``fast_student(family, **overrides)`` -> an unfitted student with fast hyperparameters."""
    from hybrid.students import registered_families

    def make(family: str, **overrides):
        return registered_families()[family](**{**FAST_PARAMS.get(family, {}), **overrides})

    return make


@pytest.fixture
def c_decide(tmp_path):
    """Compile a student's C header with the system's ``cc`` into a small program and return a
    function that runs it on states (one per line) and gives the decisions it prints."""
    import shutil
    import subprocess

    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler (cc)")

    def run(header: str, states: np.ndarray) -> np.ndarray:
        (tmp_path / "student.h").write_text(header)
        d = states.shape[1]
        (tmp_path / "main.c").write_text(
            '#include <stdio.h>\n#include "student.h"\n'
            f"int main(void) {{ double s[{d}]; int i;\n"
            '  for (;;) { for (i = 0; i < %d; i++) if (scanf("%%lf", s + i) != 1) return 0;\n' % d + '    printf("%d\\n", decide(s)); }\n}\n'
        )
        subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Werror", "-o", str(tmp_path / "main"), str(tmp_path / "main.c"), "-lm"], check=True)
        text = "\n".join(" ".join(repr(v) for v in row) for row in states.astype(np.float64).tolist())
        out = subprocess.run([str(tmp_path / "main")], input=text, capture_output=True, text=True, check=True).stdout
        return np.array(out.split(), dtype=int)

    return run
