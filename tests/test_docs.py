"""The documentation stays true: every Python block of the README and the docs runs, and the API
reference covers every public name with a docstring.

A page's Python blocks run in order in one namespace, in a fresh folder laid out like a checkout
(the repository's folder beside ``shared/``), so relative paths in examples mean what they say. A
page holding ``<!-- docs-test: slow -->`` runs in the slow suite (``pytest -m slow``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
from pathlib import Path

import pytest
from mktestdocs import grab_code_blocks

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SLOW = "<!-- docs-test: slow -->"
PAGES = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)]


def _hook(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", DOCS / "_hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page_param(path: Path):
    text = path.read_text(encoding="utf-8")
    marks = [pytest.mark.slow] if SLOW in text else []
    return pytest.param(path, id=str(path.relative_to(ROOT)), marks=marks)


def run_blocks(markdown: str, where: Path, name: str) -> int:
    """Run the Python blocks of ``markdown`` in order in one namespace, from ``where``; return how many ran."""
    blocks = grab_code_blocks(markdown, lang="python")
    namespace: dict = {"__name__": "__docs__"}
    cwd = os.getcwd()
    os.chdir(where)
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{name} (python block {i + 1})", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return len(blocks)


@pytest.fixture
def only_shipped_families(monkeypatch: pytest.MonkeyPatch) -> None:
    """Examples see the families this project ships, not toy ones other tests registered."""
    from hybrid.students import _base

    monkeypatch.setattr(_base, "_REGISTRY", {k: v for k, v in _base._REGISTRY.items() if v.__module__.startswith("hybrid.")})


@pytest.mark.usefixtures("only_shipped_families")
@pytest.mark.parametrize("page", [_page_param(p) for p in PAGES if "```python" in p.read_text(encoding="utf-8")])
def test_python_blocks_run(page: Path, tmp_path: Path) -> None:
    text = page.read_text(encoding="utf-8")
    if "../shared/" in text and not (ROOT.parent / "shared").is_dir():
        pytest.skip("this page reads ../shared/, which is not beside this checkout")
    checkout = tmp_path / "repo"
    checkout.mkdir()
    if (ROOT.parent / "shared").is_dir():
        (tmp_path / "shared").symlink_to(ROOT.parent / "shared")
    assert run_blocks(text, checkout, str(page.relative_to(ROOT))) > 0


def test_a_broken_example_fails(tmp_path: Path) -> None:
    broken = "Text.\n\n```python\nfrom hybrid import load_teacher\nload_teacher('NoSuchEnv-v0')\n```\n"
    with pytest.raises(Exception, match="NoSuchEnv"):
        run_blocks(broken, tmp_path, "broken.md")


def test_every_guide_page_with_code_is_collected() -> None:
    guide = [p for p in (DOCS / "guide").glob("*.md") if "```python" in p.read_text(encoding="utf-8")]
    assert len(guide) >= 8 and all(p in PAGES for p in guide)


@pytest.mark.parametrize("package", _hook("reference").PACKAGES)
def test_reference_lists_every_public_name_with_a_docstring(package: str) -> None:
    reference = _hook("reference")
    module = importlib.import_module(package)
    page = reference.page(package)
    for name in module.__all__:
        path = reference.definition_path(package, name)
        assert f"::: {path}\n" in page
        owner, _, attr = path.rpartition(".")
        obj = getattr(module, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert (obj.__doc__ or "").strip(), f"{package}.{name} has no docstring"
        else:  # a constant: its docstring is the string literal after its assignment
            source = inspect.getsource(importlib.import_module(owner))
            after = source.split(f"\n{attr} = ", 1)[1].split("\n", 2)[1]
            assert after.startswith('"""'), f"{package}.{name} has no docstring after its assignment in {owner}"


def test_results_tables_render_from_the_json() -> None:
    results = _hook("results")
    markers = {m for p in (DOCS / "results").glob("*.md") for m in results.MARKER.findall(p.read_text(encoding="utf-8"))}
    assert markers == set(results.TABLES), "every table is used on a Results page, and every marker has a table"
    for name in sorted(markers):
        rendered = results.render_markers(f"<!-- results: {name} -->", DOCS, "test")
        assert rendered.count("\n|") >= 3 and "results:" not in rendered
    with pytest.raises(ValueError, match="unknown results table 'nope'"):
        results.render_markers("<!-- results: nope -->", DOCS, "page.md")


def test_placeholder_pages_for_other_issues_are_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in ("guide/students.md", "guide/serving.md", "guide/logs.md"):
        assert page in nav and (DOCS / page).exists()


def test_the_getting_started_python_block_runs_twice(tmp_path, monkeypatch, only_shipped_families):
    """The block that logs, searches, reports and records runs again in the same folder: the key
    is reused and nothing is recorded twice."""
    block = grab_code_blocks((DOCS / "getting-started.md").read_text(encoding="utf-8"), lang="python")[0]
    assert "budget_s=20" in block and "generate_key" in block
    monkeypatch.chdir(tmp_path)
    code = compile(block.replace("budget_s=20", "budget_s=8, n_jobs=1"), "getting-started.md", "exec")
    for _ in range(2):
        namespace: dict = {"__name__": "__docs__"}
        exec(code, namespace)
        assert namespace["result"].student is not None
        assert (tmp_path / "runs" / "report" / "report.html").exists() and (tmp_path / "runs" / "model" / "student.py").exists()
    from provenance import Ledger

    with Ledger(tmp_path / "runs" / "ledger.db") as ledger:
        said = [(e.kind, e.subject, e.parents) for e in ledger.entries()]
    assert len(said) == len(set(said))
