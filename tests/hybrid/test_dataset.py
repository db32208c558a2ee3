"""DistillDataset: validation, a content hash over data and names only, splits, storage."""

from __future__ import annotations

import numpy as np
import pytest

from hybrid.data.dataset import DistillDataset
from hybrid.errors import DataError
from hybrid.teachers.adapters import as_teacher


def make(n: int = 100, seed: int = 0, **kwargs) -> DistillDataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    P = rng.dirichlet(np.ones(4), size=n)
    return DistillDataset(X, P, ["a", "b", "c", "d"], **kwargs)


def test_the_toy_seed_style_teacher_yields_a_dataset(toy_teacher, toy_states):
    teacher = as_teacher(toy_teacher)
    ds = DistillDataset(toy_states, teacher.predict_proba(toy_states), teacher.action_names, ["position", "speed"])
    assert (len(ds), ds.n_features, ds.n_actions) == (200, 2, 3)
    assert ds.action_names == ("move_left", "move_right", "stay")
    assert set(np.unique(ds.labels)) == {0, 1, 2}


def test_arrays_are_float32_read_only_copies():
    X = np.zeros((2, 3))
    ds = DistillDataset(X, [[0.5, 0.5], [1.0, 0.0]], ["l", "r"], weights=[1, 2])
    assert ds.X.dtype == ds.P.dtype == ds.weights.dtype == np.float32
    X[0, 0] = 7.0
    assert ds.X[0, 0] == 0.0
    with pytest.raises(ValueError):
        ds.X[0, 0] = 1.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"X": np.zeros(4)}, "2-D"),
        ({"P": np.full((4, 3), 1 / 3)}, r"P has shape \(4, 3\); expected \[4, 2\]"),
        ({"P": [[0.5, 0.5]] * 3 + [[np.nan, 0.5]]}, "P has NaN or infinity at row 3"),
        ({"X": [[0.0]] * 2 + [[np.inf]] + [[0.0]]}, "X has NaN or infinity at row 2"),
        ({"P": [[0.5, 0.5]] * 3 + [[1.5, -0.5]]}, "negative probability at row 3"),
        ({"P": [[0.5, 0.5], [0.5, 0.51], [0.5, 0.5], [0.5, 0.5]]}, r"P row 1 sums to 1\.01"),
        ({"weights": [1, 1, 1]}, r"weights must have shape \(4,\)"),
        ({"weights": [1, 1, -1, 1]}, "negative value at row 2"),
        ({"action_names": ["l", "l"]}, "duplicate"),
        ({"action_names": "lr"}, "list of names"),
        ({"feature_names": ["x", "y"]}, "2 names but X has 1"),
        ({"X": [["a"]] * 4}, "numeric"),
    ],
)
def test_malformed_data_is_refused_with_where_and_why(kwargs, match):
    args = {"X": np.zeros((4, 1)), "P": [[0.5, 0.5]] * 4, "action_names": ["l", "r"], **kwargs}
    with pytest.raises(DataError, match=match):
        DistillDataset(**args)


def test_an_empty_dataset_can_exist_so_callers_can_refuse_it_clearly():
    ds = DistillDataset(np.zeros((0, 3)), np.zeros((0, 2)), ["a", "b"])
    assert len(ds) == 0 and ds.n_features == 3


def test_content_hash_covers_arrays_and_names_but_not_meta():
    base = make()
    assert base.content_hash.startswith("sha256:") and len(base.content_hash) == 71
    assert make().content_hash == base.content_hash
    assert make(meta={"run": 3, "time": "now"}).content_hash == base.content_hash
    changed_value = DistillDataset(base.X + np.eye(100, 3, dtype=np.float32) * 1e-3, base.P, base.action_names)
    renamed = DistillDataset(base.X, base.P, ["a", "b", "c", "e"])
    named = make(feature_names=["x", "y", "z"])
    weighted = make(weights=np.ones(100))
    hashes = {d.content_hash for d in (base, changed_value, renamed, named, weighted)}
    assert len(hashes) == 5


def test_the_hash_does_not_depend_on_the_input_dtype_or_layout():
    ds = make()
    again = DistillDataset(np.asfortranarray(ds.X.astype(np.float64)), ds.P.astype(">f4"), list(ds.action_names))
    assert again.content_hash == ds.content_hash


def test_split_is_deterministic_disjoint_and_complete():
    ds = make(n=101, weights=np.arange(101))
    train, val = ds.split(0.2, seed=3)
    again_train, _ = ds.split(0.2, seed=3)
    other_train, _ = ds.split(0.2, seed=4)
    assert (len(train), len(val)) == (81, 20)
    assert train.content_hash == again_train.content_hash != other_train.content_hash
    ids = np.concatenate([train.weights, val.weights])
    assert sorted(ids.tolist()) == list(range(101))
    assert np.all(np.diff(train.weights) > 0)  # each part keeps the original order


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_split_needs_a_fraction_strictly_inside_zero_and_one(fraction):
    with pytest.raises(DataError, match="strictly between"):
        make().split(fraction, seed=0)


def test_subset_takes_indices_or_a_mask():
    ds = make(n=10)
    mask = np.zeros(10, dtype=bool)
    mask[[2, 5]] = True
    np.testing.assert_array_equal(ds.subset(mask).X, ds.X[[2, 5]])
    np.testing.assert_array_equal(ds.subset([5, 2]).P, ds.P[[5, 2]])
    with pytest.raises(DataError, match="out of range"):
        ds.subset([10])
    with pytest.raises(DataError, match="integers or a boolean mask"):
        ds.subset([0.5])


def test_concat_stacks_rows_and_fills_missing_weights_with_one():
    a, b = make(n=5, seed=0), make(n=3, seed=1, weights=[2, 2, 2])
    both = DistillDataset.concat([a, b])
    assert len(both) == 8
    np.testing.assert_array_equal(both.weights, [1, 1, 1, 1, 1, 2, 2, 2])
    assert both.meta["concat_of"] == [a.content_hash, b.content_hash]
    assert DistillDataset.concat([a, make(n=3, seed=1)]).weights is None


def test_concat_refuses_different_names():
    with pytest.raises(DataError, match="same names"):
        DistillDataset.concat([make(), make(feature_names=["x", "y", "z"])])
    with pytest.raises(DataError, match="3 features.*has .* and 1 None"):
        DistillDataset.concat([DistillDataset(np.zeros((1, 1)), [[1.0, 0, 0, 0]], list("abcd")), make()])


def test_save_and_load_round_trip_with_the_same_hash(tmp_path):
    ds = make(feature_names=["x", "y", "z"], weights=np.linspace(0, 1, 100), meta={"env": "CartPole-v1", "runs": [1, 2]})
    loaded = DistillDataset.load(ds.save(tmp_path / "d.npz"))
    assert loaded.content_hash == ds.content_hash
    assert loaded.feature_names == ("x", "y", "z") and loaded.meta == ds.meta
    with np.load(tmp_path / "d.npz", allow_pickle=False) as raw:  # nothing in the file needs pickle
        assert all(raw[k].dtype != object for k in raw.files)


def test_load_refuses_files_that_are_not_datasets(tmp_path):
    np.savez(tmp_path / "other.npz", weights=np.zeros(3))
    with pytest.raises(DataError, match=r"lacks \['P', 'X', 'action_names'\]"):
        DistillDataset.load(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("not numpy")
    with pytest.raises(DataError, match="cannot read dataset"):
        DistillDataset.load(tmp_path / "text.npz")
