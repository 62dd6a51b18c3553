"""The worker reaches TensorFlow and Keras only through the engine: no module of ``worker/``
imports them itself, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

WORKER = Path(__file__).resolve().parent.parent / "worker"
ENGINE_ONLY = {"tensorflow", "keras", "tf_keras"}


def imported_packages(source: Path) -> set[str]:
    """The top-level packages a module imports by name (``import x.y``, ``from x.y import z``)."""
    packages = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            packages |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            packages.add(node.module.split(".")[0])
    return packages


def test_worker_modules_import_no_tensorflow_or_keras() -> None:
    modules = sorted(WORKER.glob("*.py"))
    assert len(modules) > 5, f"found the worker's modules in {WORKER}"
    imports = {module.name: imported_packages(module) for module in modules}
    assert any("featviz_engine" in packages for packages in imports.values())
    offending = {name: packages & ENGINE_ONLY for name, packages in imports.items()}
    assert {name: found for name, found in offending.items() if found} == {}
