"""AutoDistill: search student families, pick the accuracy/cost tradeoff, report and record it.

from auto_search import AutoDistill, MinCost, record
result = AutoDistill(budget_s=60, policy=MinCost(fidelity_at_least=0.97)).fit(dataset)
result.write_report("out/report")
"""

from auto_search.config import SearchConfig, default_families
from auto_search.errors import SearchConfigError, SearchDataError, SearchError
from auto_search.evaluate import Candidate
from auto_search.pareto import hypervolume, pareto_front
from auto_search.policies import CallablePolicy, Knee, MaxFidelity, MinCost, MinRetention, parse_policy
from auto_search.record import record
from auto_search.reproduce import ReproduceError, Reproduction, reproduce
from auto_search.result import REPORT_SCHEMA_VERSION, SearchResult
from auto_search.search import AutoDistill

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "AutoDistill",
    "CallablePolicy",
    "Candidate",
    "Knee",
    "MaxFidelity",
    "MinCost",
    "MinRetention",
    "ReproduceError",
    "Reproduction",
    "SearchConfig",
    "SearchConfigError",
    "SearchDataError",
    "SearchError",
    "SearchResult",
    "default_families",
    "hypervolume",
    "pareto_front",
    "parse_policy",
    "record",
    "reproduce",
]
