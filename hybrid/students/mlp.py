"""MLPs for both kinds of action: ``MLPStudent`` distils the teacher's probabilities and
``MLPRegressorStudent`` regresses the teacher's continuous actions through a tanh squash.

Both are a fully connected net ``d → hidden_sizes… → outputs`` kept as plain weights
(``weights_``, ``biases_``, base ``MLPLayers``) that take raw states: trained on standardised
states, the standardisation is then folded into the first layer and the weights rounded to
float32 values kept in float64, so the artifact lists them exactly and numpy, the generated
Python, the C header and ONNX compute in double from the same numbers. They share the forward
pass, the cost, the torch module, the Python and C layer code, the hyperparameter checks and the
training loop (``hybrid.students._net.train_layers``: Adam over seeded shuffles on one thread,
keeping the epoch with the best validation score and stopping after ``patience`` epochs without a
gain). Each kind brings its objective — the loss, and the validation score whose first entry
counts as a gain:

- ``MLPStudent`` (``_distil``): the loss of Hinton et al. (2015) (see
  :mod:`hybrid.students.distill_loss`); the score is fidelity (agreement with the teacher's
  argmax), ties broken by the lower loss. It decides the argmax of the logits.
- ``MLPRegressorStudent`` (``_regress``): the weighted squared error in the squashed ``[−1, 1]``
  space (the squash SAC and TD3 actors use); the score is the lower validation error. Its action
  is ``low + (tanh(z) + 1) / 2 · (high − low)``, clipped to the bounds.

Inference runs in numpy from the student's own arrays; torch is needed only to train (and by
:meth:`MLPLayers.torch_module`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hybrid.errors import DataError, ParameterError
from hybrid.students._base import BoxStudent, Cost, Student, check_states, register
from hybrid.students._net import Objective, fold_standardisation, initial_layers, single_thread, softmax, torch_mlp, train_layers
from provenance.hashing import canonical_json

if TYPE_CHECKING:  # torch is imported inside the functions that need it
    import torch

_ACTIVATIONS = ("relu", "tanh")
_TEMPERING = ((2.0, 0.7), (1.0, 0.3), (4.0, 0.9))  # (temperature, alpha) pairs worth searching
_HIDDEN = ((), (2,), (4,), (8,), (16,), (32,), (16, 16), (64,), (32, 32))  # searched widths, cheapest first
# Nets with at most this many multiply-adds are exported as straight-line code (no loops):
# several times faster in CPython for the tiny students that matter most at the edge.
_UNROLL_MAX_OPS = 512


class MLPLayers(Student):
    """What both MLPs share: the layers, the forward pass, cost, checks, training and layer code.

    Subclasses take ``hidden_sizes``, ``activation``, ``epochs``, ``lr``, ``batch_size``,
    ``weight_decay``, ``val_fraction``, ``patience`` and ``random_state``, and fit with
    ``_fit_layers`` and their objective.
    """

    weights_: list[np.ndarray]
    biases_: list[np.ndarray]
    activation: str
    hidden_sizes: Sequence[int]

    def _check_params(self) -> None:
        if self.activation not in _ACTIVATIONS:
            raise ParameterError(f"activation must be one of {_ACTIVATIONS}; got {self.activation!r}.")
        if any(int(h) < 1 for h in self.hidden_sizes):
            raise ParameterError(f"hidden_sizes must hold positive unit counts; got {tuple(self.hidden_sizes)}. Use () for a linear net.")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ParameterError(f"val_fraction must lie in [0, 1); got {self.val_fraction!r}.")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1 or not self.lr > 0:
            raise ParameterError("epochs, batch_size and patience must be ≥ 1 and lr > 0.")

    def _fit_layers(
        self, X: np.ndarray, n_out: int, w: np.ndarray, rng: np.random.Generator, objective: Callable[..., Objective]
    ) -> tuple[int, int, tuple[float, ...] | None]:
        """Hold out ``val_fraction`` of the states (seeded; none below 10 states), train on the
        standardised rest with ``objective(Xs, w, train, val)``, fold the standardisation into the
        first layer; returns ``(best epoch, epochs run, best validation score or None)``."""
        n = X.shape[0]
        n_val = int(round(self.val_fraction * n)) if n >= 10 else 0
        order = rng.permutation(n)
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        if w[train].sum() <= 0:
            raise DataError("every training state has sample_weight 0; give some states a positive weight.")
        X64 = X.astype(np.float64)
        mean, scale = X64[train].mean(axis=0), X64[train].std(axis=0)
        scale[scale < 1e-8] = 1.0  # a constant feature carries no signal; leave it unscaled
        weights, biases = initial_layers([X.shape[1], *map(int, self.hidden_sizes), n_out], rng)
        with single_thread():
            weights, biases, best_epoch, epochs_run, score = train_layers(
                self, weights, biases, objective((X64 - mean) / scale, w / w[train].mean(), train, val), rng
            )
        self.weights_, self.biases_ = fold_standardisation(weights, biases, mean, scale)
        return best_epoch, epochs_run, score

    def _outputs(self, X: Any) -> np.ndarray:
        """The last layer's outputs (logits, or pre-squash actions), in numpy double."""
        self._check_fitted()
        h = check_states(X, n_features=self.n_features_in_).astype(np.float64)
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
        """The fitted net as a float32 ``torch.nn.Sequential`` mapping raw states to its outputs."""
        self._check_fitted()
        return torch_mlp(self.weights_, self.biases_, self.activation).eval()

    def cost(self) -> Cost:
        """Parameters = weights + biases; operations = multiply-adds of every layer (Σ in·out).

        Activations, the softmax, the squash and the final argmax are not counted — the same rule
        as for the teacher, whose cost is the multiply-adds of its Linear layers.
        """
        self._check_fitted()
        return Cost(
            parameters=int(sum(W.size + b.size for W, b in zip(self.weights_, self.biases_))),
            ops_per_decision=float(sum(W.size for W in self.weights_)),
            bytes=len(canonical_json(self.to_dict())),
        )

    def _python_net(self, name: str, head: Callable[[list[str]], list[str]], *, tanh: bool = False) -> str:
        """Source of ``def name(state)``: the layers (straight-line for small nets, else loops
        over constant tables), then ``head(outputs)``, the lines turning the last layer's output
        expressions into the decision. ``tanh`` imports ``_tanh`` for the head."""
        weights, biases, act = self.weights_, self.biases_, self.activation
        imports = "from math import tanh as _tanh\n" if tanh or act == "tanh" else ""
        if sum(W.size for W in weights) <= _UNROLL_MAX_OPS:
            names = [f"x{j}" for j in range(weights[0].shape[1])]
            lines = [f"def {name}(state):", f"    {', '.join(names)}{',' if len(names) == 1 else ''} = map(float, state)"]
            for i, (W, b) in enumerate(zip(weights, biases)):
                last = i == len(weights) - 1
                out = [f"{'o' if last else 'h'}{i}_{u}" for u in range(W.shape[0])]
                for u, (row, bias) in enumerate(zip(W, b)):
                    terms = " + ".join(f"{float(c)!r} * {v}" for c, v in zip(row, names))
                    lines.append(f"    {out[u]} = {float(bias)!r} + {terms}")
                    if not last:
                        lines.append(f"    {out[u]} = {out[u]} if {out[u]} > 0.0 else 0.0" if act == "relu" else f"    {out[u]} = _tanh({out[u]})")
                names = out
            return (imports + "\n\n" if imports else "") + "\n".join([*lines, *head(names)]) + "\n"
        consts = []
        for i, (W, b) in enumerate(zip(weights, biases)):
            consts.append(f"_{name}_W{i} = {[[float(c) for c in row] for row in W]!r}")
            consts.append(f"_{name}_B{i} = {[float(c) for c in b]!r}")
        lines = [f"def {name}(state):", "    h = [float(v) for v in state]"]
        for i in range(len(weights)):
            unit = "sum(map(_mul, row, h), bias)" if i == len(weights) - 1 else f"_{act}(sum(map(_mul, row, h), bias))"
            lines.append(f"    h = [{unit} for row, bias in zip(_{name}_W{i}, _{name}_B{i})]")
        head_src = "from operator import mul as _mul\n" + imports
        if act == "relu":
            head_src += "\n\ndef _relu(v):\n    return v if v > 0.0 else 0.0\n"
        outputs = [f"h[{j}]" for j in range(weights[-1].shape[0])]
        return head_src + "\n\n" + "\n".join(consts) + "\n\n\n" + "\n".join([*lines, *head(outputs)]) + "\n"

    def _c_net(self, name: str) -> tuple[str, list[str]]:
        """C constant tables ``{name}_w{i}[out][in]`` and ``{name}_b{i}``, and the body lines that
        run the layers on ``state`` into ``a[]`` (needs ``int i, j`` and ``double a[], z[]``)."""
        out, sizes = [], [self.weights_[0].shape[1]] + [W.shape[0] for W in self.weights_]
        for i, (W, b) in enumerate(zip(self.weights_, self.biases_)):
            rows = ",\n".join("    {" + ", ".join(map(repr, map(float, row))) + "}" for row in W)
            out.append(f"static const double {name}_w{i}[{W.shape[0]}][{W.shape[1]}] = {{\n{rows}\n}};\n")
            out.append(f"static const double {name}_b{i}[{b.size}] = {{{', '.join(map(repr, map(float, b)))}}};\n")
        act = "h > 0.0 ? h : 0.0" if self.activation == "relu" else "tanh(h)"
        body = [f"    double a[{max(sizes)}], z[{max(sizes)}];", f"    for (i = 0; i < {sizes[0]}; ++i) a[i] = state[i];"]
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
        return "".join(out), body


