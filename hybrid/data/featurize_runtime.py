"""Turn one structured state (a dict) into feature columns: standard library only.

This module is the single implementation of tokenising and feature lookup. ``RecordFeaturizer``
runs it in training and at ``predict`` time, and the Python export embeds its source verbatim,
so a deployed ``decide(record)`` sees exactly the columns the student was trained on.

``layout`` is a list of ``(field, kind, table)``: ``kind`` is ``number``/``bool`` (``table`` is
the column), ``category``/``list`` (``table`` maps a value to its column) or ``text``
(``table`` is ``[lowercase, ngram_min, ngram_max, vocabulary or None, offset, buckets]``: a
vocabulary maps an n-gram to its column; without one, n-grams hash into ``buckets`` columns
from ``offset`` by CRC-32) or ``chars`` (the same table over character n-grams of each word,
padded by one space on each side). A text or chars table may hold a seventh entry, each column's
inverse document frequency: the part's columns then carry TF-IDF values scaled to unit length
(a short request and a long one weigh alike), else 1.0 per n-gram present. Anything a state lacks, or holds in an unexpected form, adds no
column: an unseen category, an empty text or a missing field decide like an all-zero part.
"""

import math
import re
import zlib

_WORD = re.compile(r"\w+")


def text_tokens(text, lowercase=True):
    """Words of ``text``: runs of letters, digits and underscores (Unicode-aware)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    return _WORD.findall(text.lower() if lowercase else text)


def text_ngrams(tokens, ngram_min, ngram_max):
    """Every run of ``ngram_min``..``ngram_max`` consecutive tokens, joined by one space."""
    out = []
    for n in range(ngram_min, ngram_max + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def char_ngrams(tokens, ngram_min, ngram_max):
    """Every run of ``ngram_min``..``ngram_max`` characters inside each token padded by one space
    on each side (scikit-learn's ``char_wb``): spelling variants and word stems share features."""
    out = []
    for token in tokens:
        word = " " + token + " "
        for n in range(ngram_min, ngram_max + 1):
            out.extend(word[i : i + n] for i in range(len(word) - n + 1))
    return out


def _text_columns(grams, table, out):
    """Set the columns of ``grams`` in ``out``: 1.0 each, or unit-length TF-IDF with weights."""
    vocabulary, offset, buckets = table[3], table[4], table[5]
    weights = table[6] if len(table) > 6 else None
    part = {}
    for gram in grams:
        column = offset + hash_bucket(gram, buckets) if vocabulary is None else vocabulary.get(gram)
        if column is not None:
            part[column] = 1.0 if weights is None else weights[column - offset]
    if weights is not None and part:
        norm = math.sqrt(sum(v * v for v in part.values()))
        part = {column: v / norm for column, v in part.items()}
    out.update(part)


def hash_bucket(ngram, buckets):
    """The hashing column of an n-gram: CRC-32 of its UTF-8 bytes modulo ``buckets`` (stable
    across processes and platforms, unlike Python's salted ``hash``)."""
    return zlib.crc32(ngram.encode("utf-8")) % buckets


def _number(value):
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return 0.0


def feature_columns(state, layout):
    """``{column: value}`` of the non-zero features of ``state`` (a dict of field values)."""
    out = {}
    if not isinstance(state, dict):
        return out
    for field, kind, table in layout:
        value = state.get(field)
        if value is None:
            continue
        if kind == "number":
            out[table] = _number(value)
        elif kind == "bool":
            out[table] = 1.0 if value is True or value == 1 else 0.0
        elif kind == "category":
            column = table.get(value if isinstance(value, str) else str(value))
            if column is not None:
                out[column] = 1.0
        elif kind == "list":
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                column = table.get(item if isinstance(item, str) else str(item))
                if column is not None:
                    out[column] = 1.0
        elif kind == "text":
            _text_columns(text_ngrams(text_tokens(value, table[0]), table[1], table[2]), table, out)
        elif kind == "chars":
            _text_columns(char_ngrams(text_tokens(value, table[0]), table[1], table[2]), table, out)
    return out


def feature_vector(state, layout, width):
    """The dense feature list of ``state``: ``width`` floats, zero where no feature fired."""
    x = [0.0] * width
    for column, value in feature_columns(state, layout).items():
        x[column] = value
    return x
