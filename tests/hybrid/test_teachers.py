"""Teacher adapters: every kind of teacher gives validated probabilities and keeps its names."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from hybrid.errors import DataError, TeacherError
from hybrid.teachers.adapters import as_teacher
from hybrid.teachers.base import Teacher, state_weights
from hybrid.teachers.zoo import load_teacher


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# -- seed-style act() -------------------------------------------------------------------------
def test_seed_style_teacher_names_actions_in_first_seen_order(toy_teacher, toy_states):
    teacher = as_teacher(toy_teacher)
    P = teacher.predict_proba(toy_states)
    assert teacher.action_names == ("move_left", "move_right", "stay")
    assert P.dtype == np.float32 and P.shape == (200, 3)
    expected = [[toy_teacher.act(x)[a] for a in teacher.action_names] for x in toy_states]
    np.testing.assert_allclose(P, expected, rtol=1e-6)


def test_seed_style_names_stay_fixed_when_later_dicts_reorder_keys():
    calls = iter(range(10**6))

    class Shuffling:
        def act(self, state):
            if next(calls) % 2:
                return {"stay": 0.7, "move_left": 0.2, "move_right": 0.1}
            return {"move_left": 0.2, "move_right": 0.1, "stay": 0.7}

    teacher = as_teacher(Shuffling())
    P = teacher.predict_proba(np.zeros((4, 2)))
    assert teacher.action_names == ("move_left", "move_right", "stay")
    np.testing.assert_allclose(P, np.tile([0.2, 0.1, 0.7], (4, 1)), rtol=1e-6)


def test_seed_style_teacher_that_drops_an_action_is_refused_with_its_row():
    class Forgetful:
        def act(self, state):
            return {"a": 0.5, "b": 0.5} if state[0] < 3 else {"a": 1.0}

    with pytest.raises(TeacherError, match="row 3.*return every action"):
        as_teacher(Forgetful()).predict_proba(np.arange(5, dtype=float)[:, None])


def lambda_act(probs):
    class Fixed:
        def act(self, state):
            return dict(probs)

    return Fixed()


def test_given_action_names_order_the_columns():
    teacher = as_teacher(lambda_act({"x": 0.1, "y": 0.9}), action_names=["y", "x"])
    np.testing.assert_allclose(teacher.predict_proba(np.zeros((1, 1))), [[0.9, 0.1]], rtol=1e-6)


# -- batch callables and validation -----------------------------------------------------------
def test_batch_callable_gets_default_names_from_its_width():
    teacher = as_teacher(lambda X: np.full((len(X), 4), 0.25))
    assert teacher.predict(np.zeros((3, 2))).tolist() == [0, 0, 0]
    assert teacher.action_names == ("action_0", "action_1", "action_2", "action_3")


def test_action_names_before_any_call_say_how_to_name_them():
    with pytest.raises(TeacherError, match="pass action_names"):
        _ = as_teacher(lambda X: X).action_names


GOOD = np.array([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda P: P[:, :1], r"shape \(3, 1\).*expected \[3, 2\]"),
        (lambda P: P[:2], r"shape \(2, 2\)"),
        (lambda P: np.where(np.arange(3)[:, None] == 1, np.nan, P), "NaN or infinity at row 1"),
        (lambda P: np.where(np.arange(3)[:, None] == 2, np.inf, P), "NaN or infinity at row 2"),
        (lambda P: P * np.array([[1, 1], [1, 1], [-1, 1]]), "negative probability at row 2"),
        (lambda P: P * np.array([[1], [1.001], [1]]), r"row 1 sums to 1\.001.*softmax the logits"),
        (lambda P: P.astype(str).astype(object) + "x", "non-numeric"),
    ],
)
def test_bad_teacher_output_names_the_row_and_the_fix(bad, match):
    teacher = as_teacher(lambda X: bad(GOOD), action_names=["left", "right"])
    with pytest.raises(TeacherError, match=match):
        teacher.predict_proba(np.zeros((3, 2)))


def test_rows_within_tolerance_are_accepted():
    teacher = as_teacher(lambda X: GOOD * np.array([[1], [1.00005], [0.99995]]), action_names=["l", "r"])
    assert teacher.predict_proba(np.zeros((3, 2))).shape == (3, 2)


def test_states_of_the_wrong_form_are_data_errors():
    teacher = as_teacher(load_teacher("CartPole-v1"))
    with pytest.raises(DataError, match="takes 4"):
        teacher.predict_proba(np.zeros((2, 3)))
    with pytest.raises(DataError, match="2-D"):
        teacher.predict_proba(np.zeros((2, 2, 4)))
    with pytest.raises(DataError, match="state 1 holds NaN"):
        teacher.predict_proba([[0, 0, 0, 0], [0, np.nan, 0, 0]])


def test_an_object_that_is_no_teacher_is_refused():
    with pytest.raises(TeacherError, match="cannot use a int as a teacher"):
        as_teacher(3)


# -- torch ------------------------------------------------------------------------------------
def small_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))


def test_torch_module_gives_softmax_of_logits_and_counts_multiply_adds():
    net = small_net()
    teacher = as_teacher(net, action_names=["a", "b", "c"])
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    logits = net(torch.from_numpy(X)).detach().numpy()
    np.testing.assert_allclose(teacher.predict_proba(X), softmax(logits), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(teacher.log_proba(X), np.log(softmax(logits)), rtol=1e-4, atol=1e-5)
    assert teacher.ops_per_decision == 4 * 16 + 16 * 3
    assert teacher.q_values(X) is None


def test_torch_teacher_identity_is_the_hash_of_its_weights():
    a, b = as_teacher(small_net(0)), as_teacher(small_net(0))
    assert a.content_hash == b.content_hash and a.content_hash.startswith("sha256:")
    assert as_teacher(small_net(1)).content_hash != a.content_hash


def test_torch_module_returning_no_logits_is_refused():
    with pytest.raises(TeacherError, match="must return logits"):
        as_teacher(nn.Flatten(0)).predict_proba(np.zeros((2, 3)))


def test_zoo_teacher_keeps_its_names_cost_and_file_hash():
    zoo = load_teacher("CartPole-v1")
    teacher = as_teacher(zoo)
    assert list(teacher.action_names) == zoo.action_names and list(teacher.feature_names) == zoo.feature_names
    assert teacher.ops_per_decision == zoo.ops_per_decision
    assert teacher.content_hash == zoo.content_hash
    X = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    np.testing.assert_allclose(teacher.log_proba(X), zoo.log_proba(X))


def test_a_fitted_student_can_teach_with_its_cost_and_identity(toy_teacher, toy_states):
    from hybrid.students.tree import TreeStudent

    P = as_teacher(toy_teacher).predict_proba(toy_states)
    student = TreeStudent(max_depth=3).fit(toy_states, P)
    teacher = as_teacher(student, action_names=["move_left", "move_right", "stay"])
    np.testing.assert_array_equal(teacher.predict(toy_states), student.predict(toy_states))
    assert teacher.ops_per_decision == student.cost().ops_per_decision
    assert teacher.content_hash == student.content_hash
    assert as_teacher(TreeStudent(), action_names=["a", "b"]).ops_per_decision is None  # unfitted: no cost yet


def test_as_teacher_of_a_teacher_is_the_same_object():
    teacher = as_teacher(small_net())
    assert as_teacher(teacher) is teacher and isinstance(teacher, Teacher)


# -- stable-baselines3 ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cartpole_states() -> np.ndarray:
    return np.random.default_rng(2).normal(scale=0.5, size=(64, 4)).astype(np.float32)


@pytest.mark.parametrize("algo", ["PPO", "A2C"])
def test_sb3_policy_gradient_teacher_agrees_with_its_deterministic_action(algo, cartpole_states):
    import stable_baselines3

    model = getattr(stable_baselines3, algo)("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
    teacher = as_teacher(model, action_names=["push_left", "push_right"])
    P = teacher.predict_proba(cartpole_states)
    actions, _ = model.predict(cartpole_states, deterministic=True)
    np.testing.assert_array_equal(P.argmax(axis=1), actions)
    np.testing.assert_allclose(np.exp(teacher.log_proba(cartpole_states)), P, rtol=1e-5)
    assert teacher.q_values(cartpole_states) is None
    assert teacher.ops_per_decision == 4 * 64 + 64 * 64 + 64 * 2  # policy net and action head, not the value net


def test_sb3_dqn_teacher_is_a_tempered_softmax_of_its_q_values(cartpole_states):
    from stable_baselines3 import DQN

    model = DQN("MlpPolicy", "CartPole-v1", seed=0, device="cpu", buffer_size=100, learning_starts=0)
    warm, cold = as_teacher(model, temperature=1.0), as_teacher(model, temperature=0.01)
    Q = warm.q_values(cartpole_states)
    assert Q.shape == (64, 2)
    np.testing.assert_allclose(warm.predict_proba(cartpole_states), softmax(Q), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(cold.predict_proba(cartpole_states), softmax(Q / 0.01), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(Q.argmax(axis=1), model.predict(cartpole_states, deterministic=True)[0])
    with pytest.raises(TeacherError, match="temperature must be > 0"):
        as_teacher(model, temperature=0.0)


def test_sb3_is_imported_only_for_sb3_models():
    code = (
        "import sys, numpy as np; from hybrid.teachers.adapters import as_teacher; "
        "as_teacher(lambda X: np.full((len(X), 2), .5)).predict_proba(np.zeros((1, 3))); "
        "print('stable_baselines3' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- VIPER state weights ----------------------------------------------------------------------
def test_margin_weights_are_the_top_two_gap_normalised_to_mean_one():
    P = np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05], [0.4, 0.4, 0.2]], dtype=np.float32)
    teacher = as_teacher(lambda X: P, action_names=list("abc"))
    weights, source = state_weights(teacher, np.zeros((3, 1)), P, "margin")
    gap = np.array([0.2, 0.85, 0.0])
    np.testing.assert_allclose(weights, gap / gap.mean(), rtol=1e-5)
    assert source == "margin"


def test_q_weighting_prefers_q_values_then_log_probabilities_then_the_margin(cartpole_states):
    from stable_baselines3 import DQN

    dqn = as_teacher(DQN("MlpPolicy", "CartPole-v1", seed=0, device="cpu", buffer_size=100))
    torch_teacher = as_teacher(small_net(), action_names=list("abc"))
    plain = as_teacher(lambda X: np.tile([0.7, 0.3], (len(X), 1)) + X[:, :1] * [0.1, -0.1], action_names=["a", "b"])
    X4 = cartpole_states
    w, source = state_weights(dqn, X4, dqn.predict_proba(X4), "q")
    Q = dqn.q_values(X4)
    gap = Q.max(axis=1) - Q.min(axis=1)
    assert source == "q_values"
    np.testing.assert_allclose(w, gap / gap.mean(), rtol=1e-4)
    assert state_weights(torch_teacher, X4, torch_teacher.predict_proba(X4), "q")[1] == "log_proba"
    X1 = np.linspace(-1, 1, 10)[:, None]
    assert state_weights(plain, X1, plain.predict_proba(X1), "q")[1] == "margin"


def test_unknown_weighting_and_all_zero_gaps_are_refused():
    P = np.full((4, 2), 0.5, dtype=np.float32)
    teacher = as_teacher(lambda X: P, action_names=["a", "b"])
    with pytest.raises(DataError, match="'q' or 'margin'"):
        state_weights(teacher, np.zeros((4, 1)), P, "viper")
    with pytest.raises(DataError, match="gap is 0 on every state"):
        state_weights(teacher, np.zeros((4, 1)), P, "margin")


def test_seed_style_act_with_integer_keys_names_them_as_text():
    """Issue 23 #5: ``{0: 0.5, 1: 0.5}`` is a valid answer, not a mismatch of ['0', '1'] with ['0', '1']."""

    class Seed:
        def act(self, state):
            return {0: 0.25, 1: 0.75} if state[0] > 0 else {1: 1.0, 0: 0.0}

    teacher = as_teacher(Seed())
    P = teacher.predict_proba(np.array([[1.0, 0.0], [-1.0, 0.0]]))
    assert list(teacher.action_names) == ["0", "1"]
    assert P.tolist() == [[0.25, 0.75], [0.0, 1.0]]
    with pytest.raises(TeacherError, match="same action twice"):
        as_teacher(type("Twice", (), {"act": lambda self, s: {0: 0.5, "0": 0.5}})()).predict_proba(np.zeros((1, 2)))
