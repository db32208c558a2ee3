"""Canonical JSON and content hashes: pinned vectors, refusals and properties."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.errors import HashingError, ProvenanceError
from provenance.hashing import canonical_json, hash_array, hash_bytes, hash_dir, hash_file, hash_json

# The float rule pinned: Python repr (shortest round trip), 1.0 stays 1.0, not RFC 8785.
VECTORS = [
    ({"b": 1, "a": 2}, b'{"a":2,"b":1}'),
    ([1.0, 1], b"[1.0,1]"),
    ([1e-07, -0.0, 0.1, 1e21, 1e16, 123456789.123], b"[1e-07,-0.0,0.1,1e+21,1e+16,123456789.123]"),
    ([2**53, True, None, False], b"[9007199254740992,true,null,false]"),
    ({"é": "\u2028"}, '{"é":"\u2028"}'.encode("utf-8")),
    ({"nested": {"z": [], "a": {}}}, b'{"nested":{"a":{},"z":[]}}'),
    ((1, "x"), b'[1,"x"]'),
]


@pytest.mark.parametrize(("value", "expected"), VECTORS)
def test_canonical_json_vectors(value, expected):
    assert canonical_json(value) == expected


def test_hash_json_of_empty_object_is_pinned():
    assert hash_json({}) == "sha256:" + hashlib.sha256(b"{}").hexdigest()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("wrap", [lambda v: v, lambda v: {"a": [1, v]}, lambda v: [{"x": v}]])
def test_non_finite_floats_are_refused_with_their_place(bad, wrap):
    with pytest.raises(HashingError, match="NaN and infinities"):
        canonical_json(wrap(bad))


def test_non_string_keys_are_refused():
    with pytest.raises(HashingError, match="string keys"):
        canonical_json({1: "a"})


def test_hashing_errors_belong_to_the_family_and_stay_value_errors():
    with pytest.raises(ProvenanceError):
        canonical_json(math.nan)
    with pytest.raises(ValueError):
        canonical_json(math.nan)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5),
    max_leaves=30,
)


@given(json_values)
def test_canonical_json_round_trips_and_is_a_fixed_point(value):
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded


@given(st.dictionaries(st.text(max_size=8), st.integers(), min_size=2, max_size=8), st.randoms())
def test_canonical_json_ignores_key_order(mapping, rng):
    items = list(mapping.items())
    rng.shuffle(items)
    assert canonical_json(dict(items)) == canonical_json(mapping)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_finite_float_keeps_its_exact_value_and_stays_a_float(x):
    decoded = json.loads(canonical_json([x]))[0]
    assert isinstance(decoded, float) and decoded == x and math.copysign(1, decoded) == math.copysign(1, x)


def test_hash_array_is_pinned_and_independent_of_layout_and_byte_order():
    a = np.arange(3, dtype="<i4")
    assert hash_array(a) == "sha256:aa7e95a9b27b9248c836dbfa71116d9c2ab60a0ea61283a30d42358559af1a18"
    assert hash_array(a.astype(">i4")) == hash_array(a)
    m = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert hash_array(np.asfortranarray(m)) == hash_array(m)
    assert hash_array(m.reshape(4, 3)) != hash_array(m)
    assert hash_array(m.astype(np.float64)) != hash_array(m)


def test_hash_array_refuses_object_arrays():
    with pytest.raises(HashingError, match="dtype=object"):
        hash_array(np.array([{}, 1], dtype=object))


@pytest.mark.parametrize("size", [0, 1, 4095, 4096, 4097, 3 * 4096 + 5])
def test_hash_file_matches_hashlib_across_chunk_boundaries(tmp_path, size):
    data = bytes(range(256)) * (size // 256 + 1)
    p = tmp_path / "f.bin"
    p.write_bytes(data[:size])
    assert hash_file(p, chunk_size=4096) == "sha256:" + hashlib.sha256(data[:size]).hexdigest()
    assert hash_file(p) == hash_bytes(data[:size])


def test_hash_dir_sees_contents_and_names_but_not_creation_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for root, order in ((a, ["x", "sub/y"]), (b, ["sub/y", "x"])):
        for name in order:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(name)
    assert hash_dir(a) == hash_dir(b)
    (b / "x").rename(b / "z")
    assert hash_dir(a) != hash_dir(b)
    with pytest.raises(NotADirectoryError):
        hash_dir(a / "x")


def test_numpy_scalars_encode_as_their_python_value_and_other_types_are_refused():
    assert canonical_json({"n": np.int64(3), "x": np.float64(0.5), "z": np.array(2.0)}) == b'{"n":3,"x":0.5,"z":2.0}'
    with pytest.raises(HashingError, match="NaN"):
        canonical_json([np.float32("nan")])
    with pytest.raises(HashingError, match="cannot encode a set"):
        canonical_json({"s": {1, 2}})
    with pytest.raises(TypeError):  # HashingError stays a TypeError for callers that caught json's
        canonical_json(object())


def test_lone_surrogates_are_refused():
    with pytest.raises(HashingError, match="valid Unicode"):
        canonical_json({"name": "\ud800"})
