"""Exports decide like ``predict``: the Python module imported fresh from a file, the C header
compiled with the system's ``cc``; 10k states around the training data, some on split bounds."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from hybrid.errors import ExportError
from hybrid.exports import export_c, export_python
from hybrid.students import Student, registered_families
from hybrid.students import tree as tree_module
from hybrid.students.rules import RuleListStudent
from hybrid.students.tree import TreeStudent

N_STATES = 10_000
# (family, overrides of the fast parameters): every registered family once, plus the export
# paths that differ within a family (deep trees; pruned, axis-aligned and simplified rule lists)
# the discrete families this package ships (test files may register toy families of their own;
# the continuous ones are checked in tests/students/test_continuous_students.py)
SHIPPED = {name: cls for name, cls in registered_families(action_kind="discrete").items() if cls.__module__.startswith("hybrid.")}
CASES = [(family, {}) for family in sorted(SHIPPED)] + [
    ("tree", {"max_depth": 8}),
    ("tree", {"max_depth": None, "min_samples_leaf": 2}),
    ("rules", {"max_depth": 6, "oblique": False}),
    ("rules", {"max_depth": 4, "max_rules": 3}),
    ("rules", {"max_depth": 5, "simplify": True}),
]
PY_CASES = [c for c in CASES if hasattr(SHIPPED[c[0]], "python_source")]
C_CASES = [c for c in CASES if hasattr(SHIPPED[c[0]], "c_source")]


def _bounds(student: Student) -> list[tuple[int, float]]:
    """(feature, value) pairs that sit exactly on the student's axis-aligned split bounds."""
    if isinstance(student, TreeStudent):
        inner = student.feature_ >= 0
        return list(zip(student.feature_[inner], student.threshold_[inner]))
    if isinstance(student, RuleListStudent):
        return [(c.features[0], b) for r in student.rules_ for c in r.conditions if not c.oblique for b in (c.lower, c.upper) if b is not None]
    return []


def _fitted_and_states(case, cartpole_split, fast_student, probe):
    family, overrides = case
    d = cartpole_split
    student = fast_student(family, **overrides).fit(d["X"], d["P"])
    return student, probe(d["X"], _bounds(student), N_STATES, seed=11)


def _import_fresh(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("case", PY_CASES, ids=lambda c: f"{c[0]}{c[1] or ''}")
def test_python_module_imported_fresh_decides_like_predict(case, cartpole_split, fast_student, probe, tmp_path):
    student, states = _fitted_and_states(case, cartpole_split, fast_student, probe)
    path = export_python(student, tmp_path / "student.py")
    module = _import_fresh(path, f"exported_{case[0]}")
    decided = np.array([module.decide(row) for row in states.tolist()])
    np.testing.assert_array_equal(decided, student.predict(states))
    assert module.CONTENT_HASH == student.content_hash
    assert len(module.ACTION_NAMES) == student.n_actions_
    assert export_python(student) == (tmp_path / "student.py").read_text()


def test_python_module_uses_the_standard_library_only(cartpole_split, fast_student, tmp_path):
    d = cartpole_split
    source = export_python(fast_student("rules").fit(d["X"], d["P"], action_names=d["action_names"]))
    (tmp_path / "student.py").write_text(source)
    probe_script = (
        "import sys, student; student.decide([0.0, 0.0, 0.0, 0.0]); print(sorted(m for m in ('numpy', 'sklearn', 'torch', 'hybrid') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe_script], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert "ACTION_NAMES = ('push_left', 'push_right')" in source


@pytest.mark.parametrize("case", C_CASES, ids=lambda c: f"{c[0]}{c[1] or ''}")
def test_c_header_compiled_with_cc_decides_like_predict(case, cartpole_split, fast_student, probe, c_decide, tmp_path):
    student, states = _fitted_and_states(case, cartpole_split, fast_student, probe)
    export_c(student, tmp_path / "exported.h")
    header = (tmp_path / "exported.h").read_text()
    np.testing.assert_array_equal(c_decide(header, states), student.predict(states))


def test_trees_too_deep_for_nested_ifs_export_as_a_table_walk_that_decides_like_predict(cartpole_split, probe, tmp_path, monkeypatch):
    """Python refuses ~100 nested blocks; past ``_PY_NESTING_MAX`` the export walks a node table.
    The limit is lowered here so a small tree takes that path."""
    d = cartpole_split
    tree = TreeStudent(max_depth=8).fit(d["X"], d["P"])
    monkeypatch.setattr(tree_module, "_PY_NESTING_MAX", 3)
    path = export_python(tree, tmp_path / "deep.py")
    assert "_decide_NODES" in (tmp_path / "deep.py").read_text()
    module = _import_fresh(path, "deep_tree")
    states = probe(d["X"], _bounds(tree), N_STATES, seed=12)
    np.testing.assert_array_equal([module.decide(s) for s in states.tolist()], tree.predict(states))


def test_a_family_without_an_export_is_refused_with_the_families_that_have_one():
    class Opaque(Student):
        family = "opaque"

    with pytest.raises(ExportError, match=r"Opaque has no Python export; families that have one: .*'tree'"):
        export_python(Opaque())
    with pytest.raises(ExportError, match=r"Opaque has no C export; families that have one: .*'rules'"):
        export_c(Opaque())
