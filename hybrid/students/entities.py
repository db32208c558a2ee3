"""Entity students: a tree or an MLP behind the entity stage, as families AutoDistill searches.

On states that list entities (landmarks and other agents, other vehicles) a student over raw
columns must learn each rule once per slot; behind :class:`hybrid.data.entities.EntityFeaturizer`
it reads the nearest entities sorted by distance, how much nearer the agent is than the others,
and counts. Each family is a :class:`hybrid.students.featurized.FeaturizedStudent` whose two
stages are built from its own hyperparameters, so it fits, predicts, costs (featurizing
included), saves and exports like any student on the raw states. AutoDistill adds them to its
default families when the dataset's feature names show entities (:func:`infer_entity_groups`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from hybrid.data.entities import EntityFeaturizer, infer_entity_groups
from hybrid.spaces import ActionSpace
from hybrid.students._base import register
from hybrid.students.featurized import FeaturizedStudent
from hybrid.students.mlp import MLPStudent
from hybrid.students.tree import TreeStudent


class _EntityStudent(FeaturizedStudent):
    """An entity stage then ``_inner()``; the constructor's arguments are the artifact's params."""

    wraps_student = False  # a family of its own
    needs_entities = True  # fits only states whose feature names show entities (tests/students/test_entities.py)
    defer_below = None

    @classmethod
    def adds_itself(cls, dataset: Any) -> bool:
        """Whether a default search of ``dataset`` should try this family: its names show entities."""
        return bool(infer_entity_groups(getattr(dataset, "feature_names", None)))

    def _inner(self) -> Any:
        raise NotImplementedError

    def fit(
        self,
        states: Any,
        Y: Any,
        sample_weight: Any = None,
        *,
        feature_names: Sequence[str] | None = None,
        action_names: Sequence[str] | None = None,
        action_space: ActionSpace | None = None,
        action_low: Any = None,
        action_high: Any = None,
    ) -> FeaturizedStudent:
        """Build both stages from the hyperparameters, then fit them (see ``FeaturizedStudent.fit``)."""
        self.student = self._inner()
        self.featurizer = EntityFeaturizer(nearest=self.nearest, keep_raw=self.keep_raw)
        bounds = {"action_space": action_space, "action_low": action_low, "action_high": action_high}
        return super().fit(states, Y, sample_weight, feature_names=feature_names, action_names=action_names, **bounds)

    def to_dict(self) -> dict[str, Any]:
        """``FeaturizedStudent.to_dict`` with this family's hyperparameters as its params."""
        return {**super().to_dict(), "params": self.get_params()}


@register
class EntityTreeStudent(_EntityStudent):
    """A soft-label decision tree over entity features (see :class:`TreeStudent`)."""

    family = "entity_tree"
    search_order = 1
    colour = "#2c7fb8"

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """Depths 2–12, then best-first trees by leaf count."""
        by_depth = [{"max_depth": d, "min_samples_leaf": 1} for d in (2, 3, 4, 5, 6, 8, 10, 12)]
        return by_depth + [{"max_depth": None, "max_leaf_nodes": n, "min_samples_leaf": 5} for n in (24, 48, 96)]

    def __init__(
        self,
        max_depth: int | None = None,
        max_leaf_nodes: int | None = None,
        min_samples_leaf: int = 1,
        nearest: int | None = None,
        keep_raw: bool = True,
        random_state: int = 0,
    ) -> None:
        self.max_depth = max_depth
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.nearest = nearest
        self.keep_raw = keep_raw
        self.random_state = random_state

    def _inner(self) -> TreeStudent:
        return TreeStudent(max_depth=self.max_depth, max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf, random_state=self.random_state)


@register
class EntityMLPStudent(_EntityStudent):
    """A distilled MLP over entity features (see :class:`MLPStudent`)."""

    family = "entity_mlp"
    expensive = True
    search_order = 11
    colour = "#7b3294"
    fit_imports: ClassVar[tuple[str, ...]] = ("torch",)

    @classmethod
    def search_space(cls, *, epochs: int) -> list[dict[str, Any]]:
        """The MLP family's widths (hidden layers only), at its default tempering."""
        widths = {tuple(p["hidden_sizes"]): None for p in MLPStudent.search_space(epochs=epochs) if p["hidden_sizes"]}
        return [{"hidden_sizes": list(h), "epochs": epochs} for h in widths]

    def __init__(self, hidden_sizes: Sequence[int] = (32,), epochs: int = 60, nearest: int | None = None, keep_raw: bool = True, random_state: int = 0) -> None:
        self.hidden_sizes = hidden_sizes
        self.epochs = epochs
        self.nearest = nearest
        self.keep_raw = keep_raw
        self.random_state = random_state

    def _inner(self) -> MLPStudent:
        return MLPStudent(hidden_sizes=tuple(self.hidden_sizes), epochs=self.epochs, random_state=self.random_state)
