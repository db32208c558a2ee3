"""AutoDistill's ``weighting`` option: VIPER weights from the teacher's values on the training rows."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from auto_search.config import SearchConfig
from auto_search.errors import SearchConfigError
from auto_search.evaluate import split_dataset
from auto_search.search import AutoDistill
from auto_search.shipping import viper_weighted
from hybrid import DistillDataset, collect
from hybrid.teachers.base import ContinuousTeacher

BOX = gym.spaces.Box(-2.0, 2.0, shape=(1,), dtype=np.float32)


def _act(X: np.ndarray) -> np.ndarray:
    return np.clip(-8.0 * np.arctan2(X[:, 1], X[:, 0])[:, None] - 1.5 * X[:, 2:3], -2.0, 2.0)


def _critic(X: np.ndarray, A: np.ndarray) -> np.ndarray:
    return -(1.0 + X[:, 2] ** 2) * (A[:, 0] - _act(X)[:, 0]) ** 2  # the action matters more when the pendulum spins


@pytest.fixture(scope="module")
def teacher() -> ContinuousTeacher:
    return ContinuousTeacher(_act, BOX.low, BOX.high, ["torque"], critic_fn=_critic)


def test_a_bad_weighting_or_one_without_a_teacher_is_refused(teacher: ContinuousTeacher) -> None:
    with pytest.raises(SearchConfigError, match="weighting must be one of"):
        SearchConfig(weighting="viper")
    X = np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32)
    data = DistillDataset(X, _act(X), ["torque"], action_kind="continuous", action_low=[-2], action_high=[2])
    with pytest.raises(SearchConfigError, match="pass env=… and a one-agent teacher"):
        AutoDistill(weighting="q", budget_s=5, verbose=0, families=("regression_tree",)).fit(data)
    assert "weighting" not in SearchConfig().to_dict()  # left out at its default: older configs hash unchanged


def test_the_training_rows_are_weighted_by_the_critic_and_the_held_out_rows_are_not(teacher: ContinuousTeacher) -> None:
    dataset = collect("Pendulum-v1", teacher, episodes=2, seed=0).dataset
    data, _ = split_dataset(dataset, 0.2, 0)
    weighted = viper_weighted(data, SearchConfig(weighting="q"), teacher)
    assert data.w is None and weighted.w_val is data.w_val
    assert weighted.w is not None and weighted.w.mean() == pytest.approx(1.0, rel=1e-5)
    spin = np.abs(data.X[:, 2])
    assert weighted.w[spin > np.median(spin)].mean() > weighted.w[spin <= np.median(spin)].mean()
    assert viper_weighted(data, SearchConfig(), teacher) is data


@pytest.mark.slow
def test_a_weighted_search_runs_cloning_and_dagger_on_the_weights(teacher: ContinuousTeacher) -> None:
    dataset = collect("Pendulum-v1", teacher, episodes=3, seed=0).dataset
    common = dict(
        budget_s=20,
        n_jobs=1,
        env="Pendulum-v1",
        teacher=teacher,
        families=("regression_tree",),
        closed_loop_episodes=2,
        closed_loop_max_episodes=4,
        dagger_iterations=1,
        verbose=0,
    )
    plain = AutoDistill(**common).fit(dataset)
    weighted = AutoDistill(weighting="q", **common).fit(dataset)
    assert weighted.config.weighting == "q" and weighted.config.config_hash != plain.config.config_hash
    assert weighted.closed_loop["dagger"]["rounds_run"] == 1
    by_params = {repr(sorted(c.params.items())): c.fidelity for c in plain.candidates}
    changed = [c for c in weighted.candidates if by_params.get(repr(sorted(c.params.items()))) not in (None, c.fidelity)]
    assert changed  # the same trees fitted on weighted rows differ
