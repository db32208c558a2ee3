"""The knowledge-distillation loss of Hinton et al. (2015), on teacher probabilities.

``loss = α·T²·KL(teacher_T ‖ student_T) + (1 − α)·CE(student, teacher argmax)``

The teacher often hands us probabilities, not logits; ``log p`` is a logit vector up to a
constant, so softening at temperature ``T`` is ``p^(1/T)`` renormalised. The ``T²`` factor
keeps the soft-target gradients at the same scale whatever the temperature (their magnitude
falls as ``1/T²``). Imports torch: only torch-based students import this module.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from hybrid.errors import DataError


def soften(P: np.ndarray, temperature: float) -> np.ndarray:
    """Teacher probabilities at temperature ``T``: ``p^(1/T)`` renormalised per row (zeros stay 0)."""
    if not temperature > 0:
        raise DataError(f"temperature must be > 0; got {temperature!r}. Use 1.0 for no softening.")
    p = np.asarray(P, dtype=np.float64)
    soft = np.power(p, 1.0 / temperature)
    return soft / soft.sum(axis=1, keepdims=True)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_soft: torch.Tensor,
    teacher_labels: torch.Tensor,
    *,
    temperature: float,
    alpha: float,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean (optionally weighted) distillation loss over a batch.

    ``teacher_soft`` is the teacher's distribution already softened at ``temperature`` (see
    :func:`soften`, computed once per dataset rather than per batch); ``teacher_labels`` its
    argmax. ``weight`` multiplies each state's loss (normalise it to mean 1 over the data so the
    learning rate means the same with and without weights).
    """
    log_q = F.log_softmax(student_logits / temperature, dim=1)
    # KL(p ‖ q) = Σ p·log p − p·log q, with 0·log 0 = 0 (xlogy) for actions the teacher never takes.
    kl = (torch.xlogy(teacher_soft, teacher_soft) - teacher_soft * log_q).sum(dim=1)
    ce = F.cross_entropy(student_logits, teacher_labels, reduction="none")
    per_state = alpha * temperature**2 * kl + (1.0 - alpha) * ce
    if weight is not None:
        per_state = per_state * weight
    return per_state.mean()
