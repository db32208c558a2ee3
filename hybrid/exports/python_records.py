"""Python export of a FeaturizedStudent: ``decide(state_dict)`` → action name, or ``None`` to defer.

The module embeds the featurizing runtime (:mod:`hybrid.data.featurize_runtime`) verbatim and
the fitted layout as literals, so tokenising is the code that ran in training. The inner student
becomes ``_choose(x) -> (action index, confidence)``: rule lists and trees read their stored
probability table, MLPs take the softmax of the winning logit; ``predict`` and the export pick
the same action (first maximum on ties). A hybrid without deferral reuses its own ``decide``.
Standard library only.
"""

from __future__ import annotations

import inspect
from typing import Any

from hybrid.data import featurize_runtime
from hybrid.errors import ExportError


def _runtime_source() -> str:
    """The runtime module without its docstring."""
    source = inspect.getsource(featurize_runtime)
    return source.split('"""', 2)[2].lstrip("\n")


def _rules_choose(rules: Any) -> str:
    table = [list(r.proba) for r in rules.rules_] + [list(rules.default_proba_)]
    return (
        rules.python_function("_rule", match=True) + f"\n\n_PROBA = {table!r}\n\n\ndef _choose(x):\n    p = _PROBA[_rule(x)]  # -1: the default, last row\n"
        "    a = max(range(len(p)), key=p.__getitem__)\n    return a, p[a]\n"
    )


def _tree_choose(tree: Any) -> str:
    from hybrid.students.tree import f32_split_bound

    nodes = [(int(f), f32_split_bound(t) if f >= 0 else 0.0, int(lo), int(r)) for f, t, lo, r in zip(tree.feature_, tree.threshold_, tree.left_, tree.right_)]
    values = [[float(v) for v in row] if f < 0 else None for f, row in zip(tree.feature_, tree.value_)]
    return (
        f"_NODES = {nodes!r}  # (feature, bound, left, right); feature < 0 = leaf\n_VALUE = {values!r}\n\n\n"
        "def _choose(x):\n    node = 0\n    while _NODES[node][0] >= 0:\n        f, bound, left, right = _NODES[node]\n"
        "        node = left if x[f] <= bound else right\n    p = _VALUE[node]\n"
        "    a = max(range(len(p)), key=p.__getitem__)\n    return a, p[a]\n"
    )


def _sparse_mlp_choose(mlp: Any) -> str:
    """``_choose(columns)`` over the non-zero features ``{column: value}``: the first layer adds one
    weight column per non-zero feature (a few dozen for a request) instead of a dense product."""
    W0, b0 = mlp.weights_[0], mlp.biases_[0]
    columns = [[float(c) for c in W0[:, j]] for j in range(W0.shape[1])]
    rest = [([[float(c) for c in row] for row in W], [float(c) for c in b]) for W, b in zip(mlp.weights_[1:], mlp.biases_[1:])]
    act = "(v if v > 0.0 else 0.0)" if mlp.activation == "relu" else "_tanh(v)"
    return (
        f"_W0_COLUMNS = {columns!r}\n_B0 = {[float(c) for c in b0]!r}\n_LAYERS = {rest!r}\n\n\n"
        "def _choose(active):\n    h = list(_B0)\n    for column, value in sorted(active.items()):\n"
        "        h = [s + value * w for s, w in zip(h, _W0_COLUMNS[column])]\n"
        "    for W, b in _LAYERS:\n"
        f"        h = [{act} for v in h]\n"
        "        h = [sum(map(_mul, row, h), bias) for row, bias in zip(W, b)]\n"
        "    a = max(range(len(h)), key=h.__getitem__)\n"
        "    return a, 1.0 / sum(_exp(v - h[a]) for v in h)\n"
    )


def _mlp_choose(mlp: Any) -> str:
    layers = [([[float(c) for c in row] for row in W], [float(c) for c in b]) for W, b in zip(mlp.weights_, mlp.biases_)]
    act = "(v if v > 0.0 else 0.0)" if mlp.activation == "relu" else "_tanh(v)"
    return (
        f"_LAYERS = {layers!r}\n\n\ndef _choose(x):\n    h = x\n    for i, (W, b) in enumerate(_LAYERS):\n"
        "        h = [sum(map(_mul, row, h), bias) for row, bias in zip(W, b)]\n"
        "        if i < len(_LAYERS) - 1:\n"
        f"            h = [{act} for v in h]\n"
        "    a = max(range(len(h)), key=h.__getitem__)\n"
        "    return a, 1.0 / sum(_exp(v - h[a]) for v in h)\n"
    )


def _generic_choose(student: Any) -> str:
    source = student.python_source()
    if "def decide(state)" not in source:
        raise ExportError(f"{type(student).__name__} has no Python export usable inside a featurized student")
    return source.replace("def decide(state)", "def _inner_decide(state)") + "\n\ndef _choose(x):\n    return _inner_decide(x), 1.0\n"


def featurized_python_source(student: Any) -> str:
    """Source of the module (without the shared ACTION_NAMES / CONTENT_HASH footer)."""
    inner = student.student_
    makers = {"rules": _rules_choose, "keywords": _rules_choose, "tree": _tree_choose, "mlp": _mlp_choose, "linear": _mlp_choose}
    if inner.family not in makers and student.defer_below is not None:
        raise ExportError(f"a deferring {inner.family!r} student has no Python export; deferral exports exist for {sorted(makers)}")
    featurizer = student.featurizer_
    sparse = featurizer is not None and not featurizer.reads_vectors and inner.family in ("mlp", "linear")
    choose = _sparse_mlp_choose(inner) if sparse else makers.get(inner.family, _generic_choose)(inner)
    doc = student.to_text().replace('"""', "'''")
    head = (
        f'"""Featurized {inner.family} student {student.content_hash} (agent-distill).\n\n'
        "decide(state) -> action name, or None when the student defers to the teacher; decide_index(state) -> index or -1.\n"
        f'State: {"a list of numbers" if featurizer is None or featurizer.reads_vectors else "a dict of field values"}.\n\n{doc}\n"""\n\n'
    )
    imports = "from math import exp as _exp\nfrom math import tanh as _tanh\nfrom operator import mul as _mul\n"
    if featurizer is not None and featurizer.reads_vectors:  # an entity stage brings its own runtime
        body = "\n" + featurizer.python_source()
    elif featurizer is not None:
        body = (
            _runtime_source() + f"\n\nLAYOUT = {featurizer.layout_!r}\nWIDTH = {featurizer.n_features_out_}\n"
            f"FEATURE_NAMES = {tuple(featurizer.feature_names_)!r}\n\n\ndef features(state):\n"
            + (
                "    return feature_columns(state, LAYOUT)  # {column: value} of the non-zero features\n"
                if sparse
                else "    return feature_vector(state, LAYOUT, WIDTH)\n"
            )
        )
    else:
        body = "\ndef features(state):\n    return [float(v) for v in state]\n"
    defer = None if student.defer_below is None else float(student.defer_below)
    tail = (
        f"\n\nDEFER_BELOW = {defer!r}\n\n\ndef decide_index(state):\n    a, confidence = _choose(features(state))\n"
        "    if DEFER_BELOW is not None and confidence < DEFER_BELOW:\n        return -1\n    return a\n\n\n"
        "def decide(state):\n    a = decide_index(state)\n    return None if a < 0 else ACTION_NAMES[a]\n"
    )
    return head + imports + "\n" + body + "\n\n" + choose + tail
