"""Where the tests find the repository and its caches."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / ".cache"
"""Downloads the tests make once (s3rver, generators), ignored by git."""
