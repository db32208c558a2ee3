"""``SearchConfig``: the one frozen, typed description of a search.

The same object drives the CLI options (:func:`add_config_arguments`), the report header and
the hash recorded in the search's ledger entry, so what ran, what was printed and what was
signed cannot drift apart. Environment and teacher objects are not configuration: they are
passed to :class:`auto_search.search.AutoDistill` beside it.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from auto_search.errors import SearchConfigError
from provenance.hashing import hash_json

FAMILIES = ("tree", "rules", "mlp", "hybrid")
RECORD_FAMILIES = ("keywords", "linear")  # keyword lists (0/1 features) and n-gram softmax regression: added by default on record states
BACKENDS = ("loky", "threading", "dask", "ray")


def _opt(help: str, default: Any = MISSING, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines which candidates a search fits and which one it chooses.

    ``budget_s`` cuts whole rungs of the plan, never part of one, so the same dataset, config
    and seed give the same candidates and the same chosen model whatever ``n_jobs`` is, as
    long as the same rungs finish; the report lists the rungs that were cut.
    """

    families: tuple[str, ...] = _opt("student families to search, cheapest first", FAMILIES, nargs="+")
    budget_s: float = _opt("wall-clock seconds from fit() to its result; 2% (≤ 1 s) is kept back for the report", 60.0)
    policy: str = _opt("how to choose: knee[:GAIN_PER_10x_OPS] | min-cost:FIDELITY | within-best:GAP | max-fidelity:OPS | min-retention:SHARE (needs --env) | cascade:AGREEMENT (defer the rest to the teacher)", "knee")
    val_fraction: float = _opt("share of states held out to score fidelity and KL", 0.2)
    seed: int = _opt("seed for the split, the data subsets and every student", 0)
    n_jobs: int = _opt("parallel workers (-1: all cores)", -1)
    backend: str = _opt("joblib backend: loky | threading | dask (needs a Client) | ray", "loky")
    eta: int = _opt("successive-halving factor: keep 1/eta of a rung, give it eta× the data", 3)
    min_rung_states: int = _opt("fewest training states in the first rung of an expensive family", 1000)
    max_epochs: int = _opt("training epochs of MLP and hybrid students (early stopping may end sooner)", 30)
    closed_loop_episodes: int = _opt("episodes per Pareto candidate for retention (needs env and teacher)", 3)
    dagger_iterations: int = _opt("DAgger rounds for the chosen student (needs env and teacher)", 2)
    verbose: int = _opt("0: silent; 1: progress bar on a terminal", 1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        self.validate()

    def validate(self) -> None:
        """Refuse a bad option before any work starts, naming the fix."""
        if not self.families:
            raise SearchConfigError(f"families is empty; pick some of {FAMILIES}.")
        unknown = [f for f in self.families if f not in FAMILIES + RECORD_FAMILIES]
        if unknown:
            raise SearchConfigError(f"unknown student famil{'y' if len(unknown) == 1 else 'ies'} {unknown}; known: {list(FAMILIES + RECORD_FAMILIES)}.")
        if len(set(self.families)) != len(self.families):
            raise SearchConfigError(f"families lists a family twice: {list(self.families)}.")
        if not self.budget_s > 0:
            raise SearchConfigError(f"budget_s must be > 0 seconds; got {self.budget_s!r}.")
        if not 0.0 < self.val_fraction < 1.0:
            raise SearchConfigError(f"val_fraction must lie in (0, 1); got {self.val_fraction!r}.")
        if self.backend not in BACKENDS:
            raise SearchConfigError(f"unknown backend {self.backend!r}; use one of {list(BACKENDS)}.")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise SearchConfigError(f"n_jobs must be ≥ 1 or -1 (all cores); got {self.n_jobs!r}.")
        if self.eta < 2:
            raise SearchConfigError(f"eta must be ≥ 2; got {self.eta!r}.")
        if self.min_rung_states < 10 or self.max_epochs < 1:
            raise SearchConfigError("min_rung_states must be ≥ 10 and max_epochs ≥ 1.")
        if self.closed_loop_episodes < 1 or self.dagger_iterations < 0:
            raise SearchConfigError("closed_loop_episodes must be ≥ 1 and dagger_iterations ≥ 0.")
        from auto_search.policies import parse_policy

        if not self.policy.startswith("callable:"):  # a custom callable is recorded by name only
            parse_policy(self.policy)  # raises SearchConfigError on an unknown policy

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (tuples as lists), as printed in the report header."""
        d = asdict(self)
        d["families"] = list(self.families)
        return d

    @property
    def config_hash(self) -> str:
        """``sha256:…`` of what decides the outcome; ``n_jobs``, ``backend`` and ``verbose``
        are left out because they change only how fast the same result arrives."""
        d = self.to_dict()
        for k in ("n_jobs", "backend", "verbose"):
            d.pop(k)
        return hash_json(d)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--option`` per ``SearchConfig`` field, with its type, default and help."""
    for f in fields(SearchConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = {"budget_s": float, "val_fraction": float}.get(f.name)
        kind = kind or (str if f.name in ("policy", "backend", "families") else int)
        extra = {"nargs": f.metadata["nargs"]} if "nargs" in f.metadata else {}
        if f.name == "budget_s":
            flag = "--budget"
        parser.add_argument(flag, dest=f.name, type=kind, default=f.default, help=f"{f.metadata['help']} (default: {f.default})".replace("%", "%%"), **extra)


def config_from_namespace(ns: argparse.Namespace) -> SearchConfig:
    """Build the config from parsed CLI arguments."""
    return SearchConfig(**{f.name: getattr(ns, f.name) for f in fields(SearchConfig)})
