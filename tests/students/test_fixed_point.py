"""Fixed-point headers compile with -Os to integer-only code with no external symbol, their stated
flash bytes are the tables' real sizes, and they decide like the float student on held-out states."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from hybrid.errors import ExportError
from hybrid.exports.fixed_point import export_fixed_point, fixed_point_header, near_a_bound
from hybrid.exports.runtime import compile_fixed_point
from hybrid.students import HybridStudent, MLPStudent, RuleListStudent, TreeStudent

pytestmark = pytest.mark.skipif(shutil.which("cc") is None or shutil.which("nm") is None, reason="needs cc and nm")
WRAPPER = '#include "student.h"\nvoid run(const int16_t *s, size_t n, int32_t *out) { decide_q_batch(s, n, out); }\n'
STUDENTS = {
    "tree d8": (lambda: TreeStudent(max_depth=8), 8),
    "rules d4": (lambda: RuleListStudent(max_depth=4), 8),
    "rules oblique": (lambda: RuleListStudent(max_depth=3, max_rules=8, oblique=True), 8),
    "mlp (32,) int16": (lambda: MLPStudent(hidden_sizes=(32,), epochs=8), 16),
    "mlp (4,) int16": (lambda: MLPStudent(hidden_sizes=(4,), epochs=8), 16),
    "mlp (16, 16) int16": (lambda: MLPStudent(hidden_sizes=(16, 16), epochs=8), 16),
}


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENT_DISTILL_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def held_out(cartpole_split):
    """10k training states and 6k held-out states from later episodes of the CartPole teacher
    (``benchmarks/runtime.py`` measures 10k held-out states on CartPole and LunarLander)."""
    return cartpole_split["X"], cartpole_split["P"], cartpole_split["X_test"]


@pytest.fixture(scope="module")
def fitted(held_out):
    X, P, _ = held_out
    return {name: (make().fit(X, P), bits) for name, (make, bits) in STUDENTS.items()}


@pytest.mark.parametrize("name", list(STUDENTS))
def test_fixed_point_decides_like_the_float_student_on_held_out_states(name, fitted, held_out):
    student, bits = fitted[name]
    X_train, _, X_test = held_out
    header = fixed_point_header(student, X_train, weight_bits=bits)
    decided = compile_fixed_point(header).predict(X_test)
    agree = decided == student.predict(X_test)
    assert agree.mean() >= 0.999, f"{name}: {agree.mean():.4%}"
    if isinstance(student, TreeStudent) or (isinstance(student, RuleListStudent) and not student.oblique):
        far = ~near_a_bound(student, header, X_test)
        assert far.mean() > 0.9 and agree[far].all()


@pytest.mark.parametrize("name", ["mlp (4,) int16", "mlp (32,) int16", "mlp (16, 16) int16"])
def test_int8_weights_keep_most_decisions(name, fitted, held_out):
    """int8 weights keep ≥ 99% (not always 99.9%: benchmarks/runtime.py reports the figures)."""
    X_train, _, X_test = held_out
    student = fitted[name][0]
    decided = compile_fixed_point(fixed_point_header(student, X_train, weight_bits=8)).predict(X_test)
    assert (decided == student.predict(X_test)).mean() >= 0.99


@pytest.mark.parametrize("name", list(STUDENTS))
def test_header_compiles_with_Os_to_integer_code_and_states_its_tables_bytes(name, fitted, held_out, tmp_path):
    student, bits = fitted[name]
    header = fixed_point_header(student, held_out[0], weight_bits=bits)
    (tmp_path / "student.h").write_text(header.source)
    (tmp_path / "run.c").write_text(WRAPPER)
    obj = tmp_path / "run.o"
    subprocess.run(
        ["cc", "-std=c99", "-Os", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffreestanding", "-c", "-o", str(obj), str(tmp_path / "run.c")], check=True
    )
    # nothing to link: no libm, no malloc, no soft-float routine on this target
    assert subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout.strip() == ""
    declared = {
        name: int(n) * {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4}[ctype]
        for ctype, name, n in re.findall(r"static const (\w+) (decide_q_\w+)\[(\d+)\]", header.source)
    }
    assert sum(declared.values()) == header.flash_bytes
    symbols = subprocess.run(["nm", "-S", str(obj)], capture_output=True, text=True, check=True).stdout.splitlines()
    kept = {f[3]: int(f[1], 16) for f in (line.split() for line in symbols) if len(f) == 4 and f[3] in declared}
    assert all(kept[name] == declared[name] for name in kept)  # tables -Os did not fold into code keep their size
    assert f"Flash: {header.flash_bytes} bytes" in header.source and f"RAM: {header.ram_bytes} bytes" in header.source
    assert "Q-formats x0: Q" in header.source and "float" not in header.source.split("*/", 1)[1]
    assert "double" not in header.source


def test_states_beyond_the_calibrated_range_saturate_instead_of_wrapping(fitted, held_out):
    student = fitted["tree d8"][0]
    header = fixed_point_header(student, held_out[0])
    far = np.array([[1e6, -1e6, 1e6, -1e6]], dtype=np.float32)
    np.testing.assert_array_equal(header.quantise(far), [[32767, -32767, 32767, -32767]])
    assert compile_fixed_point(header).predict(far)[0] == student.predict(far)[0]


def test_export_writes_the_header(fitted, held_out, tmp_path):
    student = fitted["rules d4"][0]
    path = export_fixed_point(student, tmp_path / "q.h", states=held_out[0])
    assert (tmp_path / "q.h").read_text() == export_fixed_point(student, states=held_out[0]) and path.endswith("q.h")


def test_unsupported_students_and_settings_are_refused_with_the_fix(held_out):
    X, P, _ = held_out
    with pytest.raises(ExportError, match="supports trees, rule lists and ReLU MLPs, not HybridStudent"):
        fixed_point_header(HybridStudent(tau=0.8, rule_depth=3, hidden_sizes=(4,), epochs=2).fit(X, P), X)
    with pytest.raises(ExportError, match=r"ReLU MLPs only.*activation='relu'"):
        fixed_point_header(MLPStudent(hidden_sizes=(4,), activation="tanh", epochs=2).fit(X, P), X)
    with pytest.raises(ExportError, match="weight_bits must be 8 or 16"):
        fixed_point_header(TreeStudent(max_depth=2).fit(X, P), X, weight_bits=4)
