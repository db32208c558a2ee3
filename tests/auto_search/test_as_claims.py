"""Retention claims that hold: anytime-valid bounds, rare failures, and confirmation as a gate."""

from __future__ import annotations

import time

import numpy as np
import pytest
from _toy_env import RareCrash, rare_crash_teacher

from auto_search.closed_loop import PairedEpisodes
from auto_search.config import SearchConfig
from auto_search.evaluate import Candidate, split_dataset
from auto_search.policies import MinRetention
from auto_search.shipping import LoopRun, loop_teacher, ship_closed_loop
from hybrid.data.dataset import DistillDataset
from hybrid.envs.adapter import episode_seeds, return_bounds
from hybrid.loop.bounds import ReturnRange, episodes_to_see, mean_bound, unseen_failure
from hybrid.loop.paired import retention_bound
from hybrid.students import TreeStudent

MIN_EPISODES = episodes_to_see(0.03)


class Careless:
    """Acts on ``x0`` alone, never on the trap flag: crashes in about half the trap episodes."""

    def predict(self, X):
        return (np.asarray(X)[:, 0] > 0).astype(np.int64)


def _clean_seed(n: int) -> int:
    """A selection seed whose first ``n`` episodes of RareCrash hold no trap."""
    env = RareCrash()
    for seed in range(1000):
        traps = []
        for s in episode_seeds(seed, n):
            env.reset(seed=s)
            traps.append(env.trap)
        if not any(traps):
            return seed
    raise AssertionError("no clean seed")


def test_a_student_with_a_rare_crash_passes_five_clean_episodes_and_is_not_accepted():
    seed = _clean_seed(5)
    with PairedEpisodes(RareCrash(), rare_crash_teacher, seed=seed, first=5, cap=5, confidence=0.95, return_range=(0, 20), min_episodes=MIN_EPISODES) as p:
        five = p.score(Careless(), 0.99)
    assert five.episodes == 5 and five.retention == pytest.approx(1.0)  # five clean episodes: it looks perfect
    assert not five.claim(0.99, MIN_EPISODES)["bound_met"]
    assert five.retention_low < 0.99  # identical differences on five episodes leave a wide bound
    with PairedEpisodes(RareCrash(), rare_crash_teacher, seed=seed, first=5, cap=4000, confidence=0.95, return_range=(0, 20), min_episodes=MIN_EPISODES) as p:
        longer = p.score(Careless(), 0.99)
    # given the episodes, the crashes show: the student is given up (its screen falls below the bar), never claimed
    assert longer.screen_high < 0.99 and not longer.claim(0.99, MIN_EPISODES)["bound_met"]
    assert longer.retention < 0.97


def test_zero_spread_is_never_a_pass_on_few_episodes():
    returns = np.full(5, 500.0)
    bound = retention_bound(returns, returns, np.full(5, 20.0), ReturnRange(0.0, 500.0, "environment"), 0.95)
    assert bound.retention == 1.0 and bound.low < 0.9 and bound.high > 1.1
    many = retention_bound(np.full(800, 500.0), np.full(800, 500.0), np.full(800, 20.0), ReturnRange(0.0, 500.0, "environment"), 0.95)
    assert 0.99 < many.low < 1.0  # the same differences on enough episodes do clear the bar


def test_the_bound_covers_the_mean_at_every_look():
    rng = np.random.default_rng(0)
    above = below = 0
    for _ in range(100):
        x = (rng.random(300) < 0.1).astype(float)  # rare events: where a t-interval on a few looks fails
        bound = mean_bound(x, 0.0, 1.0)
        above += bound.low > 0.1
        below += bound.high < 0.1
    # each side holds with 95% for the running intersection, i.e. at every look at once
    assert above <= 8 and below <= 8


def test_rare_failure_frequencies_the_episodes_exclude():
    assert MIN_EPISODES == 99  # 3% failures show in 99 episodes at 95%
    assert unseen_failure(99) <= 0.03 < unseen_failure(98)
    assert unseen_failure(0) == 1.0


def test_return_ranges_come_from_the_environments_reward_bounds():
    assert return_bounds("CartPole-v1") == (0.0, 500.0)
    assert return_bounds("Acrobot-v1") == (-500.0, 0.0)
    assert return_bounds("LunarLander-v3") is None  # no per-step bound: observed or declared instead
    assert return_bounds(RareCrash()) is None


def _tree_students():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.normal(size=2000), (rng.random(2000) < 0.1).astype(float)]).astype(np.float32)
    P = rare_crash_teacher(X)
    careful = TreeStudent(max_depth=2, random_state=0).fit(X, P)
    plain = X[:, 1] < 0.5
    careless = TreeStudent(max_depth=1, random_state=0).fit(X[plain], P[plain])
    assert careless.cost().ops_per_decision < careful.cost().ops_per_decision
    return DistillDataset(X, P, ["a0", "a1"], ["x0", "trap"]), careless, careful


