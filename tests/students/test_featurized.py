"""FeaturizedStudent: featurizer + numeric student in one artifact, deferral, the decide(dict) export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hybrid.data.featurize import RecordFeaturizer
from hybrid.errors import DataError, ParameterError
from hybrid.exports import export_python
from hybrid.students import FeaturizedStudent, KeywordRulesStudent, LinearStudent, MLPStudent, RuleListStudent, Student, TreeStudent

TOPICS = {
    "weather": ["weather", "rain", "sunny", "forecast"],
    "booking": ["book", "table", "reserve", "restaurant"],
    "music": ["play", "song", "music", "album"],
}
FILLER = ["please", "now", "can", "you", "the", "for", "me", "today", "tomorrow", "i"]


def requests(n, seed):
    """Small self-made routing data: each request mixes topic words with filler; a few are ambiguous."""
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    records, labels = [], []
    for _ in range(n):
        a = int(rng.integers(len(names)))
        words = list(rng.choice(TOPICS[names[a]], size=2)) + list(rng.choice(FILLER, size=3))
        if rng.random() < 0.15:  # ambiguous: a word of another topic too
            words.append(str(rng.choice(TOPICS[names[(a + 1) % 3]])))
        rng.shuffle(words)
        records.append({"text": " ".join(words), "channel": str(rng.choice(["app", "web"])), "n_items": float(rng.integers(0, 5))})
        labels.append(a)
    return records, np.array(labels), names


@pytest.fixture(scope="module")
def data():
    train, y, names = requests(600, 0)
    test, y_test, _ = requests(300, 1)
    return train, y, test, y_test, names


@pytest.mark.parametrize(
    "inner",
    [RuleListStudent(max_depth=6), TreeStudent(max_depth=6), MLPStudent(hidden_sizes=[8], epochs=20), KeywordRulesStudent(max_rules=12), LinearStudent()],
    ids=["rules", "tree", "mlp", "keywords", "linear"],
)
def test_export_decides_exactly_as_predict_on_every_held_out_request(data, inner, tmp_path):
    train, y, test, y_test, names = data
    student = FeaturizedStudent(inner, RecordFeaturizer(min_df=2)).fit(train, y, action_names=names)
    assert (student.predict(test) == y_test).mean() > 0.8  # it learned the routing
    levels = np.unique(student.choose(test)[1])
    assert len(levels) > 1  # confidences differ from request to request
    for threshold in (None, float(levels[len(levels) // 2])):  # a threshold between them: some decided, some deferred
        s = student.with_threshold(threshold)
        path = export_python(s, tmp_path / f"student_{inner.family}_{threshold}.py")
        ns: dict = {}
        exec(compile(open(path).read(), path, "exec"), ns)
        exported = [ns["decide_index"](r) for r in test]
        np.testing.assert_array_equal(exported, s.predict_or_defer(test))
        assert [ns["decide"](r) for r in test[:20]] == [s.decide(r) for r in test[:20]]
        if threshold is not None:
            assert -1 in exported and len(set(exported)) > 1  # it both defers and decides


def test_export_handles_empty_text_unseen_category_and_missing_fields(data, tmp_path):
    train, y, _, _, names = data
    s = FeaturizedStudent(TreeStudent(max_depth=4), RecordFeaturizer()).fit(train, y, action_names=names)
    ns: dict = {}
    exec(export_python(s), ns)
    for state in ({"text": ""}, {"channel": "phone-never-seen"}, {}, {"text": None, "n_items": "oops"}):
        assert ns["decide"](state) == s.decide(state) and ns["decide"](state) in names


def test_artifact_and_hash_cover_the_vocabulary_and_threshold(data):
    train, y, _, _, names = data
    a = FeaturizedStudent(TreeStudent(max_depth=3), RecordFeaturizer(ngram_range=(1, 1))).fit(train, y, action_names=names)
    b = FeaturizedStudent(TreeStudent(max_depth=3), RecordFeaturizer(ngram_range=(1, 2))).fit(train, y, action_names=names)
    assert a.to_dict()["state"]["featurizer"]["feature_names"] != b.to_dict()["state"]["featurizer"]["feature_names"]
    assert a.content_hash != b.content_hash and a.with_threshold(0.8).content_hash != a.content_hash
    loaded = Student.from_dict(json.loads(json.dumps(a.with_threshold(0.8).to_dict())))
    assert isinstance(loaded, FeaturizedStudent) and loaded.content_hash == a.with_threshold(0.8).content_hash
    np.testing.assert_array_equal(loaded.predict_or_defer(train), a.with_threshold(0.8).predict_or_defer(train))


def test_rules_read_as_keywords(data):
    train, y, _, _, names = data
    s = FeaturizedStudent(RuleListStudent(max_depth=3), RecordFeaturizer(ngram_range=(1, 1))).fit(train, y, action_names=names)
    text = s.to_text()
    assert 'text has "' in text and "> 0.5" not in text and " THEN " in text
    assert any(line.startswith("IF NOT text has") or " AND NOT text has" in line or line.startswith('IF text has "') for line in text.splitlines())


def test_cost_counts_featurizing(data):
    train, y, _, _, names = data
    s = FeaturizedStudent(TreeStudent(max_depth=3), RecordFeaturizer()).fit(train, y, action_names=names)
    assert s.cost().ops_per_decision > s.student_.cost().ops_per_decision + 5  # ≥ 5 words per request are looked up


def test_bad_use_is_refused(data):
    train, y, _, _, names = data
    s = FeaturizedStudent(TreeStudent(max_depth=3), RecordFeaturizer()).fit(train, y, action_names=names)
    with pytest.raises(DataError, match="one state"):
        s.decide([{"text": "x"}, {"text": "y"}])
    with pytest.raises(DataError, match="not a dict"):
        s.predict(["just a string"])
    with pytest.raises(ParameterError, match="needs student"):
        FeaturizedStudent(None, RecordFeaturizer()).fit(train, y)


def test_keyword_rules_are_short_keyword_tests_and_stop_at_max_rules(data):
    train, y, test, y_test, names = data
    s = FeaturizedStudent(KeywordRulesStudent(max_rules=6, max_terms=2), RecordFeaturizer(ngram_range=(1, 1))).fit(train, y, action_names=names)
    rules = s.student_.rules_
    assert 1 <= len(rules) <= 6 and all(1 <= len(r.conditions) <= 2 for r in rules)
    first = s.to_text().splitlines()[0]
    assert first.startswith('IF text has "') and first.split(" THEN ")[1].split()[0] in names
    assert (s.predict(test) == y_test).mean() > 0.8  # a handful of topic words routes most requests


def test_keyword_rules_test_numbers_at_their_deciles_exactly_as_the_export(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2)).astype(np.float32)
    y = (X[:, 0] > np.quantile(X[:, 0], 0.6)).astype(int) + (X[:, 1] > np.quantile(X[:, 1], 0.8))  # cuts at deciles
    s = KeywordRulesStudent(max_rules=6).fit(X, y)
    assert (s.predict(X) == y).mean() > 0.9 and all(c.lower is not None or c.upper is not None for r in s.rules_ for c in r.conditions)
    ns: dict = {}
    exec(export_python(s), ns)
    probe = np.r_[X, rng.normal(size=(400, 2)).astype(np.float32)]
    assert [ns["decide"]([float(v) for v in x]) for x in probe] == s.predict(probe).tolist()


def test_linear_student_round_trips_as_its_own_family(data):
    train, y, test, _, names = data
    s = FeaturizedStudent(LinearStudent(C=1.0), RecordFeaturizer()).fit(train, y, action_names=names)
    loaded = Student.from_dict(json.loads(json.dumps(s.to_dict())))
    assert loaded.student_.family == "linear" and loaded.content_hash == s.content_hash
    np.testing.assert_allclose(loaded.predict_proba(test), s.predict_proba(test))
    two = LinearStudent().fit(np.eye(4)[[0, 1, 2, 3] * 5], np.array([0, 1, 0, 1] * 5))  # two actions: sigmoid as softmax
    assert two.predict_proba(np.eye(4)).shape == (4, 2) and list(two.predict(np.eye(4))) == [0, 1, 0, 1]


def test_a_featurized_hybrid_exports_without_deferral_and_refuses_a_threshold(data):
    from hybrid.errors import ExportError
    from hybrid.students import HybridStudent

    train, y, test, _, names = data
    s = FeaturizedStudent(HybridStudent(tau=0.8, rule_depth=3, hidden_sizes=(4,), epochs=3), RecordFeaturizer()).fit(train, y, action_names=names)
    ns: dict = {}
    exec(export_python(s), ns)
    assert [ns["decide_index"](r) for r in test] == s.predict(test).tolist()
    with pytest.raises(ExportError, match="deferring 'hybrid' student has no Python export"):
        export_python(s.with_threshold(0.9))
