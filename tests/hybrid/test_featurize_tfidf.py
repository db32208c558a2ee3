"""Character n-grams and TF-IDF weighting in the record featurizer: the same values as
scikit-learn's TfidfVectorizer, stable artifacts, the export deciding as ``predict`` does, and the
dataset setting that carries them into a search."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from hybrid.data.featurize import RecordFeaturizer
from hybrid.data.records import RecordDataset
from hybrid.errors import DataError
from hybrid.exports import export_python
from hybrid.students import FeaturizedStudent
from hybrid.students.linear import LinearStudent

TEXTS = [
    "what is the weather in paris",
    "weather forecast for rome tomorrow",
    "book a flight to rome",
    "find me a cheap flight",
    "what is my bank balance",
    "transfer money to my bank account",
    "is it going to rain in oslo",
    "flight status for my trip",
]
ROUTES = ["weather", "weather", "travel", "travel", "banking", "banking", "weather", "travel"]


def test_tfidf_word_columns_equal_scikit_learns_tfidf_vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    records = [{"text": t} for t in TEXTS]
    ours = RecordFeaturizer(fields={"text": "text"}, ngram_range=(1, 2), min_df=1, max_features=10_000, weighting="tfidf").fit(records)
    theirs = TfidfVectorizer(ngram_range=(1, 2), binary=True, token_pattern=r"\w+", norm="l2").fit(TEXTS)
    X = ours.transform(records)
    grams = [name.split('"')[1] for name in ours.feature_names_]
    assert sorted(grams) == sorted(theirs.vocabulary_)
    Y = theirs.transform(TEXTS).toarray()[:, [theirs.vocabulary_[g] for g in grams]]
    np.testing.assert_allclose(X, Y, atol=1e-5)
    assert all(name.startswith('text tf-idf "') for name in ours.feature_names_)


def test_character_ngrams_share_columns_between_spellings_and_each_part_has_unit_length():
    records = [{"text": t} for t in TEXTS]
    f = RecordFeaturizer(fields={"text": "text"}, min_df=1, char_ngram_range=(2, 4), weighting="tfidf").fit(records)
    chars = [i for i, n in enumerate(f.feature_names_) if n.startswith("text tf-idf chars ")]
    words = [i for i, n in enumerate(f.feature_names_) if n.startswith('text tf-idf "')]
    assert chars and words and len(chars) + len(words) == f.n_features_out_
    x = f.transform({"text": "wether in pariss"})[0]  # misspelt: no word n-gram of "weather", but its pieces
    assert x[chars].sum() > 0 and np.isclose(np.linalg.norm(x[chars]), 1.0, atol=1e-5)
    assert np.isclose(np.linalg.norm(f.transform(records)[0][words]), 1.0, atol=1e-5)
    binary = RecordFeaturizer(fields={"text": "text"}, min_df=1, char_ngram_range=(3, 3)).fit(records)
    assert 'text contains " we"' in binary.feature_names_ and set(np.unique(binary.transform(records))) <= {0.0, 1.0}


def test_settings_round_trip_and_the_default_artifact_is_unchanged():
    records = [{"text": t} for t in TEXTS]
    default = RecordFeaturizer().fit(records).to_dict()["params"]
    assert "char_ngram_range" not in default and "weighting" not in default  # older artifacts keep their hash
    f = RecordFeaturizer(min_df=1, char_ngram_range=(2, 3), weighting="tfidf").fit(records)
    g = RecordFeaturizer.from_dict(f.to_dict())
    assert g.char_ngram_range == (2, 3) and g.weighting == "tfidf"
    np.testing.assert_array_equal(f.transform(records), g.transform(records))


@pytest.mark.parametrize("bad, words", [({"weighting": "bm25"}, "weighting must be one of"), ({"char_ngram_range": (3, 2)}, "char_ngram_range")])
def test_bad_settings_are_refused(bad, words):
    with pytest.raises(DataError, match=words):
        RecordFeaturizer(**bad).fit([{"text": t} for t in TEXTS])


def test_the_export_decides_as_predict_on_tfidf_character_features(tmp_path):
    records = [{"text": t} for t in TEXTS]
    names = ["banking", "travel", "weather"]
    P = np.eye(3, dtype=np.float32)[[names.index(r) for r in ROUTES]]
    featurizer = RecordFeaturizer(fields={"text": "text"}, min_df=1, char_ngram_range=(2, 4), weighting="tfidf")
    student = FeaturizedStudent(student=LinearStudent(C=10.0), featurizer=featurizer, defer_below=0.5).fit(records, P, action_names=names)
    path = export_python(student, tmp_path / "router.py")
    spec = importlib.util.spec_from_file_location("router", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    asks = [*records, {"text": "wether in berlin"}, {"text": "my bank"}, {"text": ""}, {"text": "zzz"}]
    assert [module.decide_index(r) for r in asks] == student.predict_or_defer(asks).tolist()
    assert student.decide({"text": "what is the weather in rome"}) == "weather"


def test_a_dataset_carries_its_featurizer_settings_into_the_students_features():
    names = ["banking", "travel", "weather"]
    P = np.eye(3, dtype=np.float32)[[names.index(r) for r in ROUTES]]
    plain = RecordDataset([{"text": t} for t in TEXTS], P, names, {"text": "text"})
    read = RecordDataset(plain.records, plain.P, names, plain.fields, featurizer={"char_ngram_range": (2, 4), "weighting": "tfidf", "min_df": 1})
    assert read.content_hash == plain.content_hash  # how states are read is not what they are
    train, val = read.split(0.25, seed=0)
    X, X_val, feature_names, featurizer = train.student_features(val, np.arange(len(train)))
    assert featurizer.weighting == "tfidf" and any(n.startswith("text tf-idf chars ") for n in feature_names)
    assert X.shape[1] == X_val.shape[1] == len(feature_names)
    with pytest.raises(DataError, match="unknown featurizer setting"):
        RecordDataset(plain.records, plain.P, names, plain.fields, featurizer={"char_ngrams": (2, 4)})
