"""MLPRegressorStudent: a tiny multilayer perceptron regressing the teacher's continuous actions.

The net ends in ``tanh`` scaled to the action bounds, ``low + (tanh(z) + 1) / 2 · (high − low)``,
so every output is a valid action by construction (the squash SAC and TD3 actors use). Trained
with Adam on the weighted squared error in the squashed ``[−1, 1]`` space, on standardised
states; the standardisation is then folded into the first layer and the weights rounded to
float32 values kept in float64, so numpy, the generated Python, the C header and the (double)
ONNX graph compute the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hybrid.errors import ParameterError
from hybrid.students._base import Cost, register
from hybrid.students._regressor import RegressorStudent
from hybrid.students.mlp import _fold_standardisation, _initial_layers, _layers_of, _single_thread, _torch_mlp
from provenance.hashing import canonical_json

_ACTIVATIONS = ("relu", "tanh")


@register
class MLPRegressorStudent(RegressorStudent):
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

    def _check_params(self) -> None:
        """Refuse hyperparameters the family cannot use."""
        if self.activation not in _ACTIVATIONS:
            raise ParameterError(f"activation must be one of {_ACTIVATIONS}; got {self.activation!r}.")
        if any(int(h) < 1 for h in self.hidden_sizes) or self.epochs < 1 or not self.lr > 0 or self.batch_size < 1:
            raise ParameterError("hidden_sizes must be ≥ 1 each, epochs and batch_size ≥ 1 and lr > 0.")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ParameterError(f"val_fraction must lie in [0, 1); got {self.val_fraction}.")

    def _fit(self, X: np.ndarray, A: np.ndarray, w: np.ndarray) -> None:
        """Train the net, keep the best validation epoch, fold the standardisation into layer 0."""
        rng = np.random.default_rng(self.random_state)
        n = X.shape[0]
        n_val = round(n * self.val_fraction) if n >= 10 else 0
        order = rng.permutation(n)
        val, train = np.sort(order[:n_val]), np.sort(order[n_val:])
        X64 = X.astype(np.float64)
        mean = X64[train].mean(axis=0)
        scale = X64[train].std(axis=0)
        scale = np.where(scale > 1e-8, scale, 1.0)
        U = 2.0 * (A - self.action_low_) / (self.action_high_ - self.action_low_) - 1.0  # targets in [-1, 1]
        sizes = [X.shape[1], *(int(h) for h in self.hidden_sizes), A.shape[1]]
        weights, biases = _initial_layers(sizes, rng)
        with _single_thread():
            weights, biases, self.n_epochs_ = self._train((X64 - mean) / scale, U, w, train, val, weights, biases, rng)
        self.weights_, self.biases_ = _fold_standardisation(weights, biases, mean, scale)

    def _train(
        self,
        Xs: np.ndarray,
        U: np.ndarray,
        w: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        rng: np.random.Generator,
    ) -> tuple[Any, Any, int]:
        """Adam on the weighted squared error of ``tanh(net(x))``; keeps the best validation epoch."""
        import torch

        model = _torch_mlp(weights, biases, self.activation)
        opt = torch.optim.Adam(model.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
        Xt, Ut, Wt = as_t(Xs[train]), as_t(U[train]), as_t(w[train] / w[train].mean())
        Xv, Uv, Wv = as_t(Xs[val]), as_t(U[val]), as_t(np.ones(len(val)))

        def loss_of(x: Any, u: Any, wt: Any) -> Any:
            return (((torch.tanh(model(x)) - u) ** 2).mean(dim=1) * wt).mean()

        best, best_layers, last_gain, epoch = float("inf"), _layers_of(model), 0, 0
        for epoch in range(self.epochs):
            perm = torch.as_tensor(rng.permutation(len(train)))
            for start in range(0, len(train), self.batch_size):
                idx = perm[start : start + self.batch_size]
                loss = loss_of(Xt[idx], Ut[idx], Wt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if len(val) == 0:
                continue
            with torch.no_grad():
                score = float(loss_of(Xv, Uv, Wv))
            if score < best:
                best, best_layers, last_gain = score, _layers_of(model), epoch
            if epoch - last_gain >= self.patience:
                break
        layers = _layers_of(model) if len(val) == 0 else best_layers
        return layers[0], layers[1], epoch + 1

    # -- inference ----------------------------------------------------------------------------
    def _raw(self, h: np.ndarray) -> np.ndarray:
        for i, (W, b) in enumerate(zip(self.weights_, self.biases_)):
            h = h @ W.T + b
            if i < len(self.weights_) - 1:
                h = np.maximum(h, 0.0) if self.activation == "relu" else np.tanh(h)
        return h

    def predict(self, X: Any) -> np.ndarray:
        """Actions ``low + (tanh(z) + 1) / 2 · (high − low)``: float64 ``[n, m]`` within the bounds."""
        from hybrid.students._base import check_states

        self._check_fitted()
        X = check_states(X, n_features=self.n_features_in_).astype(np.float64)
        u = np.tanh(self._raw(X))
        return self._clip(self.action_low_ + (u + 1.0) * 0.5 * (self.action_high_ - self.action_low_))

    def cost(self) -> Cost:
        """Multiply-adds of one decision (``in · out`` summed); parameters = weights + biases."""
        self._check_fitted()
        params = int(sum(W.size + b.size for W, b in zip(self.weights_, self.biases_)))
        return Cost(parameters=params, ops_per_decision=float(sum(W.size for W in self.weights_)), bytes=len(canonical_json(self.to_dict())))

    def _state(self) -> dict[str, Any]:
        return {
            **self._shared_state(),
            "weights": [W.tolist() for W in self.weights_],
            "biases": [b.tolist() for b in self.biases_],
            "n_epochs": self.n_epochs_,
        }

    def _set_state(self, state: dict[str, Any]) -> None:
        self._set_shared_state(state)
        self.weights_ = [np.asarray(W, dtype=np.float64) for W in state["weights"]]
        self.biases_ = [np.asarray(b, dtype=np.float64) for b in state["biases"]]
        self.n_epochs_ = int(state["n_epochs"])

    # -- exports ------------------------------------------------------------------------------
    def python_source(self) -> str:
        """A module whose ``decide(state)`` returns the action tuple (``math`` only)."""
        self._check_fitted()
        return f'"""mlp_regressor student {self.content_hash} (agent-distill): decide(state) -> action tuple."""\n\nimport math\n\n' + self.python_function(
            "decide"
        )

    def python_function(self, name: str) -> str:
        """Source of ``def name(state) -> tuple`` and the constants it reads (needs ``import math``)."""
        p = f"_{name.upper().strip('_')}"
        lines = [
            f"{p}_WEIGHTS = {[W.tolist() for W in self.weights_]!r}",
            f"{p}_BIASES = {[b.tolist() for b in self.biases_]!r}",
            f"{p}_LOW = {self.action_low_.tolist()!r}",
            f"{p}_HIGH = {self.action_high_.tolist()!r}",
            "",
            "",
            f"def {name}(state):",
            "    h = [float(v) for v in state]",
            f"    last = len({p}_WEIGHTS) - 1",
            f"    for i, (W, b) in enumerate(zip({p}_WEIGHTS, {p}_BIASES)):",
            "        z = [bj + sum(w * x for w, x in zip(row, h)) for row, bj in zip(W, b)]",
            "        h = z if i == last else [" + ("max(v, 0.0)" if self.activation == "relu" else "math.tanh(v)") + " for v in z]",
            "    out = []",
            f"    for v, lo, hi in zip(h, {p}_LOW, {p}_HIGH):",
            "        a = lo + (math.tanh(v) + 1.0) * 0.5 * (hi - lo)",
            "        out.append(min(max(a, lo), hi))",
            "    return tuple(out)",
        ]
        return "\n".join(lines) + "\n"

    def c_source(self) -> str:
        """A C99 header with ``static inline void decide(const double *state, double *action)``."""
        self._check_fitted()
        return (
            f"/* mlp_regressor student {self.content_hash} (agent-distill): decide(state, action) writes "
            f"{self.n_actions_} action value(s) within their bounds. */\n"
            "#ifndef AGENT_DISTILL_DECIDE_H\n#define AGENT_DISTILL_DECIDE_H\n#include <math.h>\n\n" + self._c_function("decide") + "\n#endif\n"
        )

    def _c_function(self, name: str) -> str:
        """C source of ``static inline void name(const double *state, double *action)`` and its constants."""
        p = f"AD_{name.upper()}"
        out = []
        for i, (W, b) in enumerate(zip(self.weights_, self.biases_)):
            flat = ", ".join(repr(float(v)) for v in W.ravel())
            out += [
                f"static const double {p}_W{i}[{W.size}] = {{{flat}}};",
                f"static const double {p}_B{i}[{b.size}] = {{{', '.join(repr(float(v)) for v in b)}}};",
            ]
        out += [
            f"static const double {p}_LOW[{self.n_actions_}] = {{{', '.join(repr(float(v)) for v in self.action_low_)}}};",
            f"static const double {p}_HIGH[{self.n_actions_}] = {{{', '.join(repr(float(v)) for v in self.action_high_)}}};",
            "",
            f"static inline void {name}(const double *state, double *action) {{",
        ]
        width = max(W.shape[0] for W in self.weights_)
        out += [f"    double a[{max(width, self.n_features_in_)}], z[{width}];", f"    for (int j = 0; j < {self.n_features_in_}; ++j) a[j] = state[j];"]
        last = len(self.weights_) - 1
        for i, W in enumerate(self.weights_):
            n_out, n_in = W.shape
            act = "z[j]" if i == last else ("(z[j] > 0.0 ? z[j] : 0.0)" if self.activation == "relu" else "tanh(z[j])")
            out += [
                f"    for (int j = 0; j < {n_out}; ++j) {{",
                f"        double s = {p}_B{i}[j];",
                f"        for (int k = 0; k < {n_in}; ++k) s += {p}_W{i}[j * {n_in} + k] * a[k];",
                "        z[j] = s;",
                "    }",
                f"    for (int j = 0; j < {n_out}; ++j) a[j] = {act};",
            ]
        out += [
            f"    for (int j = 0; j < {self.n_actions_}; ++j) {{",
            f"        double v = {p}_LOW[j] + (tanh(a[j]) + 1.0) * 0.5 * ({p}_HIGH[j] - {p}_LOW[j]);",
            f"        action[j] = v < {p}_LOW[j] ? {p}_LOW[j] : (v > {p}_HIGH[j] ? {p}_HIGH[j] : v);",
            "    }",
            "}",
        ]
        return "\n".join(out) + "\n"

    def _onnx_model(self) -> Any:
        """An ONNX graph in double: ``state [n, d]`` → Gemm/activation layers → ``action [n, m]``."""
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        from hybrid.exports.onnx import IR_VERSION, OPSET

        nodes, inits, h = [], [], "state64"
        nodes.append(helper.make_node("Cast", ["state"], ["state64"], to=TensorProto.DOUBLE, name="to_double"))
        last = len(self.weights_) - 1
        for i, (W, b) in enumerate(zip(self.weights_, self.biases_)):
            inits += [numpy_helper.from_array(W, name=f"W{i}"), numpy_helper.from_array(b, name=f"b{i}")]
            nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"b{i}"], [f"z{i}"], transB=1, name=f"layer{i}"))
            h = f"z{i}"
            if i < last:
                act = "Relu" if self.activation == "relu" else "Tanh"
                nodes.append(helper.make_node(act, [h], [f"h{i}"], name=f"{act.lower()}{i}"))
                h = f"h{i}"
        half = 0.5 * (self.action_high_ - self.action_low_)
        inits += [
            numpy_helper.from_array(half, name="half_range"),
            numpy_helper.from_array(self.action_low_ + half, name="mid"),
            numpy_helper.from_array(self.action_low_, name="low"),
            numpy_helper.from_array(self.action_high_, name="high"),
        ]
        nodes += [
            helper.make_node("Tanh", [h], ["u"], name="squash"),
            helper.make_node("Mul", ["u", "half_range"], ["scaled"], name="scale"),
            helper.make_node("Add", ["scaled", "mid"], ["shifted"], name="shift"),
            helper.make_node("Max", ["shifted", "low"], ["above"], name="clip_low"),
            helper.make_node("Min", ["above", "high"], ["action"], name="clip_high"),
        ]
        graph = helper.make_graph(
            nodes,
            "mlp_regressor_student",
            [helper.make_tensor_value_info("state", TensorProto.FLOAT, ["n", self.n_features_in_])],
            [helper.make_tensor_value_info("action", TensorProto.DOUBLE, ["n", self.n_actions_])],
            initializer=inits,
        )
        model = helper.make_model(
            graph,
            producer_name="agent-distill",
            opset_imports=[helper.make_opsetid("", OPSET)],
            doc_string=f"mlp_regressor student {self.content_hash}: raw states in, bounded actions out.",
        )
        model.ir_version = IR_VERSION
        helper.set_model_props(model, {"content_hash": self.content_hash, "family": self.family})
        onnx.checker.check_model(model)
        return model
