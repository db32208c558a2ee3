"""SearchConfig validation and hashing; the search space and the deterministic plan of rungs."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from auto_search.config import SearchConfig, add_config_arguments, config_from_namespace
from auto_search.errors import SearchConfigError
from auto_search.evaluate import Candidate
from auto_search.pareto import pareto_front
from auto_search.space import RUNG_SIZE, Spec, family_space, full_data_rungs, is_expensive, level_sizes, make_plan, pareto_ranks, promote


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"budget_s": 0}, "budget_s must be > 0"),
        ({"budget_s": -3}, "budget_s must be > 0"),
        ({"families": ("tree", "forest")}, "unknown student family"),
        ({"families": ()}, "families is empty"),
        ({"policy": "best"}, "unknown policy"),
        ({"backend": "spark"}, "unknown backend"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"n_jobs": 0}, "n_jobs"),
    ],
)
def test_bad_options_raise_a_search_config_error(bad, match):
    with pytest.raises(SearchConfigError, match=match):
        SearchConfig(**bad)


def test_config_is_frozen_and_its_hash_ignores_only_speed_options():
    base = SearchConfig(budget_s=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.seed = 3  # type: ignore[misc]
    assert dataclasses.replace(base, n_jobs=2, backend="threading", verbose=0).config_hash == base.config_hash
    assert dataclasses.replace(base, seed=1).config_hash != base.config_hash
    assert dataclasses.replace(base, policy="min-cost:0.9").config_hash != base.config_hash


def test_cli_options_are_generated_from_the_config():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    ns = parser.parse_args(["--budget", "2.5", "--families", "tree", "mlp", "--seed", "7", "--policy", "within-best:0.02"])
    cfg = config_from_namespace(ns)
    assert cfg == SearchConfig(budget_s=2.5, families=("tree", "mlp"), seed=7, policy="within-best:0.02")


def test_level_sizes_grow_by_eta_and_end_at_all_states():
    assert level_sizes(40_000, eta=3, min_states=1000) == (1482, 4445, 13334, 40000)
    assert level_sizes(500, eta=3, min_states=1000) == (500,)


def test_each_family_space_lists_cheap_configurations_first():
    depths = [p["max_depth"] for p in family_space("tree", epochs=5) if p["max_depth"] is not None]
    assert depths == sorted(depths)
    widths = [sum(p["hidden_sizes"]) for p in family_space("mlp", epochs=5)]
    n_arch = len(set(map(repr, (p["hidden_sizes"] for p in family_space("mlp", epochs=5)))))
    assert widths[0] == 0 and widths[:n_arch] == sorted(widths[:n_arch]) and len(widths) == 3 * n_arch


def test_plan_interleaves_families_and_gives_expensive_ones_the_smallest_level():
    plan = make_plan(("tree", "mlp"), 9000, eta=3, min_states=1000, epochs=5, seed=4)
    first = plan.first_rungs[0]
    assert [s.family for s in first[:4]] == ["tree", "mlp", "tree", "mlp"]
    assert all(len(r) <= RUNG_SIZE for r in plan.first_rungs)
    assert {s.n_train for s in first if is_expensive(s.family)} == {1000}
    assert {s.n_train for s in first if s.family == "tree"} == {9000}
    ids = [s.id for r in plan.first_rungs for s in r]
    assert ids == list(range(len(ids))) and all(s.params["random_state"] == 4 for r in plan.first_rungs for s in r)
    assert plan == make_plan(("tree", "mlp"), 9000, eta=3, min_states=1000, epochs=5, seed=4)


def test_promotion_keeps_the_best_third_and_gives_it_more_data():
    plan = make_plan(("mlp",), 9000, eta=3, min_states=1000, epochs=5, seed=0)
    specs = [s for r in plan.first_rungs for s in r]
    finished = [
        Candidate(
            id=s.id,
            rung=s.rung,
            level=0,
            family="mlp",
            params=s.params,
            n_train=s.n_train,
            status="ok",
            fidelity=(s.id % 5) / 10,
            ops_per_decision=float(s.id),
            parameters=1,
            bytes=1,
        )
        for s in specs
    ]
    nxt = promote(plan, 1, finished, first_id=100, rung=len(plan.first_rungs))
    assert len(nxt) == -(-len(specs) // 3)
    assert all(s.n_train == 3000 and s.level == 1 for s in nxt)
    assert [s.id for s in nxt] == list(range(100, 100 + len(nxt)))
    front = {c.id for c in pareto_front(finished)}
    kept = {repr(s.params) for s in nxt}
    assert {repr(c.params) for c in finished if c.id in front} <= kept  # the front survives first
    rank = pareto_ranks(finished)
    assert max(rank[c.id] for c in finished if repr(c.params) in kept) <= min(rank[c.id] for c in finished if repr(c.params) not in kept)


def test_full_data_rungs_go_by_deepest_level_then_pareto_rank_and_skip_what_is_done():
    plan = make_plan(("mlp",), 9000, eta=3, min_states=1000, epochs=5, seed=0)
    specs = [s for r in plan.first_rungs for s in r]
    # fidelity rises with cost for even ids (the front); odd ids are dominated
    finished = [
        Candidate(
            id=s.id,
            rung=s.rung,
            level=0,
            family="mlp",
            params=s.params,
            n_train=s.n_train,
            status="ok",
            fidelity=0.5 + s.id / 100 - 0.2 * (s.id % 2),
            ops_per_decision=float(s.id),
            parameters=1,
            bytes=1,
        )
        for s in specs
    ]
    finished.append(
        Candidate(
            id=99,
            rung=9,
            level=plan.n_levels - 1,
            family="mlp",
            params=specs[0].params,
            n_train=9000,
            status="ok",
            fidelity=0.9,
            ops_per_decision=1.0,
            parameters=1,
            bytes=1,
        )
    )
    promoted = (Spec(100, 10, plan.n_levels - 1, "mlp", dict(specs[2].params), 9000),)  # the top level's rung, still running
    rungs = full_data_rungs(plan, finished, promoted, first_id=101, rung=11)
    assert all(len(r) == 1 for r in rungs)  # one fit per rung: a budget cut discards only fits still running
    stream = [r[0] for r in rungs]
    front = [s.params for s in specs if s.id % 2 == 0][2:]  # id 0 is fitted on all states, id 2 is promoted
    assert [s.params for s in stream] == front + [s.params for s in specs if s.id % 2]
    assert plan.n_levels == 3
    deeper = [  # two dominated configurations survived to level 1: their scores on more states count first
        Candidate(
            id=200 + i,
            rung=8,
            level=1,
            family="mlp",
            params=specs[j].params,
            n_train=3000,
            status="ok",
            fidelity=f,
            ops_per_decision=float(j),
            parameters=1,
            bytes=1,
        )
        for i, (j, f) in enumerate(((5, 0.6), (3, 0.9)))
    ]
    stream = [r[0] for r in full_data_rungs(plan, finished + deeper, promoted, first_id=101, rung=11)]
    assert [s.params for s in stream[:2]] == [specs[3].params, specs[5].params]  # level-1 front first, then its next layer
    assert [s.params for s in stream[2:]] == [p for p in front + [s.params for s in specs if s.id % 2] if p not in (specs[3].params, specs[5].params)]
    assert all(s.n_train == 9000 for s in stream)
    assert [s.id for s in stream] == list(range(101, 101 + len(stream))) and [s.rung for s in stream] == list(range(11, 11 + len(stream)))