@register
class MLPStudent(MLPLayers):
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
    def _check_params(self) -> None:
        super()._check_params()
        if not 0.0 <= self.alpha <= 1.0:
            raise ParameterError(f"alpha must lie in [0, 1]; got {self.alpha!r}.")
        if self.max_train_states is not None and self.max_train_states < 2:
            raise ParameterError(f"max_train_states must be ≥ 2 or None; got {self.max_train_states!r}.")

    def _fit(self, X: np.ndarray, P: np.ndarray, w: np.ndarray | None) -> None:
        """Distil teacher probabilities ``P`` on states ``X`` (on a seeded subset with ``max_train_states``)."""
        rng = np.random.default_rng(self.random_state)
        if self.max_train_states is not None and X.shape[0] > self.max_train_states:
            keep = np.sort(rng.choice(X.shape[0], size=self.max_train_states, replace=False))
            X, P, w = X[keep], P[keep], None if w is None else w[keep]
        w = np.ones(X.shape[0]) if w is None else w
        self.best_epoch_, self.epochs_run_, score = self._fit_layers(X, P.shape[1], w, rng, lambda *split: _distil(self, P, *split))
        self.val_fidelity_ = None if score is None else score[0]

    # -- inference ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Action probabilities computed in numpy (double) from the student's own weights."""
        return softmax(self._outputs(X))

    def predict(self, X: Any) -> np.ndarray:
        """Index of the most probable action: the argmax of the logits (the softmax is monotone,
        and skipping it halves the cost of one decision; the exports decide the same way)."""
        return np.argmax(self._outputs(X), axis=1)

    # -- identity -----------------------------------------------------------------------------
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

        def argmax(outputs: list[str]) -> list[str]:
            lines = [f"    best, top = 0, {outputs[0]}"]
            for a, v in enumerate(outputs[1:], start=1):
                lines += [f"    if {v} > top:", f"        best, top = {a}, {v}"]
            return [*lines, "    return best"]

        return self._python_net(name, argmax)

    def c_source(self) -> str:
        """A C99 header with ``static int decide(const double *state)`` (include <math.h> for tanh)."""
        self._check_fitted()
        return (
            f"/* MLP student {self.content_hash} (agent-distill): decide(state) -> action index. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n#include <math.h>\n\n" + self.c_function("decide") + "#endif\n"
        )

    def c_function(self, name: str) -> str:
        """C source of ``static int name(const double *state)`` and its constant tables."""
        tables, layers = self._c_net(name)
        k = self.weights_[-1].shape[0]
        body = [f"static int {name}(const double *state) {{", "    int i, j, best = 0;", *layers]
        body += [f"    for (i = 1; i < {k}; ++i) if (a[i] > a[best]) best = i;", "    return best;", "}\n"]
        return tables + "\n" + "\n".join(body)


