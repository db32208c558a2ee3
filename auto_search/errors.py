"""The ``auto_search`` exception family, rooted in :class:`hybrid.errors.HybridError`.

::

    HybridError
     └── SearchError              anything AutoDistill refuses or cannot do
          ├── SearchConfigError   a bad option: budget ≤ 0, unknown family/policy/backend (also ValueError)
          └── SearchDataError     data unusable for a search: empty, one action (also hybrid DataError)

Every error is raised before any candidate is fitted, and its message names the fix.
"""

from __future__ import annotations

from hybrid.errors import DataError, HybridError


class SearchError(HybridError):
    """Base of every error raised by ``auto_search``."""


class SearchConfigError(SearchError, ValueError):
    """A search option is invalid (budget, family, policy, backend, fractions)."""


class SearchDataError(SearchError, DataError):
    """The dataset cannot be searched over (empty, a single action, too few states to split)."""
