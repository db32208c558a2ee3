"""Pareto front, hypervolume, selection policies and their words."""

from __future__ import annotations

import math

import pytest

from auto_search.errors import SearchConfigError
from auto_search.evaluate import Candidate
from auto_search.pareto import hypervolume, log_ops, pareto_front
from auto_search.policies import CallablePolicy, Knee, MaxFidelity, MinCost, parse_policy


def cand(i: int, fidelity: float, ops: float, family: str = "tree") -> Candidate:
    return Candidate(
        id=i,
        rung=0,
        level=0,
        family=family,
        params={"max_depth": i},
        n_train=100,
        status="ok",
        fidelity=fidelity,
        kl=0.1,
        parameters=int(ops),
        ops_per_decision=ops,
        bytes=10,
        latency_us=1.0,
    )


POOL = [cand(0, 0.60, 1), cand(1, 0.90, 3), cand(2, 0.85, 7), cand(3, 0.95, 15), cand(4, 0.991, 600, "mlp"), cand(5, 0.99, 100, "mlp")]


def test_front_keeps_only_non_dominated_points_cheapest_first():
    assert [c.id for c in pareto_front(POOL)] == [0, 1, 3, 5, 4]


def test_front_ties_keep_the_lowest_id():
    assert [c.id for c in pareto_front([cand(7, 0.9, 3), cand(2, 0.9, 3)])] == [2]


def test_hypervolume_of_one_point_is_its_rectangle_and_grows_with_a_better_point():
    one = hypervolume([(0.5, 9.0)], ref_ops=999.0)
    assert one == pytest.approx(0.5 * (3.0 - 1.0))
    assert hypervolume([(0.5, 9.0), (0.8, 99.0)], ref_ops=999.0) == pytest.approx(one + 0.3 * 1.0)
    assert hypervolume([(0.9, 5000.0)], ref_ops=999.0) == 0.0  # costlier than the reference adds nothing


def test_min_cost_with_a_floor_picks_the_cheapest_good_enough_student():
    pick, words = MinCost(fidelity_at_least=0.94)(POOL)
    assert pick.id == 3 and "fidelity ≥ 94%" in words and "15 ops" in words


def test_min_cost_within_best_is_relative_to_the_best_fidelity():
    pick, words = MinCost(within_best=0.01)(POOL)
    assert pick.id == 5 and words.startswith("smallest student within 1 point(s) of the best fidelity (99.1%)")


def test_min_cost_unreachable_floor_falls_back_to_the_most_faithful_and_says_so():
    pick, words = MinCost(fidelity_at_least=0.999)(POOL)
    assert pick.id == 4 and words.startswith("no student reached")


def test_max_fidelity_respects_the_operation_ceiling():
    assert MaxFidelity(ops_at_most=20)(POOL)[0].id == 3
    pick, words = MaxFidelity(ops_at_most=0.5)(POOL)
    assert pick.id == 0 and "no student fits" in words


def test_knee_stops_where_ten_times_more_operations_buy_less_than_the_threshold():
    pick, words = Knee()(POOL)  # 100 → 600 ops gains 0.1 point: diminishing returns start at id 5
    assert pick.id == 5 and words.startswith("knee of the Pareto front (every costlier student gains < 2 point(s)")
    assert Knee(gain_per_decade=0.06)(POOL)[0].id == 3  # 15 → 100 ops gains 5 points over 0.8 decades
    assert Knee(gain_per_decade=1.0)(POOL)[0].id == 0


def test_callable_policy_is_used_and_must_return_a_candidate():
    pick, words = parse_policy(lambda pool: max(pool, key=lambda c: c.ops_per_decision))(POOL)
    assert pick.id == 4 and "custom policy" in words
    with pytest.raises(SearchConfigError, match="not one of the candidates"):
        CallablePolicy(lambda pool: "nope")(POOL)


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("knee", Knee()),
        ("knee:0.05", Knee(gain_per_decade=0.05)),
        ("min-cost:0.95", MinCost(fidelity_at_least=0.95)),
        ("within-best:0.01", MinCost(within_best=0.01)),
        ("max-fidelity:200", MaxFidelity(ops_at_most=200)),
    ],
)
def test_policy_specs_round_trip(spec, expected):
    assert parse_policy(spec) == expected and parse_policy(spec).spec == spec


@pytest.mark.parametrize("spec", ["cheapest", "min-cost:abc", "min-cost:1.5", "knee:3", "knee:0", ""])
def test_unknown_or_malformed_policies_raise(spec):
    with pytest.raises(SearchConfigError):
        parse_policy(spec)


def test_log_ops_is_zero_for_a_constant_student():
    assert log_ops(0) == 0.0 and log_ops(9) == pytest.approx(1.0) and math.isfinite(log_ops(-1))
