"""The batch kernel of an MLP: a block of states goes through each layer together.

One state at a time, a small net is a chain of dependent additions (each unit's sum waits for
its previous term), so the processor idles between them. The batch kernel keeps a block of
states unit-major (``act[unit][state]``) and runs every multiply-add across the block in a loop
of fixed length, which the compiler turns into vector instructions; each state still sums its
terms in the single-decision function's order (bias first, then the inputs in order, in double),
so both decide identically. The last layer's argmax keeps the first of equal logits, as
``decide`` and ``numpy.argmax`` do.
"""

from __future__ import annotations

from hybrid.students.mlp import MLPStudent

BLOCK = 32  # states per block: two unit-major buffers of BLOCK doubles per unit stay in L1


def dense_batch_function(mlp: MLPStudent, name: str = "decide") -> str:
    """C source of ``static inline long {name}_batch(const float *states, size_t n, int32_t *out)``
    for a fitted MLP whose header already defines ``{name}_w{i}`` and ``{name}_b{i}``."""
    d = int(mlp.n_features_in_)
    widths = [d] + [W.shape[0] for W in mlp.weights_]
    last = len(mlp.weights_) - 1
    act = "h > 0.0 ? h : 0.0" if mlp.activation == "relu" else "tanh(h)"
    lines = [
        f"/* Batch entry: states [n][{d}] as float, row-major; one action index per state. Returns -1, or the index",
        "   of the first state holding NaN or infinity (outputs from its block on are not written). No allocation:",
        f"   blocks of {BLOCK} states go through each layer together, unit-major on the stack. */",
        f"static inline long {name}_batch(const float *states, size_t n, int32_t *out) {{",
        f"    double a[{max(widths)}][{BLOCK}], z[{max(widths)}][{BLOCK}];",
        "    size_t start;",
        "    int b, i, j, m;",
        f"    for (start = 0; start < n; start += {BLOCK}) {{",
        f"        m = n - start < {BLOCK} ? (int)(n - start) : {BLOCK};",
        f"        for (b = 0; b < {BLOCK}; ++b) {{  /* a short last block is padded with zero states, never written out */",
        f"            const float *x = states + (start + (size_t)(b < m ? b : 0)) * {d};",
        f"            float bad = 0.0f{''.join(f' + (x[{j}] - x[{j}])' for j in range(d))};",
        "            if (b < m && bad != 0.0f) return (long)(start + (size_t)b);  /* x - x is NaN exactly for NaN and infinity */",
        f"            for (j = 0; j < {d}; ++j) a[j][b] = b < m ? (double)x[j] : 0.0;",
        "        }",
    ]
    for i, W in enumerate(mlp.weights_):
        n_out, n_in = W.shape
        post = "z[i][b] = h;" if i == last else f"{{ double h = z[i][b]; z[i][b] = {act}; }}"
        lines += [
            f"        for (i = 0; i < {n_out}; ++i) {{",
            f"            for (b = 0; b < {BLOCK}; ++b) z[i][b] = {name}_b{i}[i];",
            f"            for (j = 0; j < {n_in}; ++j)",
            f"                for (b = 0; b < {BLOCK}; ++b) z[i][b] += {name}_w{i}[i][j] * a[j][b];",
            f"            for (b = 0; b < {BLOCK}; ++b) {post}" if i < last else "",
            "        }",
            f"        for (i = 0; i < {n_out}; ++i) for (b = 0; b < {BLOCK}; ++b) a[i][b] = z[i][b];",
        ]
    lines += [
        "        for (b = 0; b < m; ++b) {",
        "            int best = 0;",
        f"            for (i = 1; i < {widths[-1]}; ++i) if (a[i][b] > a[best][b]) best = i;",
        "            out[start + (size_t)b] = best;",
        "        }",
        "    }",
        "    return -1;",
        "}",
        "",
    ]
    return "\n".join(line for line in lines if line)
