"""Student families: cheap agents trained on a teacher's soft labels.

Importing this package registers every family (``Student.from_dict`` loads any of them);
none imports torch until an MLP is fitted or run through torch.
"""

from hybrid.students._base import Cost, Student, check_states, check_targets, check_weights, default_families, register, registered_families, resolve_names
from hybrid.students.featurized import FeaturizedStudent
from hybrid.students.hybrid_regressor import HybridRegressorStudent
from hybrid.students.hybrid_student import HybridStudent
from hybrid.students.keywords import KeywordRulesStudent
from hybrid.students.linear import LinearStudent
from hybrid.students.linear_rules import LinearRuleListStudent
from hybrid.students.mlp import MLPStudent
from hybrid.students.mlp_regressor import MLPRegressorStudent
from hybrid.students.regression_tree import RegressionTreeStudent
from hybrid.students.rules import Condition, Rule, RuleListStudent
from hybrid.students.tree import TreeStudent

__all__ = [
    "Condition",
    "Cost",
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
