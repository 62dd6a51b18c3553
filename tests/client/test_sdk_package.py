"""The SDK as users get it: the project's wheel, built here, installed with the ``client`` extra
into a fresh virtual environment, runs a job against the stack from there.

The project builds one distribution, ``featviz``; its base requirements are the SDK's, and the
``client`` extra adds none. The wheel's dependencies are downloaded once into a wheelhouse under
``.cache/`` (git-ignored), keyed by the wheel's requirements and ``requirements.lock``; every run
builds the wheel from the working tree and installs it into a new environment offline
(``--no-index``), so a requirement the wheel forgets to declare fails here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.client.test_client_imports import SERVER_SIDE
from tests.helpers.paths import CACHE_DIR, REPO_ROOT
from tests.helpers.service_stack import API_KEY, QUICK_JOB

LOCK = REPO_ROOT / "requirements.lock"
NOT_PACKAGED = {"tests"}
"""Top-level packages of the tree that the wheel leaves out (pyproject's packages.find)."""

RUN_A_JOB = f"""
import importlib.util, json, sys
import featviz_client

url, key, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
with featviz_client.Client(url, key) as client:
    job = client.submit(**spec).wait(timeout=120, poll_interval=0.2)
roots = {{name.split(".")[0] for name in sys.modules}}
print(json.dumps({{
    "id": job.id,
    "status": job.status,
    "sdk": featviz_client.__file__,
    "imported": sorted(roots & set({SERVER_SIDE!r})),
    "installed": sorted(n for n in ("tensorflow", "fastapi") if importlib.util.find_spec(n)),
}}))
"""


def pip(*args: str | Path) -> None:
    """The project environment's pip (which can install into another interpreter)."""
    command = [sys.executable, "-m", "pip", "--quiet", *(str(arg) for arg in args)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def build_wheel(folder: Path) -> Path:
    """The project's wheel, built from a copy of the working tree's sources.

    A copy, so that setuptools' ``build/`` of an earlier run cannot slip a removed module in.
    """
    source = folder / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    for package in sorted(p.parent for p in REPO_ROOT.glob("*/__init__.py")):
        if package.name not in NOT_PACKAGED:
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(package, source / package.name, ignore=ignore)
    # No build isolation: the project environment's setuptools builds it, offline.
    pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", folder / "dist", source)
    (wheel,) = (folder / "dist").glob("featviz-*.whl")
    return wheel


def requirements(wheel: Path) -> list[str]:
    """The wheel's ``Requires-Dist`` lines."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    return [line for line in lines if line.startswith("Requires-Dist:")]


def wheelhouse(wheel: Path) -> Path:
    """The wheels of the SDK's dependencies at the locked versions, downloaded once."""
    key = hashlib.sha256("\n".join([*requirements(wheel), LOCK.read_text()]).encode())
    folder = CACHE_DIR / f"sdk-wheelhouse-{key.hexdigest()[:16]}"
    if not folder.is_dir():
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        pip("download", "--dest", partial, "-c", LOCK, f"featviz[client] @ {wheel.as_uri()}")
        for own in partial.glob("featviz-*.whl"):  # built afresh on every run
            own.unlink()
        partial.rename(folder)  # last, so that an interrupted download is never taken for one
    return folder


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh environment holding the wheel with its ``client`` extra."""
    folder = tmp_path_factory.mktemp("sdk-package")
    wheel = build_wheel(folder)
    environment = folder / "venv"
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    pip(
        "--python", python, "install", "--no-index", "--find-links", wheelhouse(wheel),
        "--find-links", wheel.parent, "-c", LOCK, "featviz[client]",
    )  # fmt: skip
    return python


def test_the_installed_sdk_runs_a_job_with_no_server_package(
    sdk_python: Path, api_url: str, tmp_path: Path
) -> None:
    # Outside the repository and without PYTHONPATH, so only what the wheel installed imports.
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [str(sdk_python), "-c", RUN_A_JOB, api_url, API_KEY, json.dumps(QUICK_JOB)]
    completed = subprocess.run(
        command, capture_output=True, text=True, cwd=tmp_path, env=environment, timeout=180
    )
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout)
    assert report["status"] == "succeeded", report
    assert Path(report["sdk"]).is_relative_to(sdk_python.parent.parent)
    assert report["imported"] == []
    assert report["installed"] == []  # the client extra brings no server package
    # The `featviz` command the wheel installs works with the client extra alone.
    status = subprocess.run(
        [str(sdk_python.parent / "featviz"), "status", report["id"], "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment | {"FEATVIZ_API_URL": api_url, "FEATVIZ_API_KEY": API_KEY},
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "succeeded"