def _candidate(i: int, student, ops: float) -> Candidate:
    return Candidate(
        id=i,
        rung=0,
        level=0,
        family="tree",
        params={"max_depth": i + 1},
        n_train=1600,
        status="ok",
        fidelity=0.9,
        parameters=int(student.cost().parameters),
        ops_per_decision=ops,
        content_hash=student.content_hash,
        retention=1.0,
        retention_low=0.995,
        retention_high=1.0,
        loop_episodes=MIN_EPISODES,
    )


def test_a_contradicted_confirmation_withdraws_the_claim_and_the_next_student_ships():
    dataset, careless, careful = _tree_students()
    data, _ = split_dataset(dataset, 0.2, 0)
    config = SearchConfig(families=("tree",), dagger_iterations=0, return_range=(0, 20), closed_loop_max_episodes=4000, verbose=0)
    env = RareCrash()
    teacher = loop_teacher(rare_crash_teacher, env, data)
    lucky = _candidate(0, careless, careless.cost().ops_per_decision)  # as if a run of clean selection episodes had chosen it
    sound = _candidate(1, careful, careful.cost().ops_per_decision)
    policy = MinRetention(0.99, min_episodes=config.min_episodes)
    episodes = PairedEpisodes(env, teacher, seed=0, first=5, cap=10, confidence=0.95, return_range=(0, 20))
    now = time.monotonic()
    loop = LoopRun(env, teacher, episodes, policy, 0.99, now + 60, now + 120)
    shipped_from, student, shipped, _ = ship_closed_loop(lucky, careless, loop, data, config, [(lucky, careless), (sound, careful)])
    assert shipped_from.id == 1 and student is careful
    assert shipped.bound_met is True and shipped.claim["low"] >= 0.99 and shipped.claim["episodes"] >= MIN_EPISODES
    withdrawn = shipped.claim["withdrawn"]
    assert [w["candidate"] for w in withdrawn] == [0] and not withdrawn[0]["bound_met"] and withdrawn[0]["retention"] < 0.99
    assert "withdrawn" in shipped.reason
    assert shipped.claim["confidence"] > 0.95  # the second confirmation spends a smaller share of the error allowance


def test_a_miss_says_missed_in_the_result_and_the_report(tmp_path):
    dataset, careless, _ = _tree_students()
    data, _ = split_dataset(dataset, 0.2, 0)
    config = SearchConfig(families=("tree",), dagger_iterations=0, return_range=(0, 20), closed_loop_max_episodes=40, verbose=0)
    env = RareCrash()
    teacher = loop_teacher(rare_crash_teacher, env, data)
    lucky = _candidate(0, careless, 1.0)
    now = time.monotonic()
    episodes = PairedEpisodes(env, teacher, seed=0, first=5, cap=10, confidence=0.95, return_range=(0, 20))
    loop = LoopRun(env, teacher, episodes, MinRetention(0.99, min_episodes=config.min_episodes), 0.99, now + 60, now + 120)
    _, _, shipped, _ = ship_closed_loop(lucky, careless, loop, data, config, [(lucky, careless)])
    assert shipped.bound_met is False and shipped.claim["withdrawn"] == []
    from auto_search.closed_loop import claim_verdict

    words = claim_verdict(shipped.claim)
    assert words.startswith("MISSED retention ≥ 99%") and "fresh episodes" in words and "declared" in words


def test_the_cli_says_missed_last_and_require_makes_a_miss_exit_1(tmp_path, capsys):
    from auto_search.cli import main
    from hybrid import collect, load_teacher

    data = collect("CartPole-v1", load_teacher("CartPole-v1"), episodes=4, seed=0).dataset
    path = data.save(tmp_path / "cartpole.npz")
    args = ["search", str(path), "--out", str(tmp_path / "out"), "--env", "CartPole-v1", "--policy", "min-retention:0.99", "--budget", "8", "--n-jobs", "1"]
    code = main([*args, "--require"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1  # eight seconds cannot show 99% of a CartPole teacher's return over a 0–500 range
    assert err[-1].startswith("MISSED retention ≥ 99%") and "fresh episodes" in err[-1] and "[0, 500], environment" in err[-1]
    report = (tmp_path / "out" / "report.md").read_text()
    assert report.splitlines()[2].startswith("**MISSED retention ≥ 99%")  # the report's first sentence
    assert main(args) == 0  # without --require a miss is reported, not an error
