"""The API and the shared package never import TensorFlow; the catalog matches the engine."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.paths import REPO_ROOT

IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import api, featviz
for package in (featviz, api):
    for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
from api.main import create_app
loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras"))
print("LOADED", loaded)
print("MODULES", len([n for n in sys.modules if n.startswith(("api.", "featviz."))]))
"""


def test_api_and_featviz_import_without_tensorflow() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERYTHING],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "LOADED []" in completed.stdout, completed.stdout
    modules = int(completed.stdout.split("MODULES")[1])
    assert modules > 20, "every module was imported"


def test_catalog_is_in_sync_with_the_engine() -> None:
    completed = subprocess.run(
        [sys.executable, "scripts/generate_catalog.py", "--check"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
