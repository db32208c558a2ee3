"""Training and layer helpers of the MLP families (``hybrid.students.mlp``): the shared loop and
the numpy ↔ torch conversions.

``train_layers`` is the one training loop of both MLPs: Adam over seeded shuffles, keeping the epoch with
the best validation score of the family's objective and stopping after ``patience`` epochs without
a gain. Initial weights are drawn from the student's own generator (never torch's), training runs
on one thread (so the float reduction order, hence the weights and the content hash, does not
depend on the machine), and the fitted layers are folded and rounded to float32 values.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported inside the functions that need it
    import torch

# (train tensors, validation tensors, loss_of(model, *batch), score_of(model, *validation) -> tuple, higher is better)
Objective = tuple[tuple[Any, ...], tuple[Any, ...], Callable[..., Any], Callable[..., tuple[float, ...]]]


def train_layers(net: Any, weights: list[np.ndarray], biases: list[np.ndarray], objective: Objective, rng: np.random.Generator) -> tuple[Any, ...]:
    """Adam on pre-built tensors, sliced per batch (several times faster than a DataLoader).

    Keeps the epoch with the best validation score (a tuple, compared in order); stops once its
    first entry has not improved for ``patience`` epochs. Returns ``(weights, biases, best
    epoch, epochs run, best score)``; without validation states, the last epoch and ``None``.
    """
    import torch

    fit, val, loss_of, score_of = objective
    n_train, n_val = len(fit[0]), len(val[0])
    model = torch_mlp(weights, biases, net.activation)
    opt = torch.optim.Adam(model.parameters(), lr=net.lr, weight_decay=net.weight_decay)
    best: tuple[float, ...] | None = None
    best_layers, best_epoch, last_gain, epoch = layers_of(model), -1, -1, -1
    for epoch in range(net.epochs):
        perm = torch.as_tensor(rng.permutation(n_train))
        shuffled = [t[perm] for t in fit]
        for start in range(0, n_train, net.batch_size):
            loss = loss_of(model, *(t[start : start + net.batch_size] for t in shuffled))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if n_val == 0:
            continue
        with torch.no_grad():
            score = score_of(model, *val)
        if best is None or score[0] > best[0]:
            last_gain = epoch
        if best is None or score > best:
            best, best_layers, best_epoch = score, layers_of(model), epoch
        if epoch - last_gain >= net.patience:
            break
    if n_val == 0:
        return *layers_of(model), epoch, epoch + 1, None
    return *best_layers, best_epoch, epoch + 1, best


def initial_layers(sizes: list[int], rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """U(−1/√fan_in, 1/√fan_in) for weights and biases (torch's Linear default), drawn from ``rng``
    so initialisation does not touch torch's global generator."""
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, size=(fan_out, fan_in)))
        biases.append(rng.uniform(-bound, bound, size=fan_out))
    return weights, biases


def torch_mlp(weights: list[np.ndarray], biases: list[np.ndarray], activation: str) -> torch.nn.Sequential:
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


def layers_of(model: torch.nn.Sequential) -> tuple[list[np.ndarray], list[np.ndarray]]:
    import torch

    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    return ([m.weight.detach().numpy().copy() for m in linears], [m.bias.detach().numpy().copy() for m in linears])


def fold_standardisation(weights, biases, mean, scale):
    """``W·((x − μ)/σ) + b = (W/σ)·x + (b − (W/σ)·μ)``: the artifact takes raw states. Rounded to
    float32 values (stored in float64 arrays) so the artifact is exact in JSON and in every export."""
    weights = [np.asarray(W, dtype=np.float64) for W in weights]
    biases = [np.asarray(b, dtype=np.float64) for b in biases]
    weights[0] = weights[0] / scale
    biases[0] = biases[0] - weights[0] @ mean
    as_f32 = lambda a: a.astype(np.float32).astype(np.float64)  # noqa: E731
    return [as_f32(W) for W in weights], [as_f32(b) for b in biases]


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    e /= e.sum(axis=1, keepdims=True)
    return e


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Train on one thread: tiny nets gain nothing from more, and the float reduction order (hence
    the weights and the content hash) then does not depend on the machine's core count."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
