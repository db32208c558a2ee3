"""Fine-tuning makes a new student with its parent recorded: PPO for MLPs, leaf actions for trees."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from hybrid import DataError, as_teacher, collect, finetune_mlp, improve_leaves, paired_gain, record_finetune
from hybrid.loop.finetune import EnvSpec, PPOConfig, env_spec
from hybrid.loop.finetune_leaves import with_leaf_action
from hybrid.students.hybrid import HybridStudent
from hybrid.students.mlp import MLPStudent
from hybrid.students.rules import RuleListStudent
from hybrid.students.tree import TreeStudent

ENV_ID = "agent-distill-test/LineWorld-v0"
SMALL = PPOConfig(rollout_steps=200, minibatch=50, critic_warmup=0)


@pytest.fixture(scope="module")
def line_id():
    from tests.conftest import LineWorld

    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=LineWorld)
    return ENV_ID


@pytest.fixture(scope="module")
def data(line_id):
    from tests.conftest import ToyTeacher

    teacher = as_teacher(ToyTeacher(), ToyTeacher.actions)
    return collect(line_id, teacher, episodes=6, seed=0).dataset


def test_improve_leaves_repairs_a_broken_leaf_and_keeps_the_structure(line_id, data):
    tree = TreeStudent(max_depth=2).fit(data.X, data.P)
    leaves = np.flatnonzero(tree.feature_ < 0)
    busiest = leaves[np.argmax([np.sum(tree.apply(data.X) == leaf) for leaf in leaves])]
    broken = with_leaf_action(tree, int(busiest), int(np.argmin(tree.value_[busiest])))  # the worst action where it matters most
    result = improve_leaves(broken, line_id, seed=3, episodes=120, max_leaves=4)
    assert result.changed and result.parent_hash == broken.content_hash
    assert np.array_equal(result.student.feature_, broken.feature_) and np.array_equal(result.student.threshold_, broken.threshold_)
    assert result.selection["final_mean_return"] > result.selection["start_mean_return"]
    assert broken.content_hash == result.parent_hash  # the scored student was not edited in place
    item = result.ledger_item()
    assert item["parents"] == [broken.content_hash] and item["attrs"]["env"] == {"env_id": line_id, "kwargs": {}}
    assert item["attrs"]["steps"] == result.steps > 0 and item["attrs"]["seed"] == 3


def test_rule_lists_change_rule_actions_only(line_id, data):
    rules = RuleListStudent(max_rules=3).fit(data.X, data.P)
    broken = with_leaf_action(rules, -1, (rules.default_action_ + 1) % 3)
    result = improve_leaves(broken, line_id, seed=3, episodes=6, max_leaves=4)
    assert [r.conditions for r in result.student.rules_] == [r.conditions for r in broken.rules_]


def test_a_guard_world_vetoes_changes_that_cost_return_there(line_id, data):
    tree = TreeStudent(max_depth=2).fit(data.X, data.P)
    leaves = np.flatnonzero(tree.feature_ < 0)
    broken = with_leaf_action(tree, int(leaves[0]), int(np.argmin(tree.value_[leaves[0]])))
    free = improve_leaves(broken, line_id, seed=3, episodes=6, max_leaves=2)
    guarded = improve_leaves(broken, line_id, seed=3, episodes=6, max_leaves=2, guard=line_id, guard_tolerance=0.0)
    assert guarded.selection["accepted"] <= free.selection["accepted"]
    assert guarded.selection["guards"] == [{"env_id": line_id, "kwargs": {}}]


def test_ppo_finetune_starts_from_the_mlp_and_records_its_parent(line_id, data, tmp_path):
    from provenance import Ledger, generate_key, lineage_graph, verify_ledger

    mlp = MLPStudent(hidden_sizes=(4,), epochs=5).fit(data.X, data.P)
    result = finetune_mlp(mlp, line_id, steps=600, seed=1, select_episodes=3, checkpoints=2, config=SMALL)
    assert result.parent_hash == mlp.content_hash and result.steps == 600
    assert [c["at_steps"] for c in result.selection["checkpoints"]] == [0, 400, 600]
    assert result.student.cost().parameters == mlp.cost().parameters  # same architecture
    assert result.selection["checkpoints"][0]["mean_return"] <= max(c["mean_return"] for c in result.selection["checkpoints"])
    key = generate_key(tmp_path / "k.key")
    with Ledger(tmp_path / "ledger.db") as ledger:
        ledger.append("model", mlp.content_hash, attrs={"role": "distilled"}, key=key)
        entry = record_finetune(result, ledger, key)
        graph = lineage_graph(ledger.entries())
    assert entry.parents == (mlp.content_hash,) and entry.attrs["method"].startswith("ppo")
    assert verify_ledger(tmp_path / "ledger.db", trusted_keys=[key]).ok
    if result.changed:
        assert graph.has_edge(mlp.content_hash, result.student.content_hash)


def test_ppo_tunes_a_hybrid_through_its_mlp_and_can_anchor_on_the_teacher(line_id, data):
    from tests.conftest import ToyTeacher

    hybrid = HybridStudent(rule_depth=2, max_rules=2, hidden_sizes=(4,), epochs=3, tau=0.99).fit(data.X, data.P)
    teacher = as_teacher(ToyTeacher(), ToyTeacher.actions)
    result = finetune_mlp(hybrid, line_id, steps=400, seed=0, anchor=teacher, select_episodes=2, checkpoints=1, config=SMALL)
    assert result.student.family == "hybrid" and "anchor=teacher" in result.method
    assert result.student.rules_.to_dict() == hybrid.rules_.to_dict()


def test_wrong_students_and_worlds_are_refused_before_any_rollout(line_id, data):
    tree = TreeStudent(max_depth=1).fit(data.X, data.P)
    mlp = MLPStudent(hidden_sizes=(2,), epochs=1).fit(data.X, data.P)
    with pytest.raises(DataError, match="improve_leaves"):
        finetune_mlp(tree, line_id, steps=10_000, seed=0)
    with pytest.raises(DataError, match="finetune_mlp"):
        improve_leaves(mlp, line_id, seed=0)
    with pytest.raises(DataError, match="records the environment by name"):
        env_spec(gym.make(line_id))
    with pytest.raises(DataError, match="steps must be"):
        finetune_mlp(mlp, line_id, steps=10, seed=0)
    assert env_spec(("LunarLander-v3", {"enable_wind": True})) == EnvSpec("LunarLander-v3", {"enable_wind": True})


def test_paired_gain_is_significant_only_beyond_noise_and_on_enough_episodes():
    rng = np.random.default_rng(0)
    old = rng.uniform(10.0, 40.0, size=200)
    steady = old + 5 + rng.normal(0.0, 0.2, size=200)
    assert paired_gain(steady, old).significant  # a steady gain over many paired episodes
    assert not paired_gain(steady[:4], old[:4]).significant  # four episodes cannot show it with anytime-valid bounds
    assert not paired_gain(old + rng.normal(0.0, 3.0, size=200), old).significant  # noise is no gain


def test_a_finetune_that_kept_nothing_is_not_recorded_as_a_new_model(line_id, data):
    tree = TreeStudent(max_depth=1).fit(data.X, data.P)
    unchanged = improve_leaves(tree, line_id, seed=0, episodes=2, max_leaves=1, confidence=0.99)
    assert not unchanged.changed and unchanged.student.content_hash == tree.content_hash
    with pytest.raises(DataError, match="no new model to record"):
        record_finetune(unchanged, None, None)


def test_bad_finetune_options_are_refused_naming_the_range(line_id, data):
    mlp = MLPStudent(hidden_sizes=(2,), epochs=1).fit(data.X, data.P)
    with pytest.raises(DataError, match="kl_coef ≥ 0"):
        finetune_mlp(mlp, line_id, steps=1000, seed=0, kl_coef=-1.0, config=SMALL)
    tree = TreeStudent(max_depth=1).fit(data.X, data.P)
    with pytest.raises(DataError, match="confidence in"):
        improve_leaves(tree, line_id, seed=0, confidence=1.5)


def test_sampling_temperature_leaves_the_greedy_start_unchanged(line_id, data):
    mlp = MLPStudent(hidden_sizes=(2,), epochs=1).fit(data.X, data.P)
    cold = PPOConfig(rollout_steps=200, minibatch=50, critic_warmup=5, temperature=0.5)  # warm-up only: the policy never moves
    result = finetune_mlp(mlp, line_id, steps=200, seed=0, select_episodes=2, checkpoints=1, config=cold)
    assert np.array_equal(result.student.predict(data.X), mlp.predict(data.X))
