"""Recording a search in the ledger: dataset → search → model → export, signed and verifiable."""

from __future__ import annotations

import json

import pytest

from auto_search.errors import SearchError
from auto_search.record import record
from auto_search.search import AutoDistill
from provenance.hashing import hash_file
from provenance.keys import generate_key
from provenance.ledger import Ledger


@pytest.fixture(scope="module")
def result(small_dataset, fast):
    return AutoDistill(families=("tree",), budget_s=60, n_jobs=1, **fast).fit(small_dataset)


def test_record_appends_the_lineage_and_writes_the_artifacts(result, tmp_path):
    from provenance.verify import verify_ledger

    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(result, ledger, key, out_dir=tmp_path / "out")
    kinds = [e.kind for e in entries]
    assert kinds == ["dataset", "search", "model", "export"]
    by_kind = {e.kind: e for e in entries}
    assert by_kind["dataset"].subject == result.dataset["content_hash"]
    assert by_kind["search"].parents == (by_kind["dataset"].subject,)
    assert by_kind["search"].attrs["config_hash"] == result.config.config_hash and "numpy" in by_kind["search"].attrs["versions"]
    assert by_kind["model"].subject == result.student.content_hash and by_kind["search"].subject in by_kind["model"].parents
    assert by_kind["export"].parents == (result.student.content_hash,)
    assert by_kind["model"].attrs["artifact_hash"] == hash_file(tmp_path / "out" / "model.json")
    assert by_kind["export"].subject == hash_file(tmp_path / "out" / "student.py")
    assert json.loads((tmp_path / "out" / "model.json").read_text())["family"] == result.chosen.family
    assert [e["entry_hash"] for e in result.ledger_entries] == [e.entry_hash for e in entries]
    assert verify_ledger(tmp_path / "ledger.db", trusted_keys=[key]).ok


def test_recording_the_same_search_again_appends_no_duplicate_lineage(result, tmp_path):
    """Issue 23 #10: a rerun of the main job recorded the whole lineage a second time."""
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        first = record(result.with_recording(), ledger, key, out_dir=tmp_path / "out")
        again = record(result.with_recording(), ledger, key, out_dir=tmp_path / "out")
        assert len(ledger) == len(first)
    assert [e.entry_hash for e in again] == [e.entry_hash for e in first]


def test_a_teacher_adds_its_entry_as_a_parent_of_the_search(result, tmp_path):
    import torch

    teacher = torch.nn.Linear(4, 3)
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        entries = record(result, ledger, key, teacher=teacher, out_dir=tmp_path / "out")
    assert [e.kind for e in entries] == ["dataset", "teacher", "search", "model", "export"]
    assert entries[1].subject in entries[2].parents


def test_a_search_without_a_choice_cannot_be_recorded(result, tmp_path):
    from dataclasses import replace

    empty = replace(result, chosen=None, student=None, shipped=None, choice=None)
    with pytest.raises(SearchError, match="no student"):
        record(empty, None, None, out_dir=tmp_path)


class SwingUp:
    """A Pendulum controller: pump energy towards the upright state, then balance with PD."""

    gain, kp, kd = 0.5, 10.0, 2.0

    @property
    def content_hash(self) -> str:
        from provenance.hashing import hash_json

        return hash_json({"controller": "energy swing-up + PD", "gain": self.gain, "kp": self.kp, "kd": self.kd})

    def __call__(self, X):
        import numpy as np

        cos, sin, omega = X[:, 0], X[:, 1], X[:, 2]
        energy = 0.5 * omega**2 + 15.0 * cos  # theta'' = 15 sin(theta) + 3 u: upright holds energy 15
        pump = self.gain * (15.0 - energy) * omega
        balance = -self.kp * np.arctan2(sin, cos) - self.kd * omega
        return np.where(cos > 0.8, balance, pump)[:, None]


class PoleController:
    """A CartPole controller: push towards the side the pole falls to (angle and angular velocity)."""

    content_hash = "sha256:" + "0" * 63 + "1"
    action_names = ("push_left", "push_right")

    def predict_proba(self, X):
        import numpy as np

        push_right = X[:, 2] + 0.5 * X[:, 3] > 0
        return np.stack([~push_right, push_right], axis=1).astype(np.float32) * 0.9 + 0.05


def _record_mixture(env_id, mixture, family, tmp_path):
    from hybrid import collect

    data = collect(env_id, mixture, episodes=2, seed=0).dataset
    search = AutoDistill(
        budget_s=20,
        n_jobs=1,
        env=env_id,
        teacher=mixture,
        families=(family,),
        closed_loop_episodes=2,
        closed_loop_max_episodes=2,
        dagger_iterations=0,
        verbose=0,
    )
    result = search.fit(data)
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        return record(result, ledger, key, teacher=mixture, out_dir=tmp_path / "out")


def _assert_members_are_parents(entries, mixture):
    members = [m.content_hash for m in mixture.members]
    assert len(set(members)) == 2 and None not in members
    teachers = {e.subject: e for e in entries if e.kind == "teacher"}
    assert set(members) | {mixture.content_hash} == set(teachers)
    assert set(teachers[mixture.content_hash].parents) == set(members)
    for kind in ("dataset", "model"):
        (entry,) = [e for e in entries if e.kind == kind]
        assert set(members) <= set(entry.parents), kind


def test_a_continuous_mixture_records_every_member_as_a_parent(tmp_path):
    import gymnasium as gym

    from hybrid import as_teacher, load_teacher, mixture_teacher

    env = gym.make("Pendulum-v1")
    mixture = mixture_teacher([load_teacher("Pendulum-v1"), as_teacher(SwingUp(), action_space=env.action_space, action_names=["torque"])])
    assert mixture.action_space == as_teacher(load_teacher("Pendulum-v1")).action_space
    _assert_members_are_parents(_record_mixture("Pendulum-v1", mixture, "regression_tree", tmp_path), mixture)


def test_a_discrete_mixture_records_every_member_as_a_parent(tmp_path):
    from hybrid import load_teacher, mixture_teacher

    zoo = load_teacher("CartPole-v1")
    mixture = mixture_teacher([zoo, PoleController()], weights=[0.7, 0.3])
    _assert_members_are_parents(_record_mixture("CartPole-v1", mixture, "tree", tmp_path), mixture)
