"""The SDK installs and imports with httpx, pydantic and tqdm only: no TensorFlow, no server."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.paths import REPO_ROOT

SERVER_SIDE = (
    "tensorflow", "keras", "fastapi", "starlette", "uvicorn", "redis", "boto3", "botocore",
    "celery", "kombu", "pydantic_settings", "featviz", "featviz_engine", "api", "worker",
)  # fmt: skip

IMPORT_THE_SDK = f"""
import importlib, pkgutil, sys
import featviz_client
for module in pkgutil.walk_packages(featviz_client.__path__, "featviz_client."):
    importlib.import_module(module.name)
roots = {{name.split(".")[0] for name in sys.modules}}
print(sorted(roots & set({SERVER_SIDE!r})))
"""


def test_importing_the_sdk_loads_no_server_package() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_SDK],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
