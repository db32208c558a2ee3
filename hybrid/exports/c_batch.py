"""The batch entry point of a C header: ``decide_batch(states, n, out)`` decides ``n`` states in one call.

Agent clusters decide for thousands of agents every tick; calling ``decide`` once per agent from
a host language would spend more on the calls than on the decisions. The batch entry reads the
states as a row-major ``float`` array (what numpy and ``check_states`` hold), widens each row to
``double`` (the single-decision function's input, so both decide identically) and writes one
output per state; it returns -1, or the index of the first state holding NaN or infinity. It
allocates nothing and needs only the freestanding headers ``<stddef.h>`` and ``<stdint.h>``.
Trees, rule lists and hybrids walk blocks of states branch-free (``hybrid.exports.c_walk``);
MLPs run blocks of states through each layer together (``hybrid.exports.c_dense``).

What a decision outputs follows the student's action space (``hybrid.spaces.action_space_of``):
``OUTPUT_KINDS`` names, per kind of space, the C type of the outputs and the loop statement that
stores one state's. A kind without an entry (a ``BoxActions`` space, whose ``decide(state,
action)`` writes ``n_actions_`` doubles) keeps its single-decision header unchanged, and the
runtime refuses it by name, until one entry is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hybrid.errors import ExportError
from hybrid.exports.c_dense import dense_batch_function
from hybrid.exports.c_walk import walk_batch_function, walk_of
from hybrid.spaces import DiscreteActions, action_space_of
from hybrid.students.mlp import MLPStudent


@dataclass(frozen=True)
class OutputKind:
    """How a family's single-decision function reports a decision, and the batch loop that stores it.

    ``c_type`` is the element type of the output array; ``numpy_dtype`` its numpy name;
    ``store`` the C statement writing state ``i``'s output from the row ``s`` (``{name}`` is the
    single-decision function).
    """

    c_type: str
    numpy_dtype: str
    store: str
    description: str


OUTPUT_KINDS: dict[str, OutputKind] = {
    DiscreteActions.kind: OutputKind(
        "int32_t", "int32", "out[i] = (int32_t){name}(s);", "one action index per state (-1 where a cascade leaves the state to its teacher)"
    ),
}


def output_kind(student: Any) -> OutputKind | None:
    """The batch output of the student's kind of action space; None where that kind has none yet."""
    return OUTPUT_KINDS.get(action_space_of(student).kind)


def required_output_kind(student: Any) -> OutputKind:
    """``output_kind``, or ExportError naming the student's action space if its kind has no batch entry yet."""
    kind = output_kind(student)
    if kind is None:
        raise ExportError(
            f"{type(student).__name__} acts in {action_space_of(student)!r}, whose kind has no C batch entry yet; "
            f"kinds with one: {sorted(OUTPUT_KINDS)}. Add an OutputKind to hybrid.exports.c_batch.OUTPUT_KINDS."
        )
    return kind


def batch_function(student: Any, n_features: int, name: str = "decide") -> str:
    """C source of ``static inline long {name}_batch(const float *states, size_t n, T *out)``.

    It returns -1, or the index of the first state holding NaN or infinity (outputs from there on
    are not written). Trees, rule lists and hybrids get the branch-free walk of
    ``hybrid.exports.c_walk``, MLPs the block kernel of ``hybrid.exports.c_dense``; other
    families call their single-decision function per state.
    """
    kind = required_output_kind(student)
    walk = walk_of(student)
    if walk is not None:
        return walk_batch_function(walk, n_features, name)
    if isinstance(student, MLPStudent):
        return dense_batch_function(student, name)
    d = n_features
    return "\n".join(
        [
            f"/* Batch entry: states [n][{d}] as float, row-major; {kind.description}.",
            "   Returns -1, or the index of the first state holding NaN or infinity (outputs from it on are not",
            "   written). No allocation. */",
            f"static inline long {name}_batch(const float *states, size_t n, {kind.c_type} *out) {{",
            "    size_t i;",
            "    int j;",
            f"    double s[{d}];",
            "    for (i = 0; i < n; ++i) {",
            f"        const float *x = states + i * {d};",
            f"        float bad = 0.0f{''.join(f' + (x[{j}] - x[{j}])' for j in range(d))};",
            "        if (bad != 0.0f) return (long)i;  /* x - x is NaN exactly for NaN and infinity */",
            f"        for (j = 0; j < {d}; ++j) s[j] = (double)x[j];",
            f"        {kind.store.format(name=name)}",
            "    }",
            "    return -1;",
            "}",
            "",
        ]
    )


def with_batch_entry(header: str, student: Any) -> str:
    """The header with ``<stddef.h>``/``<stdint.h>`` and the batch entry added inside its include
    guard (unchanged for a kind of action space without a batch entry yet).

    Every family's header ends with the ``#endif`` of its guard; the entry goes just before it.
    """
    if output_kind(student) is None:
        return header
    body, guard_end, tail = header.rpartition("#endif")
    if not guard_end or tail.strip():
        raise ExportError(
            f"the C header of {type(student).__name__} does not end with its include guard's #endif; "
            "a family's c_source must end with it so the batch entry can be added."
        )
    includes = "#include <stddef.h>\n#include <stdint.h>\n"
    return body.rstrip("\n") + "\n\n" + includes + "\n" + batch_function(student, int(student.n_features_in_)) + "\n" + guard_end + tail
