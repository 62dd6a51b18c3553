"""The package boundaries of the design, read from the source: no module of a package imports
what the layers above it own (at module level or inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.paths import REPO_ROOT

ENGINE_ONLY = {"tensorflow", "keras", "tf_keras"}
FORBIDDEN = {
    # The worker reaches TensorFlow and Keras only through the engine.
    "worker": ENGINE_ONLY,
    # The shared package sits below the API, the worker and the command line that drive it.
    "featviz": {"api", "worker", "featviz_cli"} | ENGINE_ONLY,
    "api": {"worker", "featviz_cli", "featviz_engine"} | ENGINE_ONLY,
}


def imported_packages(source: Path) -> set[str]:
    """The top-level packages a module imports by name (``import x.y``, ``from x.y import z``)."""
    packages = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_module_imports_a_layer_above(package: str) -> None:
    modules = sorted((REPO_ROOT / package).rglob("*.py"))
    assert len(modules) > 5, f"found the modules of {package}"
    imports = {str(module.relative_to(REPO_ROOT)): imported_packages(module) for module in modules}
    offending = {name: found & FORBIDDEN[package] for name, found in imports.items()}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_worker_runs_the_engine() -> None:
    imports = set().union(*(imported_packages(m) for m in (REPO_ROOT / "worker").glob("*.py")))
    assert "featviz_engine" in imports


def test_the_readme_names_every_package_where_it_is() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    table = readme[readme.index("| folder | owns |") :].split("\n\n")[0]
    named = {cell.strip("` /") for row in table.splitlines()[2:] for cell in row.split("|")[1:2]}
    named = {part.strip("` /") for cell in named for part in cell.split(",")}
    packages = {p.parent.name for p in REPO_ROOT.glob("*/__init__.py")}
    assert packages <= named
    assert all((REPO_ROOT / name).is_dir() for name in named)
