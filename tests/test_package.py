"""The public face of each package is its ``__all__``; every name listed there exists."""

import importlib

import pytest


@pytest.mark.parametrize("package", ["hybrid", "hybrid.students", "provenance", "auto_search"])
def test_all_names_exist(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ lists {name!r} but it is missing"
