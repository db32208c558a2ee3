"""scikit-learn and SB3 habits on students (issue 23 #8): score and classes_ so cross_val_score
and a Pipeline work, rules()/to_text() on every readable family, an SB3-style policy, and the
search result's Pareto plot."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hybrid import as_policy
from hybrid.students import LinearRuleListStudent, RegressionTreeStudent, RuleListStudent, TreeStudent


@pytest.fixture(scope="module")
def states():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 4))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)


@pytest.mark.parametrize("student", [TreeStudent(max_depth=3), RuleListStudent(max_depth=3)], ids=type)
def test_discrete_students_score_and_cross_validate_like_classifiers(student, states):
    X, y = states
    scores = cross_val_score(make_pipeline(StandardScaler(), student), X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    fitted = student.fit(X, y)
    assert fitted.classes_.tolist() == [0, 1] and fitted.score(X, y) == pytest.approx((fitted.predict(X) == y).mean())
    P = np.eye(2)[y]
    assert fitted.score(X, P) == fitted.score(X, y)  # probabilities count by their most probable action


def test_a_continuous_student_scores_like_a_regressor(states):
    X, _ = states
    A = np.tanh(X[:, :1])
    student = RegressionTreeStudent(max_depth=4).fit(X, A)
    assert cross_val_score(RegressionTreeStudent(max_depth=4), X, A[:, 0], cv=3).min() > 0.8
    assert student.score(X, A) > 0.9 and not hasattr(student, "classes_")


@pytest.mark.parametrize(
    "student, action",
    [(TreeStudent(max_depth=2), "THEN right"), (RuleListStudent(max_depth=2), "THEN right"), (LinearRuleListStudent(max_rules=3), "push =")],
    ids=lambda s: type(s).__name__ if not isinstance(s, str) else "",
)
def test_every_readable_family_has_rules_and_to_text(student, action, states):
    X, y = states
    Y = y if student.action_kind == "discrete" else np.tanh(X[:, :1])
    names = ["left", "right"] if student.action_kind == "discrete" else ["push"]
    fitted = student.fit(X, Y, feature_names=["a", "b", "c", "d"], action_names=names)
    rules, text = fitted.rules(), fitted.to_text()
    assert rules and all(isinstance(r, str) for r in rules) and any(action in r for r in rules)
    assert "a" in text and text.count("\n") + 1 >= len(rules) - 1


def test_as_policy_gives_sb3s_predict_signature_in_a_real_environment(states):
    import gymnasium as gym

    from hybrid import collect, load_teacher

    teacher = load_teacher("CartPole-v1")
    data = collect("CartPole-v1", teacher, episodes=3, seed=0).dataset
    policy = as_policy(TreeStudent(max_depth=4).fit(data.X, data.P), seed=0)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    action, state = policy.predict(obs, state=None, episode_start=None, deterministic=True)
    assert state is None and env.action_space.contains(int(action))
    batch, _ = policy.predict(np.stack([obs, obs]), deterministic=True)
    assert batch.shape == (2,) and batch[0] == action
    sampled = {int(policy.predict(obs, deterministic=False)[0]) for _ in range(20)}
    assert sampled <= {0, 1}
    with pytest.raises(Exception, match="observation has 3 values"):
        policy.predict(obs[:3])
    env.close()


def test_the_result_plots_its_pareto_front(tmp_path):
    from auto_search import AutoDistill
    from hybrid.data.dataset import DistillDataset

    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    result = AutoDistill(families=("tree",), budget_s=30, n_jobs=1, verbose=0).fit(DistillDataset(X, np.eye(2)[(X[:, 0] > 0).astype(int)], ["l", "r"]))
    fig = result.plot_pareto(tmp_path / "front.png")
    assert (tmp_path / "front.png").stat().st_size > 1000 and fig.axes[0].get_xlabel() == "operations per decision (log scale)"
