"""validate_model_file, the entry point the worker and the command line share, under a CPU-time
limit that importing TensorFlow alone breaks (test_models_upload_limits.py sends the hostile
files through a real worker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from featviz.settings import Settings
from featviz_engine.model_validation import model_file_limits, validate_model_file
from featviz_engine.uploaded_catalog import ModelRejectedError


def test_a_check_past_its_cpu_time_is_refused(cnn_file: Path) -> None:
    """One CPU second is less than importing TensorFlow takes: the kernel stops the child."""
    limits = model_file_limits(Settings(signing_secret="a-test-secret", upload_cpu_s=1))
    with pytest.raises(
        ModelRejectedError, match=r"^CPU time exceeds FEATVIZ_UPLOAD_CPU_S \(1 s\)$"
    ):
        validate_model_file(cnn_file, limits)
