"""``RecordFeaturizer``: structured states (text, categories, lists, numbers) → named numeric features.

The first stage of a student on records. Field kinds are declared or inferred
(:func:`infer_kinds`); ``fit`` learns, from the training records only, the word n-grams of each
text field (the ``max_features`` most frequent among those in ≥ ``min_df`` records — the same
selection as scikit-learn's ``CountVectorizer``, which does the counting), the values of each
category and list field, and lays out one column per feature:

- text → one 0/1 column per n-gram, named ``text has "weather"`` (or, with ``hashing=B``, B
  columns of CRC-32-hashed n-grams, each named after the most frequent training n-gram in it);
  with ``char_ngram_range=(2, 4)`` also one column per character n-gram inside a word,
  ``text contains "eat"`` (misspellings and word forms share them); with ``weighting="tfidf"``
  each part's columns hold TF-IDF values scaled to unit length (``text tf-idf "weather"``),
  which rank a linear student's confidences better — a request of unseen words gets a flat,
  unconfident softmax instead of a confident one;
- category → one-hot ``channel is "app"``; list → multi-hot ``tools_used has "search"``;
- number → its value; bool → 0/1 (missing → 0).

Tokenising and lookup live in :mod:`hybrid.data.featurize_runtime` (standard library only),
which both ``transform`` and the Python export run, so deployment sees what training saw. The
fitted layout is plain JSON (``to_dict``) and enters the student's artifact and content hash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hybrid.data import featurize_runtime as runtime
from hybrid.errors import DataError, NotFittedError

KINDS = ("number", "bool", "category", "list", "text")
WEIGHTINGS = ("binary", "tfidf")
_TEXT_MEAN_WORDS = 1.5  # strings averaging more words than this are text, the rest categories


def value_kind(value: Any) -> str | None:
    """The kind a single JSON value suggests (``None`` for a missing value)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def infer_kinds(records: Sequence[Mapping[str, Any]], declared: Mapping[str, str] | None = None) -> dict[str, str]:
    """Kind of every field seen (first-seen order); strings averaging > 1.5 words are text.

    ``declared`` fixes the kind of the fields it names; the others are inferred. Raises
    DataError for an unknown declared kind.
    """
    declared = dict(declared or {})
    bad = {k: v for k, v in declared.items() if v not in KINDS}
    if bad:
        raise DataError(f"unknown field kind(s) {bad}; use one of {list(KINDS)}")
    seen: dict[str, str] = {}
    words: dict[str, list[int]] = {}
    for record in records:
        for name, value in record.items():
            kind = value_kind(value)
            if kind is None:
                seen.setdefault(name, "missing")
                continue
            if seen.get(name, "missing") == "missing":
                seen[name] = kind
            if kind == "string":
                words.setdefault(name, []).append(len(runtime.text_tokens(value)))
    kinds = {}
    for name, kind in seen.items():
        if name in declared:
            kinds[name] = declared[name]
        elif kind == "string":
            kinds[name] = "text" if np.mean(words[name]) > _TEXT_MEAN_WORDS else "category"
        else:
            kinds[name] = "number" if kind == "missing" else kind
    kinds.update({k: v for k, v in declared.items() if k not in kinds})
    return kinds


