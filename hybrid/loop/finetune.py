"""Distill, then fine-tune with reinforcement learning: a new student whose parent is recorded.

``finetune_mlp`` runs a compact PPO (Schulman et al. 2017; the update follows CleanRL's
``ppo.py``) started from an MLP student's own weights — or from a hybrid's fallback MLP, where
only the states the MLP decides take gradient steps and the rules keep acting as they are. A KL
penalty ``kl_coef · KL(π_θ ‖ π_anchor)`` holds the policy near the distilled student (default)
or the teacher, so return can rise in a shifted world without forgetting the original one.

Fine-tuning never edits the student it was given: it returns a ``Finetuned`` record holding a
new student (new weights, so a new content hash), its parent's hash, and the environment, steps
and seed, which ``record_finetune`` appends to the ledger as a model entry whose parent is the
distilled one. Checkpoints are compared on seeded *selection* episodes (``hybrid.loop.paired``), the
start included, so the returned student is never worse there than the one it started from.
Trees and rule lists keep their structure and change leaf actions instead
(``hybrid.loop.finetune_leaves``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from hybrid.envs.adapter import episode_seeds, run_episodes
from hybrid.errors import DataError
from hybrid.loop.paired import paired_gain


@dataclass(frozen=True)
class EnvSpec:
    """A gymnasium environment id plus keyword arguments (e.g. LunarLander's wind), as recorded."""

    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def make(self) -> gym.Env:
        try:
            return gym.make(self.env_id, **self.kwargs)
        except gym.error.Error as e:
            raise DataError(f"cannot make environment {self.env_id!r} with {self.kwargs}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "kwargs": dict(self.kwargs)}


def env_spec(env: str | EnvSpec | tuple[str, dict[str, Any]]) -> EnvSpec:
    """An ``EnvSpec`` from an id, an ``(id, kwargs)`` pair or an ``EnvSpec``; an ``Env`` object is
    refused because the ledger must be able to name the world a model was tuned in."""
    if isinstance(env, EnvSpec):
        return env
    if isinstance(env, str):
        return EnvSpec(env)
    if isinstance(env, tuple) and len(env) == 2 and isinstance(env[0], str) and isinstance(env[1], dict):
        return EnvSpec(env[0], dict(env[1]))
    raise DataError(f"env must be a gymnasium id, an (id, kwargs) pair or an EnvSpec; got {type(env).__name__} (the ledger records the environment by name)")


@dataclass(frozen=True)
class Finetuned:
    """A fine-tuned student and what made it: parent hash, method, world, steps, seed, figures."""

    student: Any
    parent_hash: str
    method: str
    env: EnvSpec
    steps: int
    seed: int
    selection: dict[str, Any]
    history: tuple[dict[str, Any], ...] = ()
    anchor_hash: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.student.content_hash != self.parent_hash)

    def ledger_item(self) -> dict[str, Any]:
        """The model entry: subject the new hash, parents the distilled student (and the anchor teacher)."""
        parents = [self.parent_hash] + ([self.anchor_hash] if self.anchor_hash and self.anchor_hash != self.parent_hash else [])
        cost = self.student.cost().to_dict()
        return {
            "kind": "model",
            "subject": self.student.content_hash,
            "parents": parents,
            "attrs": {
                "family": self.student.family,
                "role": "fine-tuned",
                "method": self.method,
                "env": self.env.to_dict(),
                "steps": self.steps,
                "seed": self.seed,
                "selection": self.selection,
                "cost": cost,
            },
        }


def record_finetune(result: Finetuned, ledger: Any, key: Any) -> Any:
    """Append ``result``'s model entry (parent: the distilled student) and return it; a result
    that kept no change is refused, since it is its parent and there is no new model."""
    if not result.changed:
        raise DataError(
            f"fine-tuning kept no change, so the student is still its parent {result.parent_hash[:19]}…; there is no new model to "
            "record (check result.changed first, or fine-tune longer / with more episodes)"
        )
    (entry,) = ledger.append_many([result.ledger_item()], key=key)
    return entry


def greedy_returns(spec: EnvSpec, student: Any, seeds: list[int]) -> tuple[np.ndarray, int]:
    """Greedy returns of ``student`` on ``seeds`` and the environment steps they took."""
    env = spec.make()
    try:
        states, rewards = run_episodes(env, lambda x: int(student.predict(x[None, :])[0]), seeds)
    finally:
        env.close()
    return np.array([sum(r) for r in rewards]), int(sum(len(s) for s in states))


def guard_ok(new: np.ndarray, old: np.ndarray, tolerance: float) -> bool:
    """Whether ``new`` keeps ``old``'s return there: the mean drop is at most ``tolerance`` of
    ``|mean(old)|`` (a guard world where the change must not cost more than that)."""
    return float(np.mean(new) - np.mean(old)) >= -tolerance * abs(float(np.mean(old)))


def _mlp_of(student: Any) -> tuple[Any, Any]:
    """(the MLP to tune, the routing student or None): an MLP student, or a hybrid's fallback."""
    family = getattr(student, "family", "")
    if family == "mlp":
        return student, None
    if family == "hybrid" and getattr(student, "mlp_", None) is not None:
        return student.mlp_, student
    raise DataError(
        f"finetune_mlp tunes MLP students and a hybrid's MLP fallback; got a {family or type(student).__name__!r} student "
        "(trees and rule lists: use hybrid.loop.finetune_leaves.improve_leaves)"
    )


def _with_layers(student: Any, weights: list[np.ndarray], biases: list[np.ndarray]) -> Any:
    """A new student: ``student``'s canonical form with the MLP layers replaced (float32 values)."""
    from hybrid.students import Student

    data = student.to_dict()
    state = data["state"] if data["family"] == "mlp" else data["state"]["mlp"]["state"]
    state["layers"] = [
        {"weight": W.astype(np.float32).astype(np.float64).tolist(), "bias": b.astype(np.float32).astype(np.float64).tolist()} for W, b in zip(weights, biases)
    ]
    return Student.from_dict(data)


@dataclass(frozen=True)
class PPOConfig:
    """Compact PPO settings (CleanRL defaults scaled to one environment)."""

    rollout_steps: int = 2048
    epochs: int = 4
    minibatch: int = 256
    lr: float = 3e-4
    critic_lr: float = 1e-3
    gamma: float = 0.999
    gae_lambda: float = 0.98
    clip: float = 0.2
    temperature: float = 1.0  # sampling policy: softmax(logits / temperature); greedy is unchanged
    critic_warmup: int = 2  # rollouts that train only the fresh critic before the policy moves
    reward_scale: float = 0.01


def finetune_mlp(
    student: Any,
    env: str | EnvSpec | tuple[str, dict[str, Any]],
    *,
    steps: int,
    seed: int,
    anchor: Any = None,
    kl_coef: float = 0.1,
    select_episodes: int = 20,
    checkpoints: int = 4,
    guard: Any = None,
    guard_tolerance: float = 0.02,
    config: PPOConfig | None = None,
) -> Finetuned:
    """PPO fine-tuning of an MLP student (or a hybrid's MLP) for ``steps`` environment steps.

    ``anchor``: what the KL penalty holds the policy near — ``None`` for the distilled student
    itself, or a teacher (anything with ``predict_proba``). ``checkpoints`` evenly spaced
    checkpoints and the start are scored on ``select_episodes`` seeded selection episodes
    (seed stream ``seed``); the best by mean return ships, and with a ``guard`` world (an id or
    ``(id, kwargs)``) only checkpoints keeping ``guard``'s return within ``guard_tolerance`` of
    the start qualify.
    """
    import torch

    cfg = config or PPOConfig()
    spec = env_spec(env)
    guard_spec = None if guard is None else env_spec(guard)
    mlp, router = _mlp_of(student)
    if steps < cfg.rollout_steps or kl_coef < 0 or select_episodes < 2 or checkpoints < 1:
        raise DataError(
            f"steps must be ≥ rollout_steps ({cfg.rollout_steps}), kl_coef ≥ 0, select_episodes ≥ 2 and checkpoints ≥ 1; got {steps}, {kl_coef}, {select_episodes}, {checkpoints}"
        )
    torch.manual_seed(seed)
    frozen = mlp.torch_module().eval()

    def anchor_fn(X: np.ndarray) -> np.ndarray:
        if anchor is not None:
            return np.asarray(anchor.predict_proba(X))
        with torch.no_grad():  # the distilled student's own sampling policy, at the same temperature
            return torch.softmax(frozen(torch.from_numpy(X)) / cfg.temperature, dim=1).numpy()

    rng = np.random.default_rng(seed)
    policy = mlp.torch_module().train()
    n_in = mlp.n_features_in_
    critic = torch.nn.Sequential(torch.nn.Linear(n_in, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    opt_pi = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    opt_v = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
    environment = spec.make()
    train_seeds = iter(episode_seeds(seed + 1, 100_000))
    obs, _ = environment.reset(seed=next(train_seeds))
    n_updates = steps // cfg.rollout_steps
    marks = sorted({max(1, round(n_updates * (i + 1) / checkpoints)) for i in range(checkpoints)})
    snapshots = [(0, student)]
    history: list[dict[str, Any]] = []
    try:
        for update in range(1, n_updates + 1):
            batch = _rollout(environment, policy, router, obs, cfg, rng, train_seeds)
            obs = batch["next_obs"]
            _ppo_update(policy, critic, opt_pi, opt_v, batch, anchor_fn, kl_coef, cfg, train_policy=update > cfg.critic_warmup, rng=rng)
            history.append({"update": update, "episode_returns": batch["finished"]})
            if update in marks:
                layers = [(m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in policy if isinstance(m, torch.nn.Linear)]
                tuned = _with_layers(student, [w for w, _ in layers], [b for _, b in layers])
                snapshots.append((update * cfg.rollout_steps, tuned))
    finally:
        environment.close()
    chosen, selection = _select(snapshots, spec, guard_spec, guard_tolerance, select_episodes, seed)
    return Finetuned(
        student=chosen,
        parent_hash=student.content_hash,
        method=f"ppo+kl({kl_coef:g}, anchor={'student' if anchor is None else 'teacher'})",
        env=spec,
        steps=n_updates * cfg.rollout_steps,
        seed=seed,
        selection=selection,
        history=tuple({"update": h["update"], "mean_train_return": float(np.mean(h["episode_returns"])) if h["episode_returns"] else None} for h in history),
        anchor_hash=None if anchor is None else getattr(anchor, "content_hash", None),
    )


def _select(snapshots: list[tuple[int, Any]], spec: EnvSpec, guard: EnvSpec | None, tolerance: float, episodes: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """Score every snapshot on the same selection episodes; ship the best one that keeps the guard."""
    seeds = episode_seeds(seed, episodes)
    start, _ = greedy_returns(spec, snapshots[0][1], seeds)
    start_guard = None if guard is None else greedy_returns(guard, snapshots[0][1], seeds)[0]
    scored = []
    for at, s in snapshots:
        r = start if at == 0 else greedy_returns(spec, s, seeds)[0]
        ok = guard is None or at == 0 or guard_ok(greedy_returns(guard, s, seeds)[0], start_guard, tolerance)  # type: ignore[arg-type]
        scored.append({"at_steps": at, "mean_return": float(r.mean()), "guard_ok": bool(ok), "gain": paired_gain(r, start).__dict__ if at else None})
    best = max((i for i, s in enumerate(scored) if s["guard_ok"]), key=lambda i: (scored[i]["mean_return"], -i))
    return snapshots[best][1], {"episodes": episodes, "seed_stream": seed, "checkpoints": scored, "shipped_at_steps": scored[best]["at_steps"]}


def _rollout(env: gym.Env, policy: Any, router: Any, obs: np.ndarray, cfg: PPOConfig, rng: np.random.Generator, seeds: Any) -> dict[str, Any]:
    """``rollout_steps`` steps sampling the tempered policy; rule-decided states (hybrid) act by
    their rule and are marked so they take no gradient."""
    import torch

    X, A, R, D, own = [], [], [], [], []
    finished: list[float] = []
    total = 0.0
    for _ in range(cfg.rollout_steps):
        x = np.asarray(obs, dtype=np.float32).reshape(-1)
        ruled = router is not None and bool(router._decided(x[None, :])[0])
        if ruled:
            a = int(router.predict(x[None, :])[0])
        else:
            with torch.no_grad():
                p = torch.softmax(policy(torch.from_numpy(x[None, :]))[0] / cfg.temperature, dim=0).double().numpy()
            a = int(rng.choice(len(p), p=p / p.sum()))
        obs, reward, terminated, truncated, _ = env.step(a)
        total += float(reward)
        X.append(x)
        A.append(a)
        R.append(float(reward))
        D.append(terminated)
        own.append(not ruled)
        if terminated or truncated:
            finished.append(total)
            total = 0.0
            obs, _ = env.reset(seed=next(seeds))
            D[-1] = True  # a cut episode is treated as ended too: no bootstrap across the reset
    return {"X": np.stack(X), "A": np.array(A), "R": np.array(R), "D": np.array(D), "own": np.array(own), "next_obs": obs, "finished": finished}


def _ppo_update(
    policy: Any,
    critic: Any,
    opt_pi: Any,
    opt_v: Any,
    batch: dict[str, Any],
    anchor_fn: Any,
    kl_coef: float,
    cfg: PPOConfig,
    *,
    train_policy: bool,
    rng: np.random.Generator,
) -> None:
    """GAE advantages, then clipped-surrogate + KL-to-anchor epochs on minibatches."""
    import torch

    X = torch.from_numpy(batch["X"])
    A = torch.from_numpy(batch["A"])
    with torch.no_grad():
        V = critic(X).squeeze(1).double().numpy()
        v_last = float(critic(torch.as_tensor(np.asarray(batch["next_obs"], dtype=np.float32)[None, :]))[0, 0])  # bootstraps the cut-off tail
        old_logp = torch.log_softmax(policy(X) / cfg.temperature, dim=1).gather(1, A[:, None]).squeeze(1)
    R, D = batch["R"] * cfg.reward_scale, batch["D"]
    adv = np.zeros(len(R))
    last = 0.0
    for t in reversed(range(len(R))):
        nxt = 0.0 if D[t] else (v_last if t == len(R) - 1 else V[t + 1])
        delta = R[t] + cfg.gamma * nxt - V[t]
        last = delta + cfg.gamma * cfg.gae_lambda * (0.0 if D[t] else last)
        adv[t] = last
    returns = torch.from_numpy(adv + V).float()
    adv_t = torch.from_numpy((adv - adv.mean()) / (adv.std() + 1e-8)).float()
    anchor = torch.from_numpy(np.asarray(anchor_fn(batch["X"]), dtype=np.float32)).clamp_min(1e-8)
    own = torch.from_numpy(batch["own"])
    for _ in range(cfg.epochs):
        for idx in np.array_split(rng.permutation(len(R)), max(1, len(R) // cfg.minibatch)):
            i = torch.from_numpy(idx)
            v_loss = ((critic(X[i]).squeeze(1) - returns[i]) ** 2).mean()
            opt_v.zero_grad()
            v_loss.backward()
            opt_v.step()
            if not train_policy or not own[i].any():
                continue
            j = i[own[i]]
            logp_all = torch.log_softmax(policy(X[j]) / cfg.temperature, dim=1)
            ratio = torch.exp(logp_all.gather(1, A[j, None]).squeeze(1) - old_logp[j])
            surrogate = torch.min(ratio * adv_t[j], torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * adv_t[j]).mean()
            kl = (logp_all.exp() * (logp_all - anchor[j].log())).sum(dim=1).mean()
            loss = -surrogate + kl_coef * kl
            opt_pi.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
            opt_pi.step()
