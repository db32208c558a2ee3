"""Shared fixtures: small teacher datasets (a random linear teacher over Gaussian states)."""

from __future__ import annotations

import numpy as np
import pytest


def teacher_dataset(n: int = 1500, d: int = 4, k: int = 3, seed: int = 0):
    """States and the softmax probabilities of a random linear teacher, as a DistillDataset."""
    from hybrid.data.dataset import DistillDataset

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    logits = 3.0 * X @ rng.normal(size=(d, k))
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    return DistillDataset(X, P.astype(np.float32), [f"a{i}" for i in range(k)], feature_names=[f"x{j}" for j in range(d)])


@pytest.fixture(scope="session")
def small_dataset():
    return teacher_dataset()


@pytest.fixture(scope="session")
def make_dataset():
    return teacher_dataset


@pytest.fixture(scope="session")
def fast():
    """Options for small, fast searches: tiny halving levels, few epochs, no progress bar."""
    return {"min_rung_states": 300, "max_epochs": 4, "verbose": 0}
