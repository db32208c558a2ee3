"""Where a student's training states come from, made explicit and mixable.

Four sources, each a ``DistillDataset`` whose rows are tagged with their source and with the
teacher that labelled them (``meta["rows"]``, kept through ``subset``/``split``/``concat``):

- ``"rollouts"``: the teacher's own greedy episodes (plain behaviour cloning data);
- ``"dagger"``: states a student visits when it acts, labelled by the teacher (Ross et al. 2011);
- ``"noisy"``: DART-style (Laskey et al. 2017) — the teacher acts with perturbations (a uniformly
  random action with probability ``epsilon``) so it visits the states its mistakes lead to,
  while every label stays the teacher's clean answer there;
- ``"logged"``: decisions recorded elsewhere (a trajectory store, JSONL, CSV).

A ``DataPool`` holds one dataset per source; ``pool.mix({"rollouts": 0.5, "dagger": 0.5}, n)``
draws a seeded dataset with those shares. Shares must name pooled sources and sum to 1; a bad
mix fails before any sampling with a message naming the fix. AutoDistill searches the shares
as a hyperparameter (``auto_search.mix_search``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hybrid.data.dataset import DistillDataset
from hybrid.envs.adapter import env_action_space, episode_seeds, make_env, run_episodes
from hybrid.errors import DataError
from hybrid.loop.rollouts import collect
from hybrid.loop.runners import policy_actions
from hybrid.teachers.adapters import as_teacher
from provenance.hashing import hash_json

SOURCES = ("rollouts", "dagger", "noisy", "logged")
SHARE_TOLERANCE = 1e-6


def teacher_names(teacher: Any, X: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Which teacher labelled each state: a mixture names the member that answered (or
    itself, where it averaged); any other teacher names itself. Returns (names, codes)."""
    labelled_by = getattr(teacher, "labelled_by", None)
    own = str(getattr(teacher, "identity", None) or type(teacher).__name__)
    if not callable(labelled_by):
        return [own], np.zeros(len(X), dtype=np.int64)
    members = [str(m.identity) for m in teacher.members]
    pick = np.asarray(labelled_by(X), dtype=np.int64)
    return [*members, own], np.where(pick < 0, len(members), pick)


def tag_rows(dataset: DistillDataset, *, source: str, teacher: Any = None, teacher_name: str | None = None) -> DistillDataset:
    """The same rows with per-row tags: ``source`` for all, and the labelling teacher per row."""
    if teacher is not None:
        names, codes = teacher_names(teacher, dataset.X)
    else:
        names, codes = [teacher_name or str(dataset.meta.get("teacher", "unknown"))], np.zeros(len(dataset), dtype=np.int64)
    rows = {"source": {"names": [source], "codes": [0] * len(dataset)}, "teacher": {"names": names, "codes": codes.tolist()}}
    return DistillDataset(
        dataset.X, dataset.P, dataset.action_names, dataset.feature_names, dataset.weights, {**dataset.meta, "rows": rows}, **dataset._kind_args()
    )


def row_tags(dataset: DistillDataset, kind: str) -> np.ndarray:
    """Per-row tag names of ``kind`` (``"source"`` or ``"teacher"``) as a string array."""
    tags = dataset.meta.get("rows", {}).get(kind)
    if tags is None:
        raise DataError(f"the dataset carries no per-row {kind!r} tags; build it with hybrid.loop.data_mix (teacher_rollouts, DataPool.mix) or tag_rows")
    return np.asarray(tags["names"], dtype=object)[np.asarray(tags["codes"], dtype=np.int64)]


def _discrete_env(env: Any) -> tuple[Any, bool]:
    env_obj, owned = make_env(env)
    if not hasattr(env_obj.action_space, "n"):
        if owned:
            env_obj.close()
        raise DataError("the dagger and noisy sources take Discrete action spaces; for a Box, collect with hybrid.collect(..., sample=True)")
    return env_obj, owned


