"""Student families: cheap agents trained on a teacher's targets, one module per family.

Each family module holds its variant for discrete actions (the teacher's probabilities) and, where
the family has one, for continuous actions (the teacher's actions within bounds): ``tree``,
``rules``, ``mlp``, ``hybrid``, then ``linear`` and ``keywords`` (discrete only); ``featurized``
wraps any of them behind a record featurizer. Importing this package registers every family
(``Student.from_dict`` loads any of them); none imports torch until an MLP is fitted or run
through torch.
"""

from hybrid.students._base import Cost, Student, check_states, check_targets, check_weights, default_families, register, registered_families, resolve_names
from hybrid.students.entities import EntityMLPStudent, EntityTreeStudent
from hybrid.students.featurized import FeaturizedStudent
from hybrid.students.hybrid import HybridRegressorStudent, HybridStudent
from hybrid.students.keywords import KeywordRulesStudent
from hybrid.students.linear import LinearStudent
from hybrid.students.mlp import MLPRegressorStudent, MLPStudent
from hybrid.students.rules import Condition, LinearRuleListStudent, Rule, RuleListStudent
from hybrid.students.tree import RegressionTreeStudent, TreeStudent

__all__ = [
    "Condition",
    "Cost",
    "EntityMLPStudent",
    "EntityTreeStudent",
    "FeaturizedStudent",
    "HybridRegressorStudent",
    "HybridStudent",
    "KeywordRulesStudent",
    "LinearRuleListStudent",
    "LinearStudent",
    "MLPRegressorStudent",
    "MLPStudent",
    "RegressionTreeStudent",
    "Rule",
    "RuleListStudent",
    "Student",
    "TreeStudent",
    "check_states",
    "check_targets",
    "check_weights",
    "default_families",
    "register",
    "registered_families",
    "resolve_names",
]
