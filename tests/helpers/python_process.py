"""A Python snippet in a fresh interpreter: for what a process fixes when it starts (oneDNN's
setting, which TV implementation loads), which the test process itself cannot change."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from tests.helpers.paths import REPO_ROOT


def run_python(script: str, environment: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``script`` from the repository root with ``environment`` added to this one's;
    raises if it fails."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **environment},
        cwd=REPO_ROOT,
        check=True,
        timeout=300,
    )
