"""The archive checks on crafted zip files: each refused for what it is, naming the limit's setting
when a limit refuses it, before anything is read whole into memory."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from featviz.limits import LimitExceededError, RefusedError
from featviz.safe_archive import HEAD_BYTES, ArchiveLimits, inspect_zip
from featviz.settings import Settings
from featviz_engine.model_validation import HDF5_SIGNATURE, model_file_limits
from tests.helpers.hostile_files import HOSTILE, with_entries
from tests.helpers.model_files import small_cnn
from tests.helpers.service_stack import MODEL_UPLOAD_CAP_BYTES


@pytest.fixture(scope="module")
def cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_cnn(tmp_path_factory.mktemp("archive") / "cnn.keras")


def default_limits(**settings: int) -> ArchiveLimits:
    """The archive limits of featviz/settings.py, with ``settings`` changed."""
    return model_file_limits(Settings(signing_secret="a-test-secret", **settings)).archive


@pytest.mark.parametrize("case", [case for case, file in HOSTILE.items() if file.by_archive_checks])
def test_crafted_archives_are_refused_with_the_reason(case: str, cnn: Path, tmp_path: Path) -> None:
    path = HOSTILE[case].build(cnn, tmp_path / "crafted.keras")
    assert path.stat().st_size < MODEL_UPLOAD_CAP_BYTES, "small enough to upload"
    with pytest.raises(RefusedError) as refused:
        inspect_zip(path, default_limits())
    assert HOSTILE[case].reason in str(refused.value)


def test_a_limit_refuses_with_its_setting_and_no_sooner(cnn: Path, tmp_path: Path) -> None:
    limits = default_limits(model_max_entries=3)
    inspect_zip(cnn, limits)
    more = with_entries(cnn, tmp_path / "four.keras", {"assets/one": b""})
    with pytest.raises(LimitExceededError) as refused:
        inspect_zip(more, limits)
    assert refused.value.limit == limits.max_entries
    assert str(refused.value) == "entry count 4 exceeds FEATVIZ_MODEL_MAX_ENTRIES (3)"


def test_a_real_model_passes_with_its_entries(cnn: Path) -> None:
    entries = {entry.name: entry for entry in inspect_zip(cnn, default_limits())}
    assert set(entries) == {"metadata.json", "config.json", "model.weights.h5"}
    with zipfile.ZipFile(cnn) as archive:
        for name, entry in entries.items():
            assert entry.size == archive.getinfo(name).file_size
            assert entry.head == archive.read(name)[:HEAD_BYTES]
    assert entries["model.weights.h5"].head.startswith(HDF5_SIGNATURE)


def test_uncompressed_limit_must_take_a_file_at_the_upload_cap() -> None:
    with pytest.raises(ValueError, match="at least max_model_upload_bytes"):
        default_limits(max_model_upload_bytes=2048, model_max_uncompressed_bytes=1024)
