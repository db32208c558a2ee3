"""``reproduce``: a recorded model is refitted from its lineage and matches bit for bit; a changed
row, a re-signed hyperparameter or other library versions each end in exit 1 naming the cause."""

from __future__ import annotations

import importlib
import json

import pytest

from auto_search import AutoDistill, ReproduceError, record, reproduce
from auto_search.cli import main
from auto_search.data_files import load_dataset
from hybrid import DistillDataset, TrajectoryStore, collect, load_teacher
from provenance import Ledger, generate_key


def _ship_the_last_dagger_round(chosen, rounds, policy):
    return (rounds[-1] if rounds else chosen), "forced by the test: the last DAgger round ships"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A CartPole search whose shipped student is a DAgger round, recorded in a signed ledger."""
    tmp = tmp_path_factory.mktemp("reproduce")
    teacher = load_teacher("CartPole-v1")
    with TrajectoryStore(tmp / "log.db") as store:
        collect("CartPole-v1", teacher, episodes=3, seed=0, store=store)
        dataset = store.to_dataset()
    search = AutoDistill(
        families=("tree",), budget_s=120, n_jobs=1, env="CartPole-v1", teacher=teacher, dagger_iterations=1, closed_loop_max_episodes=5, verbose=0
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("auto_search.shipping.pick_round", _ship_the_last_dagger_round)
        result = search.fit(dataset)
    assert result.shipped.parent is not None, "the test needs a shipped DAgger round"
    key = generate_key(tmp / "owner.key")
    with Ledger(tmp / "ledger.db") as ledger:
        record(result, ledger, key, teacher=teacher, out_dir=tmp / "model")
    return tmp, result, dataset


def test_the_shipped_dagger_round_is_refitted_bit_for_bit(recorded):
    tmp, result, _ = recorded
    outcome = reproduce(tmp / "ledger.db", result.student.content_hash, trusted_keys=[tmp / "owner.key.pub"])
    assert outcome.ok, outcome.summary()
    assert outcome.refit_hash == result.student.content_hash
    assert any("DAgger round 1" in s for s in outcome.steps) and any("platform" in n for n in outcome.notes)


def test_the_cli_matches_by_hash_prefix_and_prints_json(recorded, capsys):
    tmp, result, _ = recorded
    code = main(["reproduce", str(tmp / "ledger.db"), result.student.content_hash[:16], "--key", str(tmp / "owner.key.pub"), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["ok"] and out["refit_hash"] == result.student.content_hash


def test_data_moved_elsewhere_is_found_by_its_content_hash(recorded, tmp_path):
    tmp, result, dataset = recorded
    dataset.save(tmp_path / "moved.npz")
    outcome = reproduce(tmp / "ledger.db", result.student.content_hash, trusted_keys=[tmp / "owner.key.pub"], data=tmp_path / "moved.npz")
    assert outcome.ok, outcome.summary()


def test_a_dataset_with_one_changed_row_fails_naming_the_data(recorded, tmp_path, capsys):
    tmp, result, dataset = recorded
    logged = load_dataset(tmp / "log.db")
    X = logged.X.copy()
    X[7, 2] += 0.01
    DistillDataset(X, logged.P, logged.action_names, logged.feature_names).save(tmp_path / "changed.npz")
    code = main(
        ["reproduce", str(tmp / "ledger.db"), result.student.content_hash, "--key", str(tmp / "owner.key.pub"), "--data", str(tmp_path / "changed.npz")]
    )
    out = capsys.readouterr().out
    assert code == 1 and "the data changed since the search" in out and dataset.content_hash in out


def _resign_with_a_changed_depth(src, dst, key) -> int:
    """The attacker's ledger: every entry copied, the shipped model's recipe one level deeper."""
    with Ledger(src, create=False) as original:
        entries = original.entries()
    depth = None
    items = []
    for e in entries:
        attrs = dict(e.attrs)
        if e.kind == "model" and attrs.get("role") == "shipped":
            depth = attrs["recipe"]["params"]["max_depth"]
            attrs["recipe"] = {**attrs["recipe"], "params": {**attrs["recipe"]["params"], "max_depth": depth + 1}}
        items.append({"kind": e.kind, "subject": e.subject, "parents": list(e.parents), "attrs": attrs})
    with Ledger(dst) as forged:
        forged.append_many(items, key=key)
    assert depth is not None
    return depth


def test_a_hyperparameter_re_signed_by_an_attacker_is_flagged(recorded, tmp_path, capsys):
    tmp, result, _ = recorded
    attacker = generate_key(tmp_path / "attacker.key")
    _resign_with_a_changed_depth(tmp / "ledger.db", tmp_path / "forged.db", attacker)
    code = main(["reproduce", str(tmp_path / "forged.db"), result.student.content_hash, "--key", str(tmp / "owner.key.pub")])
    out = capsys.readouterr().out
    assert code == 1 and "the ledger does not verify" in out
    # even a verifier tricked into trusting the attacker's key finds the refit differs, and where
    trusting = reproduce(tmp_path / "forged.db", result.student.content_hash, trusted_keys=[tmp_path / "attacker.key.pub"])
    assert not trusting.ok and any("field(s) of the artifact differ" in f for f in trusting.findings)


def test_other_library_versions_are_named_and_fail_unless_allowed(recorded, monkeypatch):
    tmp, result, _ = recorded
    reproduce_module = importlib.import_module("auto_search.reproduce")  # the module: the package exports its function as reproduce

    installed = reproduce_module.library_versions()
    monkeypatch.setattr(reproduce_module, "library_versions", lambda: {**installed, "scikit-learn": "0.0.1"})
    strict = reproduce(tmp / "ledger.db", result.student.content_hash, trusted_keys=[tmp / "owner.key.pub"])
    assert not strict.ok and strict.refit_hash == result.student.content_hash
    assert any("scikit-learn 0.0.1 (recorded" in f for f in strict.findings)
    lenient = reproduce(tmp / "ledger.db", result.student.content_hash, trusted_keys=[tmp / "owner.key.pub"], allow_version_drift=True)
    assert lenient.ok and any("scikit-learn" in n for n in lenient.notes)


def test_the_whole_search_re_runs_to_the_same_student(recorded):
    tmp, result, _ = recorded
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("auto_search.shipping.pick_round", _ship_the_last_dagger_round)
        outcome = reproduce(tmp / "ledger.db", result.student.content_hash, trusted_keys=[tmp / "owner.key.pub"], search=True)
    assert outcome.ok, outcome.summary()
    assert any("re-ran the search" in s for s in outcome.steps)


def test_bad_input_exits_2_naming_the_fix(recorded, tmp_path, capsys):
    tmp, result, _ = recorded
    key = str(tmp / "owner.key.pub")
    assert main(["reproduce", str(tmp / "ledger.db"), "sha256:ffff", "--key", key]) == 2
    assert "no model entry" in capsys.readouterr().err
    assert main(["reproduce", str(tmp_path / "none.db"), "sha256:ffff", "--key", key]) == 2
    with pytest.raises(ReproduceError, match="--data PATH"):
        reproduce(tmp / "ledger.db", result.student.content_hash, trusted_keys=[key], data=tmp_path / "gone.npz")


def _text_requests(path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "students"))
    from test_featurized import requests

    records, labels, names = requests(600, 0)
    path.write_text("".join(json.dumps({"state": r, "action": names[a]}) + "\n" for r, a in zip(records, labels, strict=True)))
    return path


def _continuous_actions(path):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3)).astype(np.float32)
    A = np.clip(0.8 * X[:, :1] - 0.3 * X[:, 1:2], -1, 1).astype(np.float32)
    DistillDataset(X, A, ["u"], ["x0", "x1", "x2"], action_kind="continuous", action_low=[-1], action_high=[1]).save(path)
    return path


@pytest.mark.parametrize(
    ("make", "options"),
    [
        (lambda tmp: _text_requests(tmp / "requests.jsonl"), ["--policy", "cascade:0.95", "--families", "keywords", "tree"]),
        (lambda tmp: _continuous_actions(tmp / "actions.npz"), ["--families", "regression_tree", "linear_rules"]),
    ],
    ids=["text-records-cascade", "continuous-actions"],
)
def test_models_of_every_state_and_action_kind_recorded_by_the_cli_reproduce(tmp_path, make, options, capsys):
    data = make(tmp_path)
    generate_key(tmp_path / "k.key")
    argv = ["search", str(data), "--out", str(tmp_path / "out"), "--budget", "30", "--n-jobs", "1", "--verbose", "0"]
    assert main([*argv, *options, "--ledger", str(tmp_path / "l.db"), "--key", str(tmp_path / "k.key")]) == 0
    shipped = json.loads((tmp_path / "out" / "report.json").read_text())["shipped"]["content_hash"]
    capsys.readouterr()
    assert main(["reproduce", str(tmp_path / "l.db"), shipped, "--key", str(tmp_path / "k.key.pub")]) == 0, capsys.readouterr().out


def test_a_run_folder_moved_elsewhere_still_finds_its_data_beside_the_ledger(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    run.mkdir()
    monkeypatch.chdir(run)  # every path recorded relative to here
    _continuous_actions(run / "actions.npz")
    generate_key(run / "k.key")
    argv = ["search", "actions.npz", "--out", "out", "--budget", "20", "--n-jobs", "1", "--verbose", "0", "--families", "regression_tree"]
    assert main([*argv, "--ledger", "l.db", "--key", "k.key"]) == 0
    shipped = json.loads((run / "out" / "report.json").read_text())["shipped"]["content_hash"]
    moved = tmp_path / "elsewhere" / "run"
    moved.parent.mkdir()
    run.rename(moved)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["reproduce", str(moved / "l.db"), shipped, "--key", str(moved / "k.key.pub")]) == 0, capsys.readouterr().out
    assert str(moved / "actions.npz") in capsys.readouterr().out
