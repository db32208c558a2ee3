"""MkDocs hook: the API reference, one page per package, generated from each ``__all__``.

Each page lists exactly the package's public names, each as a mkdocstrings entry pointing at the
module that defines it (``hybrid`` loads its names lazily, so a static reader cannot follow them
from the package itself). A name added to ``__all__`` appears on the next build; a name without a
docstring is caught by ``tests/test_docs.py``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

PACKAGES = ("hybrid", "hybrid.students", "hybrid.exports", "auto_search", "provenance")


def definition_path(package: str, name: str) -> str:
    """The dotted path of the module-level object that ``package.name`` is, where it is defined."""
    module = importlib.import_module(package)
    obj = getattr(module, name)
    if inspect.isclass(obj) or inspect.isfunction(obj):
        return f"{obj.__module__}.{obj.__qualname__}"
    for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}.") if hasattr(module, "__path__") else ():
        tree = ast.parse(Path(inspect.getfile(importlib.import_module(info.name))).read_text(encoding="utf-8"))
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return f"{info.name}.{name}"
    return f"{package}.{name}"


def page(package: str) -> str:
    """The Markdown of one package's reference page."""
    module = importlib.import_module(package)
    summary = (inspect.getdoc(module) or "").split("\n\n", 1)[0]
    lines = [f"# `{package}`", "", summary, "", f"Public names: the package's `__all__` ({len(module.__all__)}).", ""]
    for name in module.__all__:
        lines += [f"::: {definition_path(package, name)}", "    options:", f"      heading: {package}.{name}", ""]
    return "\n".join(lines)


def src_uri(package: str) -> str:
    """Where a package's reference page lives in the site."""
    return f"reference/{package.replace('.', '-')}.md"


def on_files(files: Any, config: Any) -> Any:
    """MkDocs event: add the generated reference pages to the site's files."""
    from mkdocs.structure.files import File

    for package in PACKAGES:
        files.append(File.generated(config, src_uri(package), content=page(package)))
    return files
