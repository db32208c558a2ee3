"""AutoDistill searches data-source shares over a DataPool; several teachers all reach the ledger."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from auto_search.config import SearchConfig
from auto_search.errors import SearchConfigError
from auto_search.record import record
from auto_search.search import AutoDistill
from hybrid import DataPool, as_teacher, mixture_teacher, noisy_rollouts, row_tags, teacher_rollouts

ENV_ID = "agent-distill-test/LineWorld-v0"


@pytest.fixture(scope="module")
def world():
    from tests.conftest import LineWorld, ToyTeacher

    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=LineWorld)
    return ENV_ID, as_teacher(ToyTeacher(), ToyTeacher.actions)


@pytest.fixture(scope="module")
def pool(world):
    env_id, teacher = world
    return DataPool({"rollouts": teacher_rollouts(env_id, teacher, 4, 0), "noisy": noisy_rollouts(env_id, teacher, 4, 1, epsilon=0.5)})


OPTIONS = {"n_jobs": 1, "verbose": 0, "closed_loop_episodes": 2, "closed_loop_max_episodes": 4, "dagger_iterations": 0}


def test_config_checks_mixes_and_keeps_old_hashes():
    assert "data_mixes" not in SearchConfig().to_dict()  # unused: configs hash as before
    assert SearchConfig(data_mixes=["rollouts=1"]).to_dict()["data_mixes"] == ["rollouts=1"]
    with pytest.raises(SearchConfigError, match="sum to 1.5, not 1"):
        SearchConfig(data_mixes=["rollouts=1,dagger=0.5"])


def test_a_mix_naming_an_absent_source_fails_before_any_search(world, pool):
    env_id, teacher = world
    search = AutoDistill(families=["tree"], budget_s=5, env=env_id, teacher=teacher, data_mixes=["rollouts=0.5,dagger=0.5"], **OPTIONS)
    with pytest.raises(SearchConfigError, match="not available; use some of"):
        search.fit(pool)
    with pytest.raises(SearchConfigError, match="env=… and teacher=…"):
        AutoDistill(families=["tree"], budget_s=5, **OPTIONS).fit(pool)
    with pytest.raises(SearchConfigError, match="pass a hybrid.DataPool"):
        AutoDistill(families=["tree"], budget_s=5, data_mixes=["rollouts=1", "noisy=1"], **OPTIONS).fit(pool.sources["rollouts"])


def test_the_search_ships_the_best_mix_and_says_which(world, pool, tmp_path):
    env_id, teacher = world
    search = AutoDistill(families=["tree"], budget_s=8, env=env_id, teacher=teacher, data_mixes=["rollouts=1", "rollouts=0.5,noisy=0.5"], **OPTIONS)
    result = search.fit(pool)
    mix = result.data_mix
    assert mix is not None and [r["mix"] for r in mix["searched"]] == [{"rollouts": 1.0}, {"noisy": 0.5, "rollouts": 0.5}]
    best = max(r["retention"] for r in mix["searched"])
    assert mix["shipped"] == next(r["mix"] for r in mix["searched"] if r["retention"] == best)
    assert result.config.data_mixes == (",".join(f"{k}={v:g}" for k, v in sorted(mix["shipped"].items())),)
    assert "data mix: shipped mix" in result.summary()
    result.write_report(tmp_path / "report")
    assert "## Data mix" in (tmp_path / "report" / "report.md").read_text()
    assert len(result.mix_results) == 2


def test_a_mixture_teacher_names_every_member_in_the_lineage(world, tmp_path):
    from provenance import Ledger, ancestors, generate_key, lineage_graph, verify_ledger
    from tests.conftest import ToyTeacher

    env_id, _ = world
    teacher = as_teacher(ToyTeacher(), ToyTeacher.actions)
    teacher.content_hash = "sha256:" + "2" * 64  # an act() teacher has no weights to hash: say who it is

    class Stay:
        action_names = ("move_left", "move_right", "stay")
        identity = "stay-teacher"
        content_hash = "sha256:" + "1" * 64

        def predict_proba(self, X):
            return np.tile([0.05, 0.05, 0.9], (len(X), 1))

    mix = mixture_teacher([teacher, Stay()], gate="confident")
    data = teacher_rollouts(env_id, mix, 3, 0)
    assert set(row_tags(data, "teacher")) <= {teacher.identity, "stay-teacher"}
    result = AutoDistill(families=["tree"], budget_s=5, n_jobs=1, verbose=0).fit(data)
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(result, ledger, key, teacher=mix, out_dir=tmp_path / "out")
        graph = lineage_graph(ledger.entries())
    by_kind: dict[str, list] = {}
    for e in entries:
        by_kind.setdefault(e.kind, []).append(e)
    members = {e.subject for e in by_kind["teacher"] if not e.parents}
    assert len(members) == 2 and "sha256:" + "1" * 64 in members
    assert members <= set(by_kind["dataset"][0].parents) and members <= set(by_kind["model"][-1].parents)
    assert members <= ancestors(graph, result.student.content_hash)
    assert verify_ledger(tmp_path / "ledger.db", trusted_keys=[key]).ok
