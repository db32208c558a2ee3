"""stable-baselines3 models as teachers, and the torch figures every neural teacher reports.

``sb3_discrete`` adapts PPO/A2C (their action distribution's probabilities) and DQN (softmax of
its Q-values / temperature, Q-values exposed); ``sb3_box`` adapts SAC/TD3/DDPG (squashed actors)
and PPO/A2C with a ``Box`` (the clipped Gaussian mean), with the policy's std when it has one
and, for the off-policy ones, their first Q-network as the critic of actions (PPO's value head
is V(s), not a Q, so it is not offered).
Both take the ``hybrid.teachers.adapters.Request`` that ``as_teacher`` built. torch and
stable-baselines3 are imported only when a model is adapted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hybrid.errors import TeacherError
from hybrid.teachers.base import ArrayFn, ContinuousTeacher, CriticFn, Teacher
from provenance.hashing import hash_array, hash_json


def is_sb3_model(obj: Any) -> bool:
    """Whether ``obj`` is a stable-baselines3 model (checked by class module: no sb3 import)."""
    return any(c.__module__.startswith("stable_baselines3.") for c in type(obj).__mro__)


def linear_macs(module: Any) -> int:
    """Multiply-adds of every ``nn.Linear`` in a module: ``in * out`` summed."""
    from torch import nn

    return sum(m.in_features * m.out_features for m in module.modules() if isinstance(m, nn.Linear))


def module_hash(module: Any) -> str:
    """The ``sha256:…`` of a torch module's weights (each tensor hashed, then the mapping)."""
    return hash_json({k: hash_array(v.detach().cpu().numpy()) for k, v in module.state_dict().items()})


def sb3_discrete(model: Any, request: Any) -> Teacher:
    """PPO/A2C: the action distribution's probabilities; DQN: softmax of Q-values / temperature."""
    import torch
    from stable_baselines3 import DQN  # sb3 only imported when an SB3 model is passed

    policy = model.policy
    policy.set_training_mode(False)
    name, temperature = type(model).__name__, request.temperature

    def obs(X: np.ndarray) -> torch.Tensor:
        return policy.obs_to_tensor(X)[0]

    if isinstance(model, DQN):
        if temperature <= 0:
            raise TeacherError(f"temperature must be > 0 for a DQN teacher; got {temperature}")

        def q(X: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return model.q_net(obs(X)).float().numpy()

        proba = lambda X: torch.softmax(torch.from_numpy(q(X)) / temperature, dim=1).numpy()  # noqa: E731
        log_proba = lambda X: torch.log_softmax(torch.from_numpy(q(X)) / temperature, dim=1).numpy()  # noqa: E731
        q_fn, ops = q, linear_macs(model.q_net)
    else:
        if not hasattr(policy, "get_distribution"):
            raise TeacherError(f"{name} has no action distribution; pass a PPO, A2C or DQN model")

        def dist(X: np.ndarray) -> Any:
            with torch.no_grad():
                return policy.get_distribution(obs(X)).distribution

        proba = lambda X: dist(X).probs.float().numpy()  # noqa: E731
        log_proba = lambda X: dist(X).logits.float().numpy()  # noqa: E731  (Categorical logits are normalised)
        q_fn = None
        ops = linear_macs(policy.mlp_extractor.policy_net) + linear_macs(policy.action_net)
    n = int(model.action_space.n)
    return Teacher(
        proba,
        request.action_names or tuple(f"action_{i}" for i in range(n)),
        feature_names=request.feature_names,
        ops_per_decision=ops,
        q_fn=q_fn,
        log_proba_fn=log_proba,
        identity=f"sb3:{name}",
        content_hash=module_hash(policy),
    )


def sb3_box(model: Any, request: Any) -> Teacher:
    """SAC/TD3/DDPG (squashed actors) and PPO/A2C (Gaussian policies): the deterministic action
    (SB3's ``predict(deterministic=True)``), with the policy's std when it has one."""
    import torch

    policy = model.policy
    policy.set_training_mode(False)
    low, high = model.action_space.low.reshape(-1), model.action_space.high.reshape(-1)

    def act(X: np.ndarray) -> np.ndarray:
        return np.asarray(policy.predict(X, deterministic=True)[0], dtype=np.float32).reshape(len(X), -1)

    std_fn: ArrayFn | None = None
    actor = getattr(policy, "actor", None)
    if actor is not None:  # SAC, TD3, DDPG
        mean = actor.mu[0] if isinstance(actor.mu, torch.nn.Sequential) else actor.mu
        hidden = getattr(actor, "latent_pi", None)
        ops = linear_macs(actor) if hidden is None else linear_macs(hidden) + linear_macs(mean)
        if hasattr(actor, "get_action_dist_params") and not getattr(actor, "use_sde", False):

            def std_fn(X: np.ndarray) -> np.ndarray:  # tanh-squashed Gaussian: std carried to first order
                with torch.no_grad():
                    mu, log_std, _ = actor.get_action_dist_params(policy.obs_to_tensor(X)[0])
                    std = torch.exp(log_std) * (1 - torch.tanh(mu) ** 2) * torch.from_numpy((high - low) / 2)
                return std.float().numpy()
    else:  # PPO, A2C: Gaussian mean, SB3 clips it to the bounds before stepping
        ops = linear_macs(policy.mlp_extractor.policy_net) + linear_macs(policy.action_net)
        if not getattr(policy, "use_sde", False):

            def std_fn(X: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    return policy.get_distribution(policy.obs_to_tensor(X)[0]).distribution.stddev.float().numpy()

    critic_fn: CriticFn | None = None
    critic = getattr(policy, "critic", None)
    if critic is not None and hasattr(critic, "q1_forward"):  # SAC, TD3, DDPG: Q(s, a) on actions scaled to -1..1

        def critic_fn(X: np.ndarray, A: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                scaled = torch.as_tensor(policy.scale_action(A), dtype=torch.float32)
                return critic.q1_forward(policy.obs_to_tensor(X)[0], scaled).float().numpy().reshape(-1)

    return ContinuousTeacher(
        act,
        low,
        high,
        request.action_names,
        feature_names=request.feature_names,
        std_fn=std_fn,
        critic_fn=critic_fn,
        ops_per_decision=ops,
        identity=f"sb3:{type(model).__name__}",
        content_hash=module_hash(policy),
    )