@register
class MLPRegressorStudent(MLPLayers, BoxStudent):
    """Fully connected net ``d → hidden_sizes… → m`` with a tanh squash to the action bounds.

    Parameters
    ----------
    hidden_sizes: units per hidden layer (``()`` is a squashed linear controller).
    activation: ``"relu"`` or ``"tanh"`` after every hidden layer.
    epochs, lr, batch_size, weight_decay: Adam training schedule.
    val_fraction: share of the fit data held out (seeded) to keep the epoch with the lowest
        validation error; 0 keeps the last epoch.
    patience: stop after this many epochs without a lower validation error.
    random_state: seed for the split, the initial weights and the shuffling.
    """

    family = "mlp_regressor"
    expensive = True
    fit_imports = ("torch",)
    searched_by_default = False  # continuous actions: AutoDistill searches it for continuous datasets
    search_order = 11
    colour = "#7570b3"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Hyperparameters AutoDistill tries, cheapest first."""
        return [{"hidden_sizes": list(h), "epochs": max(epochs, 100)} for h in ((), (4,), (8,), (16,), (32,), (16, 16), (64,))]

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (16,),
        activation: str = "tanh",
        epochs: int = 200,
        lr: float = 3e-3,
        batch_size: int = 256,
        weight_decay: float = 0.0,
        val_fraction: float = 0.1,
        patience: int = 20,
        random_state: int = 0,
    ) -> None:
        self.hidden_sizes = hidden_sizes
        self.activation = activation
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.patience = patience
        self.random_state = random_state

    def _fit(self, X: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:
        """Train on the actions mapped to ``[-1, 1]``; keeps the best validation epoch."""
        U = 2.0 * (A - self.action_low_) / (self.action_high_ - self.action_low_) - 1.0
        self.epochs_run_ = self._fit_layers(X, A.shape[1], w, np.random.default_rng(self.random_state), lambda *split: _regress(U, *split))[1]

    # -- inference ----------------------------------------------------------------------------
    def predict(self, X: Any) -> np.ndarray:
        """Actions ``low + (tanh(z) + 1) / 2 · (high − low)``: float64 ``[n, m]`` within the bounds."""
        u = np.tanh(self._outputs(X))
        return self._clip(self.action_low_ + (u + 1.0) * 0.5 * (self.action_high_ - self.action_low_))

    def _state(self) -> dict[str, Any]:
        return {
            **self._shared_state(),
            "weights": [W.tolist() for W in self.weights_],
            "biases": [b.tolist() for b in self.biases_],
            "n_epochs": self.epochs_run_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self._set_shared_state(state)
        self.weights_ = [np.asarray(W, dtype=np.float64) for W in state["weights"]]
        self.biases_ = [np.asarray(b, dtype=np.float64) for b in state["biases"]]
        self.epochs_run_ = int(state["n_epochs"])

    # -- exports ------------------------------------------------------------------------------
    def python_source(self) -> str:
        """A standard-library-only module whose ``decide(state)`` returns the action tuple."""
        self._check_fitted()
        return f'"""mlp_regressor student {self.content_hash} (agent-distill): decide(state) -> action tuple."""\n\n' + self.python_function("decide")

    def python_function(self, name: str) -> str:
        """Source of ``def name(state) -> tuple`` and the constants it reads; used by hybrids too."""

        def squash(outputs: list[str]) -> list[str]:
            parts = [
                f"min(max({lo!r} + (_tanh({v}) + 1.0) * 0.5 * ({hi!r} - {lo!r}), {lo!r}), {hi!r})"
                for v, lo, hi in zip(outputs, self.action_low_.tolist(), self.action_high_.tolist())
            ]
            return [f"    return ({', '.join(parts)},)"]

        return self._python_net(name, squash, tanh=True)

    def c_source(self) -> str:
        """A C99 header with ``static inline void decide(const double *state, double *action)``."""
        self._check_fitted()
        return (
            f"/* mlp_regressor student {self.content_hash} (agent-distill): decide(state, action) writes "
            f"{self.n_actions_} action value(s) within their bounds. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n#include <math.h>\n\n" + self.c_function("decide") + "\n#endif\n"
        )

    def c_function(self, name: str) -> str:
        """C source of ``static inline void name(const double *state, double *action)`` and its constants."""
        tables, layers = self._c_net(name)
        m = self.n_actions_
        bounds = [
            f"static const double {name}_low[{m}] = {{{', '.join(repr(float(v)) for v in self.action_low_)}}};",
            f"static const double {name}_high[{m}] = {{{', '.join(repr(float(v)) for v in self.action_high_)}}};",
        ]
        body = [f"static inline void {name}(const double *state, double *action) {{", "    int i, j;", *layers]
        body += [
            f"    for (i = 0; i < {m}; ++i) {{",
            f"        double v = {name}_low[i] + (tanh(a[i]) + 1.0) * 0.5 * ({name}_high[i] - {name}_low[i]);",
            f"        action[i] = v < {name}_low[i] ? {name}_low[i] : (v > {name}_high[i] ? {name}_high[i] : v);",
            "    }",
            "}",
        ]
        return tables + "\n".join(bounds) + "\n\n" + "\n".join(body) + "\n"


# -- the objectives of the two kinds ----------------------------------------------
def _distil(student: MLPStudent, P: np.ndarray, Xs: np.ndarray, w: np.ndarray, train: np.ndarray, val: np.ndarray) -> Objective:
    """Distillation on soft and hard labels; validation score (fidelity, −loss), weighted by ``w``
    (all states alike when the validation states all weigh 0)."""
    import torch

    from hybrid.students.distill_loss import distillation_loss, soften

    def tensors(idx: np.ndarray) -> tuple[Any, ...]:
        return (
            torch.as_tensor(Xs[idx], dtype=torch.float32),
            torch.as_tensor(soften(P[idx], student.temperature), dtype=torch.float32),
            torch.as_tensor(P[idx].argmax(axis=1), dtype=torch.int64),
            torch.as_tensor(w[idx], dtype=torch.float32),
        )

    def loss(logits: Any, soft: Any, labels: Any, weight: Any) -> Any:
        return distillation_loss(logits, soft, labels, temperature=student.temperature, alpha=student.alpha, weight=weight)

    def score(model: Any, x: Any, soft: Any, labels: Any, weight: Any) -> tuple[float, ...]:
        logits = model(x)
        agree = (logits.argmax(dim=1) == labels).to(torch.float64)
        return float((agree * weight).sum() / weight.sum()), -float(loss(logits, soft, labels, weight))

    Xv, Sv, Lv, Wv = tensors(val)
    if len(val) and float(Wv.sum()) <= 0:  # validation states all weighted 0: judge them equally
        Wv = torch.ones_like(Wv)
    return tensors(train), (Xv, Sv, Lv, Wv), lambda model, x, *rest: loss(model(x), *rest), score


def _regress(U: np.ndarray, Xs: np.ndarray, w: np.ndarray, train: np.ndarray, val: np.ndarray) -> Objective:
    """Weighted squared error of ``tanh(net(x))`` against the actions ``U`` in ``[-1, 1]``;
    validation score −error, every validation state alike."""
    import torch

    def as_t(a: np.ndarray) -> Any:
        return torch.as_tensor(a, dtype=torch.float32)

    def loss(model: Any, x: Any, u: Any, weight: Any) -> Any:
        return (((torch.tanh(model(x)) - u) ** 2).mean(dim=1) * weight).mean()

    fit = (as_t(Xs[train]), as_t(U[train]), as_t(w[train]))
    return fit, (as_t(Xs[val]), as_t(U[val]), as_t(np.ones(len(val)))), loss, lambda model, *v: (-float(loss(model, *v)),)
