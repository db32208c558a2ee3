"""The committed team teacher (simple_spread_v3): faithful to SB3, tamper-evident, better than
random; and the centralised planner decides for every agent from all their observations."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("mpe2")

from hybrid.envs.adapter import TeamEnv
from hybrid.errors import TeacherError
from hybrid.loop.rollouts import team_closed_loop
from hybrid.teachers.zoo import TEAM_INDEX, ZOO_DIR, available_team_teachers, load_team_teacher, read_index, spread_planner

ENV_ID = "simple_spread_v3"


def test_the_team_teacher_is_committed_and_reproduces_sb3_on_probe_states():
    assert available_team_teachers() == [ENV_ID]
    teacher = load_team_teacher(ENV_ID)
    entry = read_index(index_name=TEAM_INDEX)[ENV_ID]
    probes = np.asarray(entry["probes"]["states"], dtype=np.float32)
    np.testing.assert_allclose(teacher.shared_policy.predict_proba(probes), entry["probes"]["sb3_probabilities"], atol=1e-5)
    assert teacher.kind == "shared" and list(teacher.agents) == entry["agents"] and teacher.content_hash == entry["sha256"]
    assert teacher.ops_per_decision == entry["ops_per_decision"]
    assert entry["return_mean"] > entry["random_return_mean"]


def test_a_changed_weights_file_is_refused(tmp_path):
    for name in (TEAM_INDEX, f"{ENV_ID}.npz"):
        shutil.copy(ZOO_DIR / name, tmp_path / name)
    with open(tmp_path / f"{ENV_ID}.npz", "ab") as f:
        f.write(b"\0")
    with pytest.raises(TeacherError, match="weights were changed after export"):
        load_team_teacher(ENV_ID, tmp_path)
    with pytest.raises(TeacherError, match="train_team_teacher.py"):
        load_team_teacher("simple_tag_v3")


def test_the_centralised_planner_sees_every_agent_and_beats_a_random_team():
    planner = spread_planner()
    assert planner.kind == "centralised"
    team = TeamEnv(ENV_ID)
    planned = team_closed_loop(team, planner, episodes=3, seed=5)
    random = team_closed_loop(team, None, episodes=3, seed=5)
    assert planned.mean_return > random.mean_return + 20
    obs = {a: e for a, e in planned.episodes[0].observations.items()}
    probs = planner.team_proba(obs)
    assert set(probs) == set(team.agents) and all(np.allclose(p.sum(axis=1), 1) for p in probs.values())
