"""Read only the rows a search needs: a seeded sample drawn before the data is materialised.

A search's largest rung fits on its whole training split, so a 10M-row log would be loaded, split
and copied whole. With ``max_rows`` the search draws a seeded sample of row indices first; a lazy
log (:class:`hybrid.data.parquet.ParquetLog`, anything with ``len()`` and ``read(rows)``) reads
only those rows, an in-memory dataset is cut to them. The same seed and row count give the same
rows whichever carrier holds the data, so the sample — and the search — is the same.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def is_lazy_log(data: Any) -> bool:
    """Whether ``data`` is a log read on demand (``len()`` and ``read(rows)``), not a dataset in memory."""
    return callable(getattr(data, "read", None)) and hasattr(data, "__len__") and not hasattr(data, "content_hash")


def sample_rows(n_rows: int, max_rows: int, seed: int) -> np.ndarray | None:
    """Sorted indices of a seeded sample of ``max_rows`` of ``n_rows`` rows (logging order kept),
    or None when every row is read (``max_rows`` 0 or at least ``n_rows``)."""
    if max_rows <= 0 or max_rows >= n_rows:
        return None
    return np.sort(np.random.default_rng([seed, n_rows]).choice(n_rows, size=max_rows, replace=False))


def read_needed(data: Any, max_rows: int, seed: int) -> Any:
    """The dataset a search runs on: ``data`` read whole, or only a seeded sample of ``max_rows``
    rows; a sample's ``meta`` says how many rows it was drawn from (``sampled_from``)."""
    lazy = is_lazy_log(data)
    n = len(data)
    rows = sample_rows(n, max_rows, seed)
    if rows is None:
        return data.read() if lazy else data
    ds = data.read(rows) if lazy else data.subset(rows)
    ds.meta = {**ds.meta, "sampled_from": {"rows": int(n), "seed": int(seed)}}
    return ds