def _labelled(teacher: Any, states: list[np.ndarray], source: str, seed: int, env_id: str) -> DistillDataset:
    X = np.concatenate(states)
    ds = DistillDataset(X, teacher.predict_proba(X), teacher.action_names, teacher.feature_names, None, {"source": source, "seed": seed, "env": env_id})
    return tag_rows(ds, source=source, teacher=teacher)


def teacher_rollouts(env: Any, teacher: Any, episodes: int, seed: int) -> DistillDataset:
    """Source ``"rollouts"``: the teacher's greedy episodes, tagged."""
    teacher = as_teacher(teacher)
    return tag_rows(collect(env, teacher, episodes, seed).dataset, source="rollouts", teacher=teacher)


def noisy_rollouts(env: Any, teacher: Any, episodes: int, seed: int, *, epsilon: float = 0.2) -> DistillDataset:
    """Source ``"noisy"`` (DART): the teacher acts, but a uniformly random action replaces its
    choice with probability ``epsilon``; every visited state is labelled with its clean answer."""
    if not 0.0 < epsilon <= 1.0:
        raise DataError(f"epsilon must lie in (0, 1] (the share of perturbed actions); got {epsilon}")
    teacher = as_teacher(teacher)
    env_obj, owned = _discrete_env(env)
    rng = np.random.default_rng(seed)
    n = int(env_obj.action_space.n)
    try:
        states, _ = run_episodes(
            env_obj, lambda x: int(rng.integers(n)) if rng.random() < epsilon else int(teacher.predict(x[None, :])[0]), episode_seeds(seed, episodes)
        )
        return _labelled(teacher, states, "noisy", seed, _env_id(env_obj))
    finally:
        if owned:
            env_obj.close()


def student_states(env: Any, teacher: Any, student: Any, episodes: int, seed: int) -> DistillDataset:
    """Source ``"dagger"``: states ``student`` visits acting greedily, labelled by the teacher."""
    teacher = as_teacher(teacher)
    env_obj, owned = _discrete_env(env)
    actions = policy_actions(student, env_action_space(env_obj))
    try:
        states, _ = run_episodes(env_obj, lambda x: int(actions(x[None, :])[0]), episode_seeds(seed, episodes))
        return _labelled(teacher, states, "dagger", seed, _env_id(env_obj))
    finally:
        if owned:
            env_obj.close()


def logged_decisions(dataset: DistillDataset, teacher_name: str | None = None) -> DistillDataset:
    """Source ``"logged"``: recorded decisions (e.g. ``TrajectoryStore.to_dataset()``), tagged."""
    return tag_rows(dataset, source="logged", teacher_name=teacher_name)


def _env_id(env: Any) -> str:
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(getattr(env, "unwrapped", env)).__name__


