"""A mixture of teachers is a teacher: averaging, gates, per-row labeller, and refusals before work."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid import TeacherError, as_teacher, collect, mixture_teacher
from hybrid.teachers.mixture import AVERAGED, MixtureTeacher


def _fixed(p: list[float], name: str):
    """A teacher answering ``p`` in every state (identity ``name``)."""
    t = as_teacher(lambda X: np.tile(np.asarray(p, dtype=np.float32), (len(X), 1)), ["a", "b", "c"])
    t.identity = name
    return t


def _explodes(X):
    raise AssertionError("the teacher was called, but the bad input should have been refused first")


X = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)


def test_average_is_the_weighted_mean_and_a_valid_teacher():
    a, b = _fixed([0.8, 0.1, 0.1], "A"), _fixed([0.0, 0.5, 0.5], "B")
    m = mixture_teacher([a, b], weights=[0.25, 0.75])
    assert isinstance(m, MixtureTeacher) and m.action_names == ("a", "b", "c")
    np.testing.assert_allclose(m.predict_proba(X)[0], [0.2, 0.4, 0.4], atol=1e-6)
    assert (m.labelled_by(X) == AVERAGED).all()
    assert m.content_hash != mixture_teacher([a, b]).content_hash  # other weights, other teacher


def test_confident_gate_answers_with_the_surest_teacher():
    a, b = _fixed([0.6, 0.2, 0.2], "A"), _fixed([0.05, 0.9, 0.05], "B")
    m = mixture_teacher([a, b], gate="confident")
    assert (m.labelled_by(X) == 1).all()
    np.testing.assert_allclose(m.predict_proba(X), b.predict_proba(X))


def test_value_gate_uses_q_values_or_a_critic_and_refuses_teachers_without():
    class Critic:
        action_names = ("a", "b", "c")

        def __init__(self, p, v):
            self.p, self.v = p, v

        def predict_proba(self, X):
            return np.tile(self.p, (len(X), 1))

        def value(self, X):
            return np.full(len(X), self.v) + X[:, 0]

    low, high = Critic([1.0, 0.0, 0.0], 0.0), Critic([0.0, 0.0, 1.0], 0.5)
    m = mixture_teacher([low, high], gate="value")
    assert (m.labelled_by(np.zeros((3, 2), np.float32)) == 1).all()
    with pytest.raises(TeacherError, match="gate='confident'"):
        mixture_teacher([_fixed([1, 0, 0], "A"), _fixed([0, 1, 0], "B")], gate="value")


def test_user_gate_picks_per_state_and_a_bad_gate_answer_is_named():
    a, b = _fixed([1, 0, 0], "A"), _fixed([0, 1, 0], "B")
    m = mixture_teacher([a, b], gate=lambda X, ts: (X[:, 0] > 0).astype(int))
    assert (m.predict(X) == (X[:, 0] > 0).astype(int)).all()
    assert "callable:" in m.identity
    bad = mixture_teacher([a, b], gate=lambda X, ts: np.full(len(X), 5))
    with pytest.raises(TeacherError, match="one teacher index"):
        bad.predict_proba(X)


def test_bad_input_fails_before_any_teacher_is_called():
    ok = as_teacher(_explodes, ["a", "b", "c"])
    other = as_teacher(_explodes, ["left", "right"])
    with pytest.raises(TeacherError, match="same action set"):
        mixture_teacher([ok, other])
    with pytest.raises(TeacherError, match="sum to 1.1, not 1; divide them by their sum"):
        mixture_teacher([ok, as_teacher(_explodes, ["a", "b", "c"])], weights=[0.5, 0.6])
    with pytest.raises(TeacherError, match="at least two"):
        mixture_teacher([ok])
    with pytest.raises(TeacherError, match="unknown gate"):
        mixture_teacher([ok, ok], gate="loudest")
    with pytest.raises(TeacherError, match="weights apply to gate='average'"):
        mixture_teacher([ok, ok], gate="confident", weights=[0.5, 0.5])


def test_a_mixture_collects_like_any_teacher(line_world, toy_teacher):
    class Lazy:
        action_names = tuple(toy_teacher.actions)

        def predict_proba(self, X):
            return np.tile([0.1, 0.1, 0.8], (len(X), 1))

    with pytest.raises(TeacherError, match=r"as_teacher\(t, action_names"):
        mixture_teacher([toy_teacher, Lazy()])  # a seed-style act() names its actions only when first called
    m = mixture_teacher([as_teacher(toy_teacher, toy_teacher.actions), Lazy()], gate="confident")
    rollouts = collect(line_world, m, episodes=2, seed=0)
    assert len(rollouts.dataset) == 40 and rollouts.dataset.action_names == tuple(toy_teacher.actions)


def test_continuous_teachers_mix_by_averaging_actions():
    import gymnasium as gym

    box = gym.spaces.Box(-1.0, 1.0, shape=(1,))
    a = as_teacher(lambda X: np.full((len(X), 1), 0.5), ["force"], action_space=box)
    b = as_teacher(lambda X: np.full((len(X), 1), -0.1), ["force"], action_space=box)
    m = mixture_teacher([a, b], weights=[0.5, 0.5], action_space=box)
    np.testing.assert_allclose(m.predict(X), 0.2, atol=1e-6)
    with pytest.raises(TeacherError, match="gate='average'"):
        mixture_teacher([a, b], gate="confident", action_space=box)
