"""Fixed-point C headers for microcontrollers without a floating-point unit: integers only.

A state enters as ``int16_t`` per feature, ``state[j] = round(x_j · 2^F_j)`` saturated to
±32767, each feature in its own Q-format ``Q(15−F_j).F_j``: ``F_j`` is the most fractional bits
that keep twice the largest magnitude seen in the calibration states (and every split bound of
the student on that feature) in range, so a reading may exceed what calibration saw by 2× before
it saturates. The header states these formats, its constant tables in bytes (flash) and its
working arrays in bytes (RAM); it uses no heap, no static mutable data and no library
(``<stdint.h>`` and ``<stddef.h>`` only, both freestanding).

- Trees: a node table walked from the root (preorder, so a left child is the next node):
  ``feature`` (-1 marks a leaf), ``threshold`` (a leaf's action) and ``right``. A split
  ``x ≤ b`` becomes ``q ≤ ⌊b·2^F⌋``, which decides as the float tree does for every state no
  feature of which lies within one quantisation step (2^-F) of a bound it is tested against.
- Rule lists: rules, conditions and terms in tables; a condition tests an ``int32`` sum
  ``Σ W_t·q_t`` against integer bounds. An axis-aligned condition is one term of weight 1 (the
  tree's rule above); an oblique one scales its weights to ``int16`` with a shared exponent
  ``G`` (``|W| < 2^14``, so three products and their sum fit ``int32``) and its bounds by ``2^G``.
- MLPs (ReLU): ``int8`` or ``int16`` weights with one power-of-two scale per layer, ``int32``
  biases, ``int32`` (``int64`` where it could overflow) accumulators; hidden activations are
  re-scaled to ``int16`` by a rounding right shift (their formats from the calibration states)
  and saturated; the action is the argmax of the last accumulators. No multiply by a float, no
  division, no ``tanh`` (a tanh MLP is refused: export it with ``export_c``).

``decide_q(const int16_t *state)`` returns the action; ``decide_q_batch(states, n, out)`` decides
``n`` states. ``hybrid.exports.runtime.compile_fixed_point`` runs a header on numpy states.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hybrid.errors import ExportError
from hybrid.exports.c_walk import uniform_actions
from hybrid.students._base import Student, check_states
from hybrid.students.mlp import MLPStudent
from hybrid.students.rules import RuleListStudent
from hybrid.students.tree import TreeStudent, f32_split_bound

Q_MAX = 32767  # int16 states and activations saturate at ±Q_MAX
HEADROOM = 2.0  # calibration range × HEADROOM must fit before a value saturates
OBLIQUE_WEIGHT_MAX = 2**14 - 1  # three int16 × int16 products and their sum stay inside int32
_C_TYPES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "int64_t": 8}


@dataclass(frozen=True)
class FixedPointHeader:
    """A fixed-point C header and what a device needs to know about it.

    ``frac_bits[j]`` is ``F_j`` of feature ``j``; ``flash_bytes`` counts the constant tables,
    ``ram_bytes`` the working arrays on the stack (code size depends on the target's compiler).
    """

    source: str
    family: str
    content_hash: str
    frac_bits: tuple[int, ...]
    flash_bytes: int
    ram_bytes: int

    def quantise(self, X: Any) -> np.ndarray:
        """States as the device would hold them: ``round(x · 2^F_j)`` saturated to int16."""
        X = check_states(X, n_features=len(self.frac_bits)).astype(np.float64)
        return np.clip(np.rint(X * np.exp2(self.frac_bits)), -Q_MAX, Q_MAX).astype(np.int16)


def fixed_point_header(student: Student, states: Any, *, weight_bits: int = 8) -> FixedPointHeader:
    """The fixed-point header of a fitted tree, rule list or ReLU MLP; ``states`` calibrate the
    Q-formats (the training states serve); ``weight_bits`` (8 or 16) sizes MLP weights."""
    builders = {TreeStudent: _tree_tables, RuleListStudent: _rules_tables, MLPStudent: _mlp_tables}
    build = next((b for cls, b in builders.items() if isinstance(student, cls)), None)
    if build is None:
        raise ExportError(
            f"fixed-point export supports trees, rule lists and ReLU MLPs, not {type(student).__name__}; export it with export_c (float) instead."
        )
    if weight_bits not in (8, 16):
        raise ExportError(f"weight_bits must be 8 or 16; got {weight_bits!r}.")
    student._check_fitted()
    X = check_states(states, n_features=int(student.n_features_in_), name="states").astype(np.float64)
    frac = _frac_bits(np.abs(X).max(axis=0), _split_bounds(student))
    tables, body, ram = build(student, frac, X, weight_bits)
    flash = sum(_C_TYPES[ctype] * len(values) for _, ctype, values in tables)
    formats = ", ".join(f"x{j}: Q{15 - f}.{f}" for j, f in enumerate(frac))
    d = len(frac)
    source = "\n".join(
        [
            f"/* {student.family} student {student.content_hash} (agent-distill), fixed point: decide_q(state) -> action index.",
            f"   state[j] = round(x_j * 2^F_j) saturated to int16, F = {{{', '.join(map(str, frac))}}}; Q-formats {formats}.",
            f"   Flash: {flash} bytes of constant tables (plus code). RAM: {ram} bytes of working arrays on the stack.",
            "   No heap, no static mutable data, no floating point, no library beyond <stdint.h> and <stddef.h>. */",
            "#ifndef AGENT_DISTILL_DECIDE_Q_H",
            "#define AGENT_DISTILL_DECIDE_Q_H",
            "#include <stddef.h>",
            "#include <stdint.h>",
            "",
            *[_c_array(name, ctype, values) for name, ctype, values in tables],
            "",
            "static inline int decide_q(const int16_t *state) {",
            *body,
            "}",
            "",
            f"/* Batch entry: states [n][{d}] in the formats above, row-major; one action index per state. */",
            "static inline void decide_q_batch(const int16_t *states, size_t n, int32_t *out) {",
            "    size_t i;",
            f"    for (i = 0; i < n; ++i) out[i] = (int32_t)decide_q(states + i * {d});",
            "}",
            "",
            "#endif",
            "",
        ]
    )
    return FixedPointHeader(source, student.family, student.content_hash, tuple(frac), flash, ram)


def export_fixed_point(student: Student, path: str | Path | None = None, *, states: Any, weight_bits: int = 8) -> str:
    """The fixed-point header's source when ``path`` is None; else write it there and return the path."""
    source = fixed_point_header(student, states, weight_bits=weight_bits).source
    if path is None:
        return source
    Path(path).write_text(source, encoding="utf-8")
    return str(path)


def near_a_bound(student: Student, header: FixedPointHeader, X: Any) -> np.ndarray:
    """True for the states with a feature within one quantisation step (2^-F) of an axis-aligned
    bound the student tests it against: the only states where a fixed-point tree or axis-aligned
    rule list may decide otherwise than the float student."""
    X = check_states(X, n_features=len(header.frac_bits)).astype(np.float64)
    near = np.zeros(len(X), dtype=bool)
    for f, bounds in _split_bounds(student).items():
        near |= (np.abs(X[:, f, None] - np.array(bounds)[None, :]) <= 2.0 ** -header.frac_bits[f]).any(axis=1)
    return near


# -- formats ----------------------------------------------------------------------------------
def _split_bounds(student: Student) -> dict[int, list[float]]:
    """Per feature, the bounds the student tests it against (they must be representable too)."""
    out: dict[int, list[float]] = {}
    if isinstance(student, TreeStudent):
        for f, t in zip(student.feature_, student.threshold_):
            if f >= 0:
                out.setdefault(int(f), []).append(f32_split_bound(t))
    elif isinstance(student, RuleListStudent):
        for c in (c for r in student.rules_ for c in r.conditions if not c.oblique):
            out.setdefault(c.features[0], []).extend(b for b in (c.lower, c.upper) if b is not None)
    return out


def _frac_bits(magnitude: np.ndarray, bounds: dict[int, list[float]]) -> list[int]:
    """Per feature, the most fractional bits keeping HEADROOM × its largest magnitude within int16."""
    frac = []
    for j, m in enumerate(magnitude):
        m = max([float(m), *(abs(b) for b in bounds.get(j, []))]) or 1.0
        frac.append(int(np.floor(np.log2(Q_MAX / (HEADROOM * m)))))
    return frac


def _shift_for(largest: float, limit: int) -> int:
    """The largest exponent ``S`` with ``largest · 2^S ≤ limit``."""
    return int(np.floor(np.log2(limit / largest))) if largest > 0 else 0


# -- families ---------------------------------------------------------------------------------
Tables = list[tuple[str, str, list[int]]]


def _tree_tables(tree: TreeStudent, frac: list[int], X: np.ndarray, weight_bits: int) -> tuple[Tables, list[str], int]:
    """Node table in preorder (left child = next node) and the walk; a subtree whose leaves all
    take one action is one leaf (``uniform_actions``)."""
    uniform = uniform_actions(tree)
    order: list[int] = []
    stack = [0]
    while stack:
        node = stack.pop()
        order.append(node)
        if uniform[node] < 0:
            stack += [int(tree.right_[node]), int(tree.left_[node])]
    index = {node: i for i, node in enumerate(order)}
    feature, threshold, right = [], [], []
    for node in order:
        f = int(tree.feature_[node]) if uniform[node] < 0 else -1
        feature.append(f)
        if f < 0:
            threshold.append(int(uniform[node]))
            right.append(0)
        else:
            bound = np.floor(f32_split_bound(tree.threshold_[node]) * 2.0 ** frac[f])
            threshold.append(int(np.clip(bound, -Q_MAX - 1, Q_MAX)))
            right.append(index[int(tree.right_[node])])
    tables = [("decide_q_feature", _int_type(feature), feature), ("decide_q_threshold", "int16_t", threshold), ("decide_q_right", _int_type(right), right)]
    body = [
        "    int i = 0;",
        "    while (decide_q_feature[i] >= 0)",
        "        i = state[decide_q_feature[i]] <= decide_q_threshold[i] ? i + 1 : decide_q_right[i];",
        "    return decide_q_threshold[i];",
    ]
    return tables, body, 0


def _rules_tables(rules: RuleListStudent, frac: list[int], X: np.ndarray, weight_bits: int) -> tuple[Tables, list[str], int]:
    """Rules → conditions → terms in flat tables; the first rule whose conditions all hold decides."""
    rule_first, cond_first, lower, upper, term_feature, term_weight = [0], [0], [], [], [], []
    int32_min, int32_max = -(2**31), 2**31 - 1
    for rule in rules.rules_:
        for c in rule.conditions:
            if c.oblique:
                g = _shift_for(max(abs(w) * 2.0 ** -frac[f] for f, w in zip(c.features, c.weights)), OBLIQUE_WEIGHT_MAX)
                weights = [int(np.rint(w * 2.0 ** (g - frac[f]))) for f, w in zip(c.features, c.weights)]
            else:
                g, weights = frac[c.features[0]], [1]
            lower.append(int32_min if c.lower is None else int(np.clip(np.floor(c.lower * 2.0**g), int32_min, int32_max)))
            upper.append(int32_max if c.upper is None else int(np.clip(np.floor(c.upper * 2.0**g), int32_min, int32_max)))
            term_feature += list(c.features)
            term_weight += weights
            cond_first.append(len(term_feature))
        rule_first.append(len(lower))
    actions = [r.action for r in rules.rules_] + [rules.default_action_]
    tables = [
        ("decide_q_rule_first", _int_type(rule_first), rule_first),
        ("decide_q_action", _int_type(actions), actions),
        ("decide_q_cond_first", _int_type(cond_first), cond_first),
        ("decide_q_lower", "int32_t", lower),
        ("decide_q_upper", "int32_t", upper),
        ("decide_q_term_feature", _int_type(term_feature), term_feature),
        ("decide_q_term_weight", "int16_t", term_weight),
    ]
    body = [
        "    int r, c, t;",
        f"    for (r = 0; r < {len(rules.rules_)}; ++r) {{",
        "        for (c = decide_q_rule_first[r]; c < decide_q_rule_first[r + 1]; ++c) {",
        "            int32_t z = 0;",
        "            for (t = decide_q_cond_first[c]; t < decide_q_cond_first[c + 1]; ++t)",
        "                z += (int32_t)decide_q_term_weight[t] * state[decide_q_term_feature[t]];",
        "            if (z <= decide_q_lower[c] || z > decide_q_upper[c]) break;",
        "        }",
        "        if (c == decide_q_rule_first[r + 1]) return decide_q_action[r];",
        "    }",
        f"    return decide_q_action[{len(rules.rules_)}];",
    ]
    return tables, body, 0


def _mlp_tables(mlp: MLPStudent, frac: list[int], X: np.ndarray, weight_bits: int) -> tuple[Tables, list[str], int]:
    """Per layer: integer weights and biases at scale 2^S, a rounding shift to the next layer's format.

    One scale per layer: a scale per unit (per channel) was measured on CartPole MLPs and agreed
    no better with the float student, since there the spread is across a row's inputs."""
    if mlp.activation != "relu" and len(mlp.weights_) > 1:
        raise ExportError(
            "fixed-point export supports ReLU MLPs only: tanh needs libm or a table. Fit with activation='relu', or export this one with export_c."
        )
    limit = 2 ** (weight_bits - 1) - 1
    wtype = "int8_t" if weight_bits == 8 else "int16_t"
    in_scale = np.exp2(-np.asarray(frac, dtype=np.float64))  # real value of one unit of each input
    h, tables, body, ram = X, [], ["    int i, j, best = 0;"], 0
    source, last = "state", len(mlp.weights_) - 1
    for i, (W, b) in enumerate(zip(mlp.weights_, mlp.biases_)):
        V = W * in_scale[None, :]  # weights acting on the integer inputs
        s = _shift_for(float(np.abs(V).max()), limit)
        while np.abs(b).max() * 2.0**s >= 2**30:  # biases must fit int32 with room for the sum
            s -= 1
        Wq = np.rint(V * 2.0**s).astype(np.int64)
        bq = np.rint(b * 2.0**s).astype(np.int64)
        acc = "int32_t" if np.abs(Wq).sum(axis=1).max() * Q_MAX + np.abs(bq).max() < 2**31 else "int64_t"
        tables += [(f"decide_q_w{i}", wtype, Wq.reshape(-1).tolist()), (f"decide_q_b{i}", "int32_t", bq.tolist())]
        n_out, n_in = W.shape
        sum_line = f"        {acc} z = decide_q_b{i}[i];\n        for (j = 0; j < {n_in}; ++j) z += ({acc})decide_q_w{i}[i * {n_in} + j] * {source}[j];"
        if i == last:
            body += [
                f"    {acc} top = 0;",
                f"    for (i = 0; i < {n_out}; ++i) {{",
                sum_line,
                "        if (i == 0 || z > top) { top = z; best = i; }",
                "    }",
                "    return best;",
            ]
            break
        h = np.maximum(h @ W.T + b, 0.0)  # the float activations of the calibration states
        a = min(_shift_for(float(h.max()) * HEADROOM, Q_MAX), s)  # their fractional bits
        rounded = f"(z + (({acc})1 << {s - a - 1})) >> {s - a}" if s > a else "z"
        body += [
            f"    int16_t h{i}[{n_out}];",
            f"    for (i = 0; i < {n_out}; ++i) {{",
            sum_line,
            "        if (z < 0) z = 0;",
            f"        z = {rounded};",
            f"        h{i}[i] = (int16_t)(z > {Q_MAX} ? {Q_MAX} : z);",
            "    }",
        ]
        ram += 2 * n_out
        in_scale = np.full(n_out, 2.0**-a)
        source = f"h{i}"
    return tables, body, ram


# -- C text -----------------------------------------------------------------------------------
def _int_type(values: list[int]) -> str:
    """The smallest C integer type holding every value."""
    lo, hi = min(values, default=0), max(values, default=0)
    for ctype, (tlo, thi) in (
        ("int8_t", (-128, 127)) if lo < 0 else ("uint8_t", (0, 255)),
        ("int16_t", (-32768, 32767)) if lo < 0 else ("uint16_t", (0, 65535)),
    ):
        if tlo <= lo and hi <= thi:
            return ctype
    return "int32_t"


def _c_array(name: str, ctype: str, values: list[int]) -> str:
    """A constant table (C99 has no empty arrays: an empty table holds one unused 0)."""
    shown = values or [0]
    text = ", ".join({-(2**31): "INT32_MIN", 2**31 - 1: "INT32_MAX"}.get(v, str(v)) for v in shown)
    return f"static const {ctype} {name}[{len(shown)}] = {{{text}}};"