def parse_shares(text: str) -> dict[str, float]:
    """``"rollouts=0.5,dagger=0.5"`` → ``{"rollouts": 0.5, "dagger": 0.5}`` (checked by ``check_shares``)."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise DataError(f"cannot read share {part!r} in {text!r}; write SOURCE=SHARE pairs, e.g. 'rollouts=0.5,dagger=0.5'")
    return check_shares(out)


def check_shares(shares: Mapping[str, float], available: Sequence[str] = SOURCES) -> dict[str, float]:
    """Shares by source: known sources, each in [0, 1], summing to 1 within 1e-6."""
    if not shares:
        raise DataError(f"a data mix needs at least one source share; e.g. {{'rollouts': 1.0}} (sources: {list(available)})")
    unknown = sorted(set(shares) - set(available))
    if unknown:
        raise DataError(f"the mix names source(s) {unknown} that are not available; use some of {list(available)}")
    values = {k: float(v) for k, v in shares.items()}
    if any(not np.isfinite(v) or v < 0 or v > 1 for v in values.values()):
        raise DataError(f"shares {values} must each lie in [0, 1]")
    total = sum(values.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        fixed = {k: round(v / total, 6) for k, v in values.items()} if total > 0 else {available[0]: 1.0}
        raise DataError(f"the shares {values} sum to {total:.6g}, not 1; make them sum to 1, e.g. {fixed}")
    return {k: values[k] for k in sorted(values)}


def share_grid(sources: Sequence[str], step: float = 0.25) -> list[dict[str, float]]:
    """Every mix of ``sources`` with shares on multiples of ``step`` summing to 1, in a fixed
    order (pure mixes first, in ``sources`` order) — the mixes a search tries."""
    k = round(1.0 / step)
    if k < 1 or abs(k * step - 1.0) > 1e-9:
        raise DataError(f"step must divide 1 evenly (e.g. 0.5, 0.25, 0.2); got {step}")
    mixes = [c for c in itertools.product(range(k + 1), repeat=len(sources)) if sum(c) == k]
    mixes.sort(key=lambda c: (-max(c), [-x for x in c]))
    return [{s: c / k for s, c in zip(sources, combo) if c} for combo in mixes]


class DataPool:
    """One tagged dataset per source; ``mix`` draws seeded datasets with given shares."""

    def __init__(self, sources: Mapping[str, DistillDataset]) -> None:
        if not sources:
            raise DataError(f"a DataPool needs at least one source dataset; name them from {list(SOURCES)}")
        first_name, first = next(iter(sources.items()))
        for name, ds in sources.items():
            if name not in SOURCES:
                raise DataError(f"unknown source {name!r}; name pool entries from {list(SOURCES)}")
            if len(ds) == 0:
                raise DataError(f"source {name!r} is empty; collect some states for it or leave it out")
            if (ds.action_names, ds.feature_names, ds.action_kind) != (first.action_names, first.feature_names, first.action_kind):
                raise DataError(
                    f"source {name!r} has actions {list(ds.action_names)} and features {ds.feature_names} but {first_name!r} has "
                    f"{list(first.action_names)} and {first.feature_names}; pool data of one teacher action set and state layout"
                )
        self.sources = {k: (ds if "rows" in ds.meta else tag_rows(ds, source=k)) for k, ds in sources.items()}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.sources)

    @property
    def content_hash(self) -> str:
        """``sha256:…`` over the pooled datasets' hashes by source."""
        return hash_json({k: ds.content_hash for k, ds in sorted(self.sources.items())})

    def __len__(self) -> int:
        return sum(len(ds) for ds in self.sources.values())

    def max_states(self, shares: Mapping[str, float]) -> int:
        """The largest dataset this mix can draw without repeating a state."""
        shares = check_shares(shares, self.names)
        return int(min(len(self.sources[k]) / v for k, v in shares.items() if v > 0))

    def mix(self, shares: Mapping[str, float], n_states: int | None = None, seed: int = 0) -> DistillDataset:
        """A dataset of ``n_states`` rows (default: ``max_states``), ``round(share · n)`` drawn
        without replacement from each source with a generator seeded by ``seed``."""
        shares = check_shares(shares, self.names)
        most = self.max_states(shares)
        n = most if n_states is None else int(n_states)
        if not 0 < n <= most:
            raise DataError(f"the mix {shares} can draw at most {most} distinct states from this pool; ask for n_states ≤ {most} or collect more")
        rng = np.random.default_rng(seed)
        parts = []
        for name in sorted(shares):
            take = int(round(shares[name] * n))
            if take:
                src = self.sources[name]
                parts.append(src.subset(np.sort(rng.choice(len(src), size=min(take, len(src)), replace=False))))
        ds = DistillDataset.concat(parts)
        return DistillDataset(
            ds.X,
            ds.P,
            ds.action_names,
            ds.feature_names,
            ds.weights,
            {**ds.meta, "source": "data_mix", "shares": shares, "seed": seed, "pool": self.content_hash},
            **ds._kind_args(),
        )
