"""MLPStudent: a small multilayer perceptron distilled from the teacher's soft labels.

Trained with the loss of Hinton et al. (2015) (see :mod:`hybrid.students.distill_loss`) on standardised
states; the standardisation is then folded into the first layer, so the artifact is plain
weights that take raw states. Inference runs in numpy from the student's own arrays; torch is
needed only to train (and by :meth:`MLPStudent.torch_module`).

Weights are rounded to float32 once, at the end of ``fit``, and kept in float64 arrays: the
artifact lists float32 values exactly, and numpy, the generated Python and the generated C all
compute in double from the same numbers, so their decisions agree.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid.errors import DataError, ParameterError
from hybrid.students._base import Cost, Student, check_states, check_targets, check_weights, register, resolve_names
from provenance.hashing import canonical_json

if TYPE_CHECKING:  # torch is imported inside the functions that need it
    import torch

_ACTIVATIONS = ("relu", "tanh")
_TEMPERING = ((2.0, 0.7), (1.0, 0.3), (4.0, 0.9))  # (temperature, alpha) pairs worth searching
_HIDDEN = ((), (2,), (4,), (8,), (16,), (32,), (16, 16), (64,), (32, 32))  # searched widths, cheapest first
# Nets with at most this many multiply-adds are exported as straight-line code (no loops):
# several times faster in CPython for the tiny students that matter most at the edge.
_UNROLL_MAX_OPS = 512


@register
class MLPStudent(Student):
    """Fully connected net ``d → hidden_sizes… → k``; ``hidden_sizes=()`` is softmax regression.

    Parameters
    ----------
    hidden_sizes: units per hidden layer.
    activation: ``"relu"`` or ``"tanh"`` after every hidden layer.
    temperature, alpha: distillation temperature ``T`` and the weight ``α`` of the soft (KL)
        term against the hard (teacher-argmax cross-entropy) term.
    epochs, lr, batch_size, weight_decay: Adam training schedule.
    val_fraction: share of the fit data held out (deterministically, by ``random_state``) to
        pick the epoch with the best validation fidelity; 0 (or fewer than 10 states) keeps the
        last epoch.
    patience: stop after this many epochs without a better validation fidelity.
    max_train_states: fit on a seeded random subset of at most this many states.
    random_state: seed for the subset, the split, the initial weights and the shuffling.
    """

    family = "mlp"
    expensive = True
    fit_imports = ("torch",)
    searched_by_default = True
    search_order = 10
    colour = "#7570b3"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Every architecture once before the alternative temperatures, so a wide net is fitted early."""
        return [{"hidden_sizes": list(h), "temperature": t, "alpha": a, "epochs": epochs} for t, a in _TEMPERING for h in _HIDDEN]

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (32,),
        activation: str = "relu",
        temperature: float = 2.0,
        alpha: float = 0.7,
        epochs: int = 60,
        lr: float = 1e-2,
        batch_size: int = 256,
        weight_decay: float = 0.0,
        val_fraction: float = 0.1,
        patience: int = 10,
        max_train_states: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.temperature = temperature
        self.alpha = alpha
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.patience = patience
        self.max_train_states = max_train_states
        self.random_state = random_state

    # -- fit --------------------------------------------------------------------------------
    def fit(
        self, X: Any, P: Any, sample_weight: Any = None, *, feature_names: Sequence[str] | None = None, action_names: Sequence[str] | None = None
    ) -> MLPStudent:
        """Distil teacher probabilities ``P`` (``[n, k]``, or labels ``[n]``) on states ``X``."""
        X = check_states(X)
        P = check_targets(P, X.shape[0])
        w = check_weights(sample_weight, X.shape[0])
        self.feature_names_ = resolve_names(feature_names, X.shape[1], "x", "feature_names", "features")
        self.action_names_ = resolve_names(action_names, P.shape[1], "action_", "action_names", "actions")
        self._check_params()
        rng = np.random.default_rng(self.random_state)
        if self.max_train_states is not None and X.shape[0] > self.max_train_states:
            keep = np.sort(rng.choice(X.shape[0], size=self.max_train_states, replace=False))
            X, P, w = X[keep], P[keep], None if w is None else w[keep]
        w = np.ones(X.shape[0]) if w is None else w
        n_val = int(round(self.val_fraction * X.shape[0])) if X.shape[0] >= 10 else 0
        order = rng.permutation(X.shape[0])
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        if w[train].sum() <= 0:
            raise DataError("every training state has sample_weight 0; give some states a positive weight.")

        mean = X[train].astype(np.float64).mean(axis=0)
        scale = X[train].astype(np.float64).std(axis=0)
        scale[scale < 1e-8] = 1.0  # a constant feature carries no signal; leave it unscaled
        sizes = [X.shape[1], *map(int, self.hidden_sizes), P.shape[1]]
        weights, biases = _initial_layers(sizes, rng)
        with _single_thread():
            weights, biases, self.best_epoch_, self.epochs_run_, self.val_fidelity_ = self._train(
                (X - mean) / scale, P, w / w[train].mean(), train, val, weights, biases, rng
            )
        self.weights_, self.biases_ = _fold_standardisation(weights, biases, mean, scale)
        self.n_features_in_ = X.shape[1]
        self.n_actions_ = P.shape[1]
        return self

    def _check_params(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ParameterError(f"activation must be one of {_ACTIVATIONS}; got {self.activation!r}.")
        if any(int(h) < 1 for h in self.hidden_sizes):
            raise ParameterError(f"hidden_sizes must hold positive unit counts; got {tuple(self.hidden_sizes)}. Use () for softmax regression.")
        if not 0.0 <= self.alpha <= 1.0:
            raise ParameterError(f"alpha must lie in [0, 1]; got {self.alpha!r}.")
        if not 0.0 <= self.val_fraction < 1.0:
            raise DataError(f"val_fraction must lie in [0, 1); got {self.val_fraction!r}.")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ParameterError("epochs, batch_size and patience must be ≥ 1.")
        if self.max_train_states is not None and self.max_train_states < 2:
            raise ParameterError(f"max_train_states must be ≥ 2 or None; got {self.max_train_states!r}.")

    def _train(self, Xs, P, w, train, val, weights, biases, rng):
        """Adam on pre-built tensors, sliced per batch (several times faster than a DataLoader).

        Keeps the epoch with the best validation fidelity, ties broken by the lower validation
        loss; stops once fidelity has not improved for ``patience`` epochs.
        """
        import torch

        from hybrid.students.distill_loss import distillation_loss, soften

        def tensors(idx):
            return (
                torch.as_tensor(Xs[idx], dtype=torch.float32),
                torch.as_tensor(soften(P[idx], self.temperature), dtype=torch.float32),
                torch.as_tensor(P[idx].argmax(axis=1), dtype=torch.int64),
                torch.as_tensor(w[idx], dtype=torch.float32),
            )

        def loss_of(logits, soft, labels, weight):
            return distillation_loss(logits, soft, labels, temperature=self.temperature, alpha=self.alpha, weight=weight)

        model = _torch_mlp(weights, biases, self.activation)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        Xt, St, Lt, Wt = tensors(train)
        Xv, Sv, Lv, Wv = tensors(val)
        if len(val) and float(Wv.sum()) <= 0:  # validation states all weighted 0: judge them equally
            Wv = torch.ones_like(Wv)
        best, last_gain = (-1.0, -float("inf")), -1
        best_layers, best_epoch, epoch = _layers_of(model), -1, -1
        for epoch in range(self.epochs):
            perm = torch.as_tensor(rng.permutation(len(train)))
            Xp, Sp, Lp, Wp = Xt[perm], St[perm], Lt[perm], Wt[perm]
            for start in range(0, len(train), self.batch_size):
                end = start + self.batch_size
                loss = loss_of(model(Xp[start:end]), Sp[start:end], Lp[start:end], Wp[start:end])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if len(val) == 0:
                continue
            with torch.no_grad():
                logits = model(Xv)
                agree = (logits.argmax(dim=1) == Lv).to(torch.float64)
                score = (float((agree * Wv).sum() / Wv.sum()), -float(loss_of(logits, Sv, Lv, Wv)))
            if score[0] > best[0]:
                last_gain = epoch
            if score > best:
                best, best_layers, best_epoch = score, _layers_of(model), epoch
            if epoch - last_gain >= self.patience:
                break
        if len(val) == 0:
            return *_layers_of(model), epoch, epoch + 1, None
        return *best_layers, best_epoch, epoch + 1, best[0]

    # -- inference ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Action probabilities computed in numpy (double) from the student's own weights."""
        self._check_fitted()
        h = check_states(X, n_features=self.n_features_in_).astype(np.float64)
        return _softmax(self._logits(h))

    def predict(self, X: Any) -> np.ndarray:
        """Index of the most probable action: the argmax of the logits (the softmax is monotone,
        and skipping it halves the cost of one decision; the exports decide the same way)."""
        self._check_fitted()
        return np.argmax(self._logits(check_states(X, n_features=self.n_features_in_).astype(np.float64)), axis=1)

    def _logits(self, h: np.ndarray) -> np.ndarray:
        last = len(self.weights_) - 1
        for i, (W, b) in enumerate(zip(self.weights_, self.biases_)):
            h = np.dot(h, W.T)
            h += b
            if i < last and self.activation == "relu":
                np.maximum(h, 0.0, out=h)
            elif i < last:
                np.tanh(h, out=h)
        return h

    def torch_module(self) -> torch.nn.Module:
        """The fitted net as a float32 ``torch.nn.Sequential`` mapping raw states to logits."""
        self._check_fitted()
        return _torch_mlp(self.weights_, self.biases_, self.activation).eval()

    # -- cost and identity --------------------------------------------------------------------
    def cost(self) -> Cost:
        """Parameters = weights + biases; operations = multiply-adds of every layer (Σ in·out).

        Activations, the softmax and the final argmax are not counted — the same rule as for
        the teacher, whose cost is the multiply-adds of its Linear layers.
        """
        self._check_fitted()
        return Cost(
            parameters=int(sum(W.size + b.size for W, b in zip(self.weights_, self.biases_))),
            ops_per_decision=float(sum(W.size for W in self.weights_)),
            bytes=len(canonical_json(self.to_dict())),
        )

    def _state(self) -> dict[str, Any]:
        return {
            "feature_names": list(self.feature_names_),
            "action_names": list(self.action_names_),
            "layers": [{"weight": W.tolist(), "bias": b.tolist()} for W, b in zip(self.weights_, self.biases_)],
            "training": {
                "best_epoch": int(self.best_epoch_),
                "epochs_run": int(self.epochs_run_),
                "val_fidelity": self.val_fidelity_,
            },
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self.feature_names_, self.action_names_ = list(state["feature_names"]), list(state["action_names"])
        self.weights_ = [np.asarray(layer["weight"], dtype=np.float64) for layer in state["layers"]]
        self.biases_ = [np.asarray(layer["bias"], dtype=np.float64) for layer in state["layers"]]
        training = state["training"]
        self.best_epoch_ = training["best_epoch"]
        self.epochs_run_ = training["epochs_run"]
        self.val_fidelity_ = training["val_fidelity"]

    # -- exports ------------------------------------------------------------------------------
    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action index."""
        self._check_fitted()
        return f'"""MLP student {self.content_hash} (agent-distill): decide(state) -> action index."""\n\n' + self.python_function("decide")

    def python_function(self, name: str) -> str:
        """Source of ``def name(state) -> int`` (plus the constants it reads); used by hybrids too."""
        if sum(W.size for W in self.weights_) <= _UNROLL_MAX_OPS:
            return _python_unrolled(name, self.weights_, self.biases_, self.activation)
        return _python_looped(name, self.weights_, self.biases_, self.activation)

    def c_source(self) -> str:
        """A C99 header with ``static int decide(const double *state)`` (include <math.h> for tanh)."""
        self._check_fitted()
        return (
            f"/* MLP student {self.content_hash} (agent-distill): decide(state) -> action index. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n#include <math.h>\n\n" + self._c_function("decide") + "#endif\n"
        )

    def _c_function(self, name: str) -> str:
        """C source of ``static int name(const double *state)`` and its constant tables."""
        out, sizes = [], [self.weights_[0].shape[1]] + [W.shape[0] for W in self.weights_]
        for i, (W, b) in enumerate(zip(self.weights_, self.biases_)):
            rows = ",\n".join("    {" + ", ".join(map(repr, map(float, row))) + "}" for row in W)
            out.append(f"static const double {name}_w{i}[{W.shape[0]}][{W.shape[1]}] = {{\n{rows}\n}};\n")
            out.append(f"static const double {name}_b{i}[{b.size}] = {{{', '.join(map(repr, map(float, b)))}}};\n")
        act = "h > 0.0 ? h : 0.0" if self.activation == "relu" else "tanh(h)"
        body = [
            f"static int {name}(const double *state) {{",
            f"    double a[{max(sizes)}], z[{max(sizes)}];",
            "    int i, j, best = 0;",
            f"    for (i = 0; i < {sizes[0]}; ++i) a[i] = state[i];",
        ]
        for i, W in enumerate(self.weights_):
            post = "z[i] = h;" if i == len(self.weights_) - 1 else f"z[i] = {act};"
            body += [
                f"    for (i = 0; i < {W.shape[0]}; ++i) {{",
                f"        double h = {name}_b{i}[i];",
                f"        for (j = 0; j < {W.shape[1]}; ++j) h += {name}_w{i}[i][j] * a[j];",
                f"        {post}",
                "    }",
                f"    for (i = 0; i < {W.shape[0]}; ++i) a[i] = z[i];",
            ]
        body += [f"    for (i = 1; i < {sizes[-1]}; ++i) if (a[i] > a[best]) best = i;", "    return best;", "}\n"]
        return "".join(out) + "\n" + "\n".join(body)


# -- helpers ----------------------------------------------------------------------------------
def _initial_layers(sizes: list[int], rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """U(−1/√fan_in, 1/√fan_in) for weights and biases (torch's Linear default), drawn from ``rng``
    so initialisation does not touch torch's global generator."""
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, size=(fan_out, fan_in)))
        biases.append(rng.uniform(-bound, bound, size=fan_out))
    return weights, biases


def _torch_mlp(weights: list[np.ndarray], biases: list[np.ndarray], activation: str) -> torch.nn.Sequential:
    import torch

    layers: list[torch.nn.Module] = []
    for i, (W, b) in enumerate(zip(weights, biases)):
        linear = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
            linear.bias.copy_(torch.as_tensor(b, dtype=torch.float32))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def _layers_of(model: torch.nn.Sequential) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import torch

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    return ([m.weight.detach().numpy().copy() for m in linears], [m.bias.detach().numpy().copy() for m in linears])


def _fold_standardisation(weights, biases, mean, scale):
    """``W·((x − μ)/σ) + b = (W/σ)·x + (b − (W/σ)·μ)``: the artifact takes raw states. Rounded to
    float32 values (stored in float64 arrays) so the artifact is exact in JSON and in every export."""
    weights = [np.asarray(W, dtype=np.float64) for W in weights]
    biases = [np.asarray(b, dtype=np.float64) for b in biases]
    weights[0] = weights[0] / scale
    biases[0] = biases[0] - weights[0] @ mean
    as_f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    return [as_f32(W) for W in weights], [as_f32(b) for b in biases]


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


@contextlib.contextmanager
def _single_thread() -> Iterator[None]:
    """Train on one thread: tiny nets gain nothing from more, and the float reduction order (hence
    the weights and the content hash) then does not depend on the machine's core count."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _python_unrolled(name: str, weights, biases, activation: str) -> str:
    """Straight-line code: one expression per unit, no loops or lists."""
    names = [f"x{j}" for j in range(weights[0].shape[1])]
    lines = [f"def {name}(state):", f"    {', '.join(names)}{',' if len(names) == 1 else ''} = map(float, state)"]
    for i, (W, b) in enumerate(zip(weights, biases)):
        last = i == len(weights) - 1
        out = [f"{'o' if last else 'h'}{i}_{u}" for u in range(W.shape[0])]
        for u, (row, bias) in enumerate(zip(W, b)):
            terms = " + ".join(f"{float(c)!r} * {v}" for c, v in zip(row, names))
            lines.append(f"    {out[u]} = {float(bias)!r} + {terms}")
            if not last:
                act = f"{out[u]} if {out[u]} > 0.0 else 0.0" if activation == "relu" else f"_tanh({out[u]})"
                lines.append(f"    {out[u]} = {act}")
        names = out
    lines.append(f"    best, top = 0, {names[0]}")
    for a, v in enumerate(names[1:], start=1):
        lines += [f"    if {v} > top:", f"        best, top = {a}, {v}"]
    lines.append("    return best")
    head = "from math import tanh as _tanh\n\n\n" if activation == "tanh" else ""
    return head + "\n".join(lines) + "\n"


def _python_looped(name: str, weights, biases, activation: str) -> str:
    """Compact code for larger nets: the weights as nested lists, one comprehension per layer."""
    consts = []
    for i, (W, b) in enumerate(zip(weights, biases)):
        consts.append(f"_{name}_W{i} = {[[float(c) for c in row] for row in W]!r}")
        consts.append(f"_{name}_B{i} = {[float(c) for c in b]!r}")
    act = "_relu" if activation == "relu" else "_tanh"
    lines = [f"def {name}(state):", "    h = [float(v) for v in state]"]
    for i in range(len(weights)):
        unit = "sum(map(_mul, row, h), bias)" if i == len(weights) - 1 else f"{act}(sum(map(_mul, row, h), bias))"
        lines.append(f"    h = [{unit} for row, bias in zip(_{name}_W{i}, _{name}_B{i})]")
    lines.append("    return max(range(len(h)), key=h.__getitem__)")
    head = "from operator import mul as _mul\n"
    head += "from math import tanh as _tanh\n" if activation == "tanh" else ""
    if activation == "relu":
        head += "\n\ndef _relu(v):\n    return v if v > 0.0 else 0.0\n"
    return head + "\n\n" + "\n".join(consts) + "\n\n\n" + "\n".join(lines) + "\n"
