"""The compiled batch runtime decides like ``predict`` for every family, caches by content, checks
its input like ``predict``, and falls back to numpy (with a notice) where no compiler exists."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from test_exports import C_CASES, _bounds

from hybrid.errors import DataError, ExportError
from hybrid.exports import export_c
from hybrid.exports.runtime import compile_student
from hybrid.students import HybridStudent, MLPStudent, RuleListStudent, TreeStudent
from hybrid.teachers.zoo import load_teacher

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler (cc)")
N_STATES = 10_000


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_DISTILL_CACHE", str(tmp_path / "cache"))


# families with a C export (a toy family another test file registers has none)
@pytest.mark.parametrize("case", C_CASES, ids=lambda c: f"{c[0]}{c[1] or ''}")
def test_compiled_batch_decides_like_predict(case, cartpole_split, fast_student, probe):
    family, overrides = case
    d = cartpole_split
    student = fast_student(family, **overrides).fit(d["X"], d["P"])
    states = probe(d["X"], _bounds(student), N_STATES, seed=21)  # a tenth exactly on split bounds
    compiled = compile_student(student)
    assert compiled.compiled
    decided = compiled.predict(states)
    assert decided.dtype == np.int32
    np.testing.assert_array_equal(decided, student.predict(states))


def test_three_actions_tanh_nets_and_a_rule_list_without_rules_compile_too(three_actions):
    X, P = three_actions
    for student in (
        TreeStudent(max_depth=6),
        RuleListStudent(max_depth=3, oblique=True),
        RuleListStudent(max_depth=3, max_rules=0),
        MLPStudent(hidden_sizes=(8, 8), activation="tanh", epochs=5),
    ):
        student.fit(X, P)
        np.testing.assert_array_equal(compile_student(student).predict(X), student.predict(X))


def test_a_cascade_routes_in_c_and_asks_its_teacher_only_for_what_the_rules_leave(cartpole_split, probe):
    d = cartpole_split
    teacher = load_teacher("CartPole-v1")
    calls: list[int] = []

    class CountingTeacher:
        ops_per_decision = teacher.ops_per_decision
        content_hash = teacher.content_hash

        def predict_proba(self, X):
            calls.append(len(X))
            return teacher.predict_proba(X)

    cascade = HybridStudent(tau=0.8, rule_depth=3, fallback="teacher").fit(d["X"], d["P"], teacher=CountingTeacher())
    states = probe(d["X"], [], N_STATES, seed=22)
    expected = cascade.predict(states)
    calls.clear()
    np.testing.assert_array_equal(compile_student(cascade).predict(states), expected)
    uncovered = int((~cascade._decided(states)).sum())
    assert 0 < uncovered < N_STATES and calls == [uncovered]


def test_the_same_student_compiles_once_and_another_student_gets_its_own_library(cartpole_split, tmp_path):
    d = cartpole_split
    tree = TreeStudent(max_depth=4).fit(d["X"], d["P"])
    compile_student(tree)
    compile_student(TreeStudent.from_dict(tree.to_dict()))
    libraries = list((tmp_path / "cache").glob("*.so"))
    assert len(libraries) == 1 and libraries[0].name.startswith(tree.content_hash.split(":")[1][:16])
    compile_student(TreeStudent(max_depth=5).fit(d["X"], d["P"]))
    assert len(list((tmp_path / "cache").glob("*.so"))) == 2


@pytest.mark.parametrize("family", ["tree", "mlp", "hybrid"])
def test_a_state_with_nan_or_infinity_is_refused_like_predict_refuses_it(family, cartpole_split, fast_student):
    d = cartpole_split
    compiled = compile_student(fast_student(family).fit(d["X"], d["P"]))
    states = np.array(d["X_test"][:300])
    for bad in (np.nan, np.inf, -np.inf):
        states[137, 2] = bad
        with pytest.raises(DataError, match=r"first at row 137, feature 2"):
            compiled.predict(states)


def test_bad_shapes_and_outputs_are_refused_like_predict_refuses_them(cartpole_split):
    d = cartpole_split
    compiled = compile_student(TreeStudent(max_depth=4).fit(d["X"], d["P"]))
    with pytest.raises(DataError, match=r"has 3 features but the student was fitted on 4"):
        compiled.predict(d["X_test"][:10, :3])
    with pytest.raises(DataError, match=r"out must be a contiguous int32 array of shape \(10,\)"):
        compiled.predict(d["X_test"][:10], out=np.empty(10, dtype=np.int64))
    # float64 and list input go through the same checks as predict, then decide the same
    np.testing.assert_array_equal(compiled.predict(d["X_test"][:50].astype(np.float64).tolist()), compiled.student.predict(d["X_test"][:50]))


def test_without_a_compiler_the_runtime_says_so_and_decides_with_numpy(cartpole_split, tmp_path, monkeypatch):
    d = cartpole_split
    student = RuleListStudent(max_depth=3).fit(d["X"], d["P"])
    empty = tmp_path / "no-tools"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("CC", raising=False)
    with pytest.warns(RuntimeWarning, match="no C compiler found"):
        fallback = compile_student(student)
    assert not fallback.compiled
    np.testing.assert_array_equal(fallback.predict(d["X_test"]), student.predict(d["X_test"]))


def test_a_compiler_that_fails_is_reported_with_its_message(cartpole_split):
    d = cartpole_split
    with pytest.raises(ExportError, match="could not compile"):
        compile_student(TreeStudent(max_depth=2).fit(d["X"], d["P"]), compiler=shutil.which("false"))


def test_an_action_space_without_a_batch_loop_keeps_its_header_and_is_refused_by_name(cartpole_split):
    from hybrid.spaces import BoxActions

    class BoxTree(TreeStudent):  # stands for a family of a kind of action space without a batch entry yet
        def _fitted_space(self):
            return BoxActions(["u"], [-1.0], [1.0])

    student = BoxTree(max_depth=2).fit(cartpole_split["X"], cartpole_split["P"])
    assert export_c(student) == student.c_source()
    with pytest.raises(ExportError, match=r"acts in BoxActions\(\['u'\].*whose kind has no C batch entry yet; kinds with one: \['discrete'\]"):
        compile_student(student)
