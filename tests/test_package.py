"""The public face of each package is its ``__all__``; every name listed there exists."""

import importlib

import pytest


@pytest.mark.parametrize("package", ["hybrid", "hybrid.students", "provenance", "auto_search"])
def test_all_names_exist(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert hasattr(module, name), f"{package}.__all__ lists {name!r} but it is missing"


def test_hybrid_shows_a_small_public_face_and_keeps_older_names_importable():
    import hybrid

    assert len(hybrid.__all__) <= 40
    for name in hybrid._LAZY:  # names users had before the layout by stage stay importable
        assert getattr(hybrid, name) is not None, name
