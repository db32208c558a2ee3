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
from auto_search.policies import parse_policy
from auto_search.space import check_family
from hybrid.errors import DataError
from hybrid.loop.bounds import episodes_to_see
from hybrid.loop.data_mix import parse_shares
from provenance.hashing import hash_json

BACKENDS = ("loky", "threading", "dask", "ray")
WEIGHTINGS = ("", "q", "margin", "std")  # VIPER state weights a search may apply ("": none)
FAILURE_RATE = 0.03  # LunarLander's students crash in 2–5% of episodes: a claim must have had the chance to see that


def _opt(help: str, default: Any = MISSING, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class SearchConfig:
    """Everything that determines which candidates a search fits and which one it chooses.

    ``budget_s`` cuts whole rungs of the plan, never part of one, so the same dataset, config
    and seed give the same candidates and the same chosen model whatever ``n_jobs`` is, as
    long as the same rungs finish; the report lists the rungs that were cut.
    """

    families: tuple[str, ...] = field(default_factory=lambda: default_families(), metadata={"help": "registered student families to search", "nargs": "+"})
    budget_s: float = _opt("wall-clock seconds from fit() to its result; 2% (≤ 1 s) is kept back for the report", 60.0)
    policy: str = _opt(
        "how to choose: auto (min-retention:0.99 with an environment, else knee) | knee[:GAIN_PER_10x_OPS] | min-cost:FIDELITY | "
        "within-best:GAP | max-fidelity:OPS | min-retention:SHARE (needs --env) | "
        "cascade:AGREEMENT (defer the rest to the teacher)",
        "auto",
    )
    val_fraction: float = _opt("share of states held out to score fidelity and KL", 0.2)
    seed: int = _opt("seed for the split, the data subsets and every student", 0)
    n_jobs: int = _opt("parallel workers (-1: all cores)", -1)
    backend: str = _opt("joblib backend: loky | threading | dask (needs a Client) | ray", "loky")
    eta: int = _opt("successive-halving factor: keep 1/eta of a rung, give it eta× the data", 3)
    min_rung_states: int = _opt("fewest training states in the first rung of an expensive family", 1000)
    max_epochs: int = _opt("training epochs of MLP and hybrid students (early stopping may end sooner)", 30)
    closed_loop_episodes: int = _opt("first paired episodes per Pareto candidate for retention (needs env and teacher)", 5)
    closed_loop_max_episodes: int = _opt("most episodes a candidate gets while its retention bound straddles the bar", 1000)
    confidence: float = _opt("confidence of each one-sided anytime-valid retention bound; a retention claim rests on the lower one", 0.95)
    closed_loop_share: float = _opt(
        "share of the budget kept for closed-loop scoring, DAgger and confirmation (with an environment; at least 0.5 under a retention bar)", 0.3
    )
    dagger_iterations: int = _opt("DAgger rounds for the chosen student (needs env and teacher)", 2)
    weighting: str = _opt(
        "VIPER state weights for cloning and DAgger (needs env and teacher): q (the teacher's Q-gap, or its critic's drop "
        "when the action is moved; without either its log-probabilities or std), margin, std; empty: none",
        "",
    )
    verbose: int = _opt("0: silent; 1: progress bar on a terminal", 1)
    failure_rate: float = _opt(
        "a retention claim needs enough episodes to have seen a failure this frequent (per episode, at the given confidence)", FAILURE_RATE
    )
    return_range: str = _opt("LO,HI: where one episode's return lies, when the environment does not say (default: from its reward bounds, else observed)", "")
    max_rows: int = _opt("most rows the search reads: a seeded sample drawn before anything is materialised (a Parquet log reads only those rows); 0: all", 0)
    data_mixes: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "data-source mixes to search over a DataPool, e.g. rollouts=1 rollouts=0.5,dagger=0.5 (empty: the pool's 0.5-step grid)",
            "nargs": "*",
        },
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "families", tuple(self.families))
        object.__setattr__(self, "data_mixes", tuple(self.data_mixes))
        if not isinstance(self.return_range, str):  # (lo, hi) from Python: kept in the CLI's form
            object.__setattr__(self, "return_range", ",".join(f"{float(v):g}" for v in self.return_range))
        self.validate()

    def validate(self) -> None:
        """Refuse a bad option before any work starts, naming the fix."""
        if not self.families:
            raise SearchConfigError(f"families is empty; pick some of {list(default_families())}.")
        for family in self.families:
            check_family(family)
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
        if self.closed_loop_episodes < 2 or self.dagger_iterations < 0:
            raise SearchConfigError(
                f"closed_loop_episodes must be ≥ 2 (an interval needs two paired episodes) and dagger_iterations ≥ 0; "
                f"got {self.closed_loop_episodes} and {self.dagger_iterations}."
            )
        if self.closed_loop_max_episodes < self.closed_loop_episodes:
            raise SearchConfigError(f"closed_loop_max_episodes ({self.closed_loop_max_episodes}) must be ≥ closed_loop_episodes ({self.closed_loop_episodes}).")
        if not 0.0 < self.failure_rate < 1.0:
            raise SearchConfigError(f"failure_rate must lie in (0, 1), e.g. 0.03; got {self.failure_rate!r}.")
        self.value_range  # noqa: B018  (parses return_range, raising on a bad one)
        if not 0.5 <= self.confidence < 1.0:
            raise SearchConfigError(f"confidence must lie in [0.5, 1), e.g. 0.95; got {self.confidence!r}.")
        if self.max_rows != 0 and self.max_rows < 20:
            raise SearchConfigError(f"max_rows must be 0 (read every row) or ≥ 20 (a search holds some out for scoring); got {self.max_rows!r}.")
        if not 0.0 <= self.closed_loop_share < 1.0:
            raise SearchConfigError(f"closed_loop_share must lie in [0, 1); got {self.closed_loop_share!r}.")
        if self.weighting not in WEIGHTINGS:
            raise SearchConfigError(f"weighting must be one of {list(WEIGHTINGS)} (empty: none); got {self.weighting!r}.")
        for mix in self.data_mixes:
            try:
                parse_shares(mix)
            except DataError as e:
                raise SearchConfigError(f"data_mixes: {e}.") from None
        if self.policy != "auto" and not self.policy.startswith("callable:"):  # a custom callable is recorded by name only
            parse_policy(self.policy)  # raises SearchConfigError on an unknown policy

    @property
    def value_range(self) -> tuple[float, float] | None:
        """``return_range`` as numbers, or ``None`` when it is left to the environment."""
        if not self.return_range:
            return None
        try:
            low, high = (float(v) for v in self.return_range.split(","))
        except ValueError:
            raise SearchConfigError(f"return_range must be LO,HI (e.g. 0,500 or (0, 500) in Python); got {self.return_range!r}.") from None
        if not high > low:
            raise SearchConfigError(f"return_range needs HI > LO; got {self.return_range!r}.")
        return low, high

    @property
    def min_episodes(self) -> int:
        """Episodes a retention claim needs to have seen a failure of ``failure_rate`` (``confidence``)."""
        return episodes_to_see(self.failure_rate, self.confidence)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (tuples as lists), as printed in the report header."""
        d = asdict(self)
        d["families"] = list(self.families)
        for name, default in (
            ("failure_rate", FAILURE_RATE),
            ("return_range", ""),
            ("max_rows", 0),
            ("weighting", ""),
        ):  # left out at their defaults: older configs hash unchanged
            if d[name] == default:
                d.pop(name)
        if self.data_mixes:
            d["data_mixes"] = list(self.data_mixes)
        else:  # left out when unused, so configs (and their hashes) from before data mixes are unchanged
            d.pop("data_mixes")
        return d

    @property
    def config_hash(self) -> str:
        """``sha256:…`` of what decides the outcome; ``n_jobs``, ``backend`` and ``verbose``
        are left out because they change only how fast the same result arrives."""
        d = self.to_dict()
        for k in ("n_jobs", "backend", "verbose"):
            d.pop(k)
        return hash_json(d)


def default_families() -> tuple[str, ...]:
    """The families searched when none are named, read from the student registry."""
    from hybrid.students import default_families as registered_defaults

    return registered_defaults()


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one ``--option`` per ``SearchConfig`` field, with its type, default and help."""
    for f in fields(SearchConfig):
        flag = "--" + f.name.replace("_", "-")
        kind = {"float": float, "int": int}.get(str(f.type), str)  # families (tuple[str, ...]) take nargs
        extra = {"nargs": f.metadata["nargs"]} if "nargs" in f.metadata else {}
        if f.name == "budget_s":
            flag = "--budget"
        default = f.default_factory() if f.default is MISSING and callable(f.default_factory) else f.default
        shown = " ".join(default) if isinstance(default, tuple) else default
        if f.name == "families":  # the data picks them: see auto_search.space.default_families_for
            shown = (
                f"those of the data's kind of actions: {shown} for discrete actions on numeric states; "
                "on text or record states every discrete family (keyword lists and linear students too); the continuous families for continuous actions"
            )
        parser.add_argument(flag, dest=f.name, type=kind, default=default, help=f"{f.metadata['help']} (default: {shown})".replace("%", "%%"), **extra)


def config_from_namespace(ns: argparse.Namespace) -> SearchConfig:
    """Build the config from parsed CLI arguments."""
    return SearchConfig(**{f.name: getattr(ns, f.name) for f in fields(SearchConfig)})
