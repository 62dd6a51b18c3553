"""Shared test set-up. TensorFlow's C++ logging is quietened before anything imports it."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
