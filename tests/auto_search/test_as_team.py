"""AutoDistill in a team environment: students scored by the team's return on paired episodes,
decentralised students from a centralised teacher, one student per agent, DAgger in the team."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pettingzoo")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "hybrid"))

from _team_toy import SignTeam, centralised_sign, sign_teacher

from auto_search.closed_loop import PairedEpisodes
from auto_search.search import AutoDistill
from hybrid.envs.adapter import TeamEnv
from hybrid.errors import DataError
from hybrid.loop.rollouts import team_closed_loop, team_collect


def search(env, teacher, **options):
    settings = {"dagger_iterations": 1, "min_rung_states": 200, "closed_loop_max_episodes": 10, **options}
    return AutoDistill(families=("tree", "rules"), budget_s=20, n_jobs=1, env=env, teacher=teacher, verbose=0, **settings)


@pytest.fixture(scope="module")
def shared_result():
    team = TeamEnv(SignTeam(), agent_features=True)
    data = team_collect(team, sign_teacher, episodes=15, seed=0).dataset
    return search(team, sign_teacher, closed_loop_max_episodes=3000, return_range=(0, 20)).fit(data), team


def test_students_are_scored_by_the_team_return_on_paired_episodes(shared_result):
    r, team = shared_result
    loop = r.closed_loop
    assert loop["env"] == "sign_team_v0" and loop["teacher_return"] == 20.0 and 5 < loop["random_return"] < 15
    assert r.chosen.retention >= 0.98 and r.chosen.loop_episodes > 10  # a claim needs more than a handful of team episodes
    claim = r.shipped.claim  # the same anytime-valid bounds serve teams: the claim is data, met or MISSED
    assert claim["method"].startswith("betting") and claim["return_range"]["source"] == "declared"
    assert claim["bound_met"] == (claim["low"] >= 0.99 and claim["episodes"] >= claim["min_episodes"])
    assert r.shipped.loop["retention"] >= 0.98
    again = team_closed_loop(team, r.student, episodes=10, seed=123, teacher=sign_teacher)
    assert again.mean_return >= 19.0 and again.agreement >= 0.95  # fresh episodes: a split threshold may sit a hair off 0


def test_paired_episodes_take_a_team_and_reuse_the_baselines():
    team = TeamEnv(SignTeam())
    with PairedEpisodes(team, sign_teacher, seed=0, first=5, cap=10, confidence=0.95) as episodes:
        wrong = lambda X: (np.asarray(X)[:, 0] <= 0).astype(np.int64)  # noqa: E731
        score = episodes.score(type("Wrong", (), {"predict": staticmethod(wrong)})())
        assert score.retention < 0 and score.visited_fidelity == 0.0 and episodes.episodes_run == 15


def test_a_centralised_teacher_distils_into_decentralised_students():
    team = TeamEnv(SignTeam(mix=0.5))
    central = centralised_sign(mix=0.5)
    data = team_collect(team, central, episodes=15, seed=0).dataset
    r = search(team, central, policy="min-retention:0.9").fit(data)
    assert r.teacher["name"] == "central sign" and r.shipped.loop["retention"] > 0.8  # each agent sees the other's signal


def test_one_student_per_agent_is_scored_with_the_teacher_as_partner():
    base = TeamEnv(SignTeam())
    students = {}
    for agent in base.agents:
        view = base.with_view(controlled=[agent])
        data = team_collect(view, sign_teacher, episodes=15, seed=0).dataset
        assert set(data.agent_ids.tolist()) == {agent}
        students[agent] = search(view, sign_teacher, dagger_iterations=0).fit(data).student
    team = team_closed_loop(base, students, episodes=5, seed=7, teacher=sign_teacher)
    assert team.mean_return == 20.0


def test_a_dataset_of_another_view_is_refused_naming_the_fix():
    data = team_collect(TeamEnv(SignTeam(), agent_features=True), sign_teacher, episodes=5, seed=0).dataset
    with pytest.raises(DataError, match="agent_features=True"):
        search(TeamEnv(SignTeam()), sign_teacher).fit(data)


def test_a_team_with_continuous_actions_distils_by_team_return_and_is_recorded(tmp_path):
    spread = pytest.importorskip("mpe2.simple_spread_v3")
    from auto_search.record import record
    from hybrid.teachers.team import spread_controller
    from provenance.keys import generate_key
    from provenance.ledger import Ledger
    from provenance.verify import verify_ledger

    team = TeamEnv(spread.parallel_env(N=3, max_cycles=25, continuous_actions=True))
    controller = spread_controller()
    data = team_collect(team, controller, episodes=8, seed=0).dataset
    assert data.action_kind == "continuous" and data.agent_ids is not None
    r = AutoDistill(
        families=("regression_tree",),
        budget_s=30,
        n_jobs=1,
        env=team,
        teacher=controller,
        policy="min-retention:0.5",
        dagger_iterations=1,
        closed_loop_max_episodes=8,
        verbose=0,
    ).fit(data)
    assert r.closed_loop["env"] == "simple_spread_v3" and r.closed_loop["teacher_return"] > r.closed_loop["random_return"]
    assert r.chosen.retention is not None and r.shipped.loop["loop_episodes"] >= 1
    again = team_closed_loop(team, r.student, episodes=4, seed=123, teacher=controller)
    assert again.agreement is not None and again.episodes[0].actions["agent_0"].shape == (25, 5)
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(r, ledger, key, teacher=controller, out_dir=tmp_path / "out")
    kinds = [e.kind for e in entries]
    assert "dataset" in kinds and "teacher" in kinds and "model" in kinds
    assert verify_ledger(tmp_path / "ledger.db", trusted_keys=[key]).ok