def _as_key(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


class RecordFeaturizer:
    """Learns the feature layout of structured states on training records; ``transform`` gives
    float32 ``[n, d]``. Parameters are stored unchanged (scikit-learn style); work is in ``fit``.

    Parameters
    ----------
    fields: ``{field: kind}`` declared kinds (others are inferred from the training records).
    ngram_range: smallest and largest n-gram of text fields.
    max_features: most n-gram columns per text field (most frequent first, ties alphabetical).
    min_df: fewest training records an n-gram, category or list item must appear in.
    max_categories: most columns per category or list field.
    hashing: ``None`` for a vocabulary, or the number of hashed columns per text field.
    lowercase: lowercase text before tokenising.
    char_ngram_range: smallest and largest character n-gram inside words (``None``: none);
        their columns follow the word n-grams', ``max_features`` of them at most.
    weighting: ``binary`` (1.0 per n-gram present) or ``tfidf`` (unit-length TF-IDF per part).
    """

    reads_vectors: ClassVar[bool] = False  # takes records (an entity stage takes numeric vectors)

    def __init__(
        self,
        fields: Mapping[str, str] | None = None,
        ngram_range: tuple[int, int] = (1, 2),
        max_features: int = 3000,
        min_df: int = 2,
        max_categories: int = 50,
        hashing: int | None = None,
        lowercase: bool = True,
        char_ngram_range: tuple[int, int] | None = None,
        weighting: str = "binary",
    ) -> None:
        self.fields = fields
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.min_df = min_df
        self.max_categories = max_categories
        self.hashing = hashing
        self.lowercase = lowercase
        self.char_ngram_range = char_ngram_range
        self.weighting = weighting

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, records: Sequence[Mapping[str, Any]]) -> RecordFeaturizer:
        """Learn kinds, vocabularies and the column layout from ``records`` (training only)."""
        records = _check_records(records)
        lo, hi = (int(v) for v in self.ngram_range)
        if not 1 <= lo <= hi:
            raise DataError(f"ngram_range must be (min, max) with 1 ≤ min ≤ max; got {self.ngram_range!r}")
        if self.hashing is not None and int(self.hashing) < 1:
            raise DataError(f"hashing must be None or a number of columns ≥ 1; got {self.hashing!r}")
        if self.weighting not in WEIGHTINGS:
            raise DataError(f"weighting must be one of {list(WEIGHTINGS)}; got {self.weighting!r}")
        chars = None if self.char_ngram_range is None else (int(self.char_ngram_range[0]), int(self.char_ngram_range[1]))
        if chars is not None and not 1 <= chars[0] <= chars[1]:
            raise DataError(f"char_ngram_range must be None or (min, max) with 1 ≤ min ≤ max; got {self.char_ngram_range!r}")
        self.kinds_ = infer_kinds(records, self.fields)
        layout: list[list[Any]] = []
        names: list[str] = []
        for field, kind in self.kinds_.items():
            values = [r.get(field) for r in records]
            if kind in ("number", "bool"):
                layout.append([field, kind, len(names)])
                names.append(field)
            elif kind == "text":
                parts: list[tuple[str, int, int]] = [("text", lo, hi)] + ([] if chars is None else [("chars", chars[0], chars[1])])
                for part, n_lo, n_hi in parts:
                    table, cols = self._fit_text(field, part, values, len(names), n_lo, n_hi)
                    if cols or part == "text":  # a chars part without columns adds nothing
                        layout.append([field, part, table])
                        names += cols
            else:
                items = (([_as_key(i) for i in v] if isinstance(v, list) else [_as_key(v)]) for v in values if v is not None)
                counts = Counter(item for row in items for item in set(row))
                kept = [v for v, c in sorted(counts.items(), key=lambda t: (-t[1], t[0])) if c >= self.min_df][: self.max_categories]
                word = "is" if kind == "category" else "has"
                layout.append([field, kind, {v: len(names) + i for i, v in enumerate(kept)}])
                names += [f'{field} {word} "{v}"' for v in kept]
        if not names:
            raise DataError(
                "the featurizer found no features in the training records: every field is empty or too rare "
                f"(min_df={self.min_df}); log richer states or lower min_df"
            )
        self.layout_, self.feature_names_ = layout, names
        self.n_features_out_ = len(names)
        self.mean_lookups_ = float(np.mean([self._lookups(r) for r in records]))
        self.mean_active_ = float(np.mean([len(runtime.feature_columns(r, layout)) for r in records]))  # non-zero columns
        return self

    def _fit_text(self, field: str, part: str, values: list[Any], offset: int, lo: int, hi: int) -> tuple[list[Any], list[str]]:
        """The runtime table and column names of one part (word or character n-grams) of a text
        field: a vocabulary or hashed columns, then each column's IDF when weighting by TF-IDF."""
        from sklearn.feature_extraction.text import CountVectorizer

        grams_of = runtime.text_ngrams if part == "text" else runtime.char_ngrams

        def analyzer(text: Any) -> list[str]:
            return grams_of(runtime.text_tokens(text, self.lowercase), lo, hi)

        docs = ["" if v is None else v for v in values]
        tfidf = self.weighting == "tfidf"
        label = (f"{field} tf-idf " if tfidf else f"{field} has ") if part == "text" else (f"{field} tf-idf chars " if tfidf else f"{field} contains ")
        if self.hashing is not None:
            buckets = int(self.hashing)
            counts: Counter[str] = Counter(g for d in docs for g in set(analyzer(d)))
            first: dict[int, str] = {}
            for gram, _ in sorted(counts.items(), key=lambda t: (-t[1], t[0])):
                first.setdefault(runtime.hash_bucket(gram, buckets), gram)
            cols = [f'{label}"{first[b]}"~' if b in first else f"{field} hash {b}" for b in range(buckets)]
            table: list[Any] = [self.lowercase, lo, hi, None, offset, buckets]
        else:
            vectorizer = CountVectorizer(analyzer=analyzer, min_df=self.min_df, max_features=self.max_features, binary=True)
            try:
                vectorizer.fit(docs)
            except ValueError:  # no n-gram reaches min_df: the part adds no column
                return [self.lowercase, lo, hi, {}, offset, 0], []
            grams = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
            table, cols = [self.lowercase, lo, hi, {g: offset + i for i, g in enumerate(grams)}, offset, 0], [f'{label}"{g}"' for g in grams]
        if tfidf:  # scikit-learn's smoothed IDF, ln((1 + n) / (1 + df)) + 1, of each column on the training records
            df = np.zeros(len(cols))
            for d in docs:
                hit = runtime.feature_columns({field: d}, [[field, part, table]])
                df[[c - offset for c in hit]] += 1
            table.append([round(float(np.log((1 + len(docs)) / (1 + f)) + 1), 6) for f in df])
        return table, cols

    def _lookups(self, record: Mapping[str, Any]) -> int:
        """Dictionary lookups (or hashes) featurizing one record takes: the featurizer's cost."""
        n = 0
        for field, kind, table in self.layout_:
            value = record.get(field)
            if value is None:
                continue
            if kind == "text":
                n += len(runtime.text_ngrams(runtime.text_tokens(value, table[0]), table[1], table[2]))
            elif kind == "chars":
                n += len(runtime.char_ngrams(runtime.text_tokens(value, table[0]), table[1], table[2]))
            elif kind == "list":
                n += len(value) if isinstance(value, list) else 1
            else:
                n += 1
        return n

    # -- transform ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "layout_"):
            raise NotFittedError("this RecordFeaturizer is not fitted yet; call fit(records) on training records first.")

    def transform(self, records: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> np.ndarray:
        """float32 ``[n, d]`` features of ``records`` (one dict is one row); unseen values add nothing."""
        self._check_fitted()
        if isinstance(records, Mapping):
            records = [records]
        records = _check_records(records, allow_empty=True)
        X = np.zeros((len(records), self.n_features_out_), dtype=np.float32)
        for i, record in enumerate(records):
            for column, value in runtime.feature_columns(record, self.layout_).items():
                X[i, column] = value
        return X

    def fit_transform(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.fit(records).transform(records)

    def describe(self) -> str:
        """One line per field: its kind and how many columns it gave."""
        self._check_fitted()
        widths = Counter(name.split(" ", 1)[0] for name in self.feature_names_)
        return ", ".join(f"{f} ({k}, {widths.get(f, 0) if k != 'text' or self.hashing is None else self.hashing} columns)" for f, k in self.kinds_.items())

    # -- identity -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-able form: settings, kinds, layout (vocabularies) and feature names."""
        self._check_fitted()
        return {
            "params": {
                "fields": None if self.fields is None else dict(self.fields),
                "ngram_range": [int(v) for v in self.ngram_range],
                "max_features": self.max_features,
                "min_df": self.min_df,
                "max_categories": self.max_categories,
                "hashing": self.hashing,
                "lowercase": self.lowercase,
                # the newer settings appear only when used, so an artifact without them keeps its hash
                **({} if self.char_ngram_range is None else {"char_ngram_range": [int(v) for v in self.char_ngram_range]}),
                **({} if self.weighting == "binary" else {"weighting": self.weighting}),
            },
            "kinds": dict(self.kinds_),
            "layout": self.layout_,
            "feature_names": list(self.feature_names_),
            "mean_lookups": self.mean_lookups_,
            "mean_active": self.mean_active_,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordFeaturizer:
        params = dict(data["params"])
        params["ngram_range"] = tuple(params["ngram_range"])
        if params.get("char_ngram_range") is not None:
            params["char_ngram_range"] = tuple(params["char_ngram_range"])
        featurizer = cls(**params)
        featurizer.kinds_ = dict(data["kinds"])
        featurizer.layout_ = [list(entry) for entry in data["layout"]]
        featurizer.feature_names_ = list(data["feature_names"])
        featurizer.n_features_out_ = len(featurizer.feature_names_)
        featurizer.mean_lookups_ = float(data["mean_lookups"])
        featurizer.mean_active_ = float(data["mean_active"])
        return featurizer


def _check_records(records: Any, *, allow_empty: bool = False) -> list[Mapping[str, Any]]:
    """Records as a list of dicts, refusing anything else with the position of the first bad one."""
    if isinstance(records, (str, bytes)) or (not isinstance(records, Sequence) and not hasattr(records, "__iter__")):
        raise DataError(f"records must be a list of dicts (one structured state each); got {type(records).__name__}")
    records = list(records)
    if not records and not allow_empty:
        raise DataError("records is empty; fit the featurizer on at least one training record")
    for i, r in enumerate(records):
        if not isinstance(r, Mapping):
            raise DataError(f'record {i} is a {type(r).__name__}, not a dict of field values; pass states like {{"text": "book a table", "channel": "app"}}')
    return records
