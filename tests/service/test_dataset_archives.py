"""The checks a dataset's archive and images pass before a worker uses them: each hostile
archive is refused with its reason, and decoding runs in a child process whose memory is capped
(an image too large for it costs that process, not the worker)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from featviz import datasets
from featviz.settings import Settings
from featviz_client import zipping
from tests.helpers.dataset_files import encoded, gratings, hostile_zips, image_zip, write_zip
from worker.dataset_check import Limits, check
from worker.datasets import check_archive

LIMITS = Limits(max_images=16, max_unpacked_bytes=10_000_000, max_pixels=128 * 128)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return hostile_zips(tmp_path_factory.mktemp("hostile"), LIMITS.max_images, LIMITS.max_pixels)


@pytest.mark.parametrize(
    "case",
    [
        "zip bomb",
        "path traversal",
        "absolute path",
        "too many files",
        "pixel bomb",
        "not an image",
        "truncated image",
        "not a zip",
        "symbolic link",
        "empty",
    ],
)
def test_a_hostile_archive_is_refused_with_its_reason(
    hostile: dict[str, tuple[Path, str]], case: str
) -> None:
    path, reason = hostile[case]
    verdict = check(path, LIMITS)
    assert verdict.manifest is None
    assert verdict.reason is not None
    assert reason in verdict.reason, verdict.reason


def test_an_archive_unpacking_past_the_cap_is_refused(tmp_path: Path) -> None:
    members = {f"{n}.png": encoded(np.full((64, 64, 3), n, np.uint8)) for n in range(4)}
    path = write_zip(tmp_path / "large.zip", members)
    tight = LIMITS.model_copy(update={"max_unpacked_bytes": 2 * len(members["0.png"])})
    assert "unpacks to more than" in (check(path, tight).reason or "")


def test_a_good_archive_gives_every_image_sorted_by_id(tmp_path: Path) -> None:
    images = gratings(per_angle=2, size=24)
    path = image_zip(tmp_path / "good.zip", images)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("__MACOSX/._grating_000_0.png", b"resource fork")
        archive.writestr("sub/", b"")
    verdict = check(path, LIMITS)
    assert verdict.reason is None
    assert verdict.manifest is not None
    assert [image.id for image in verdict.manifest.images] == sorted(images)
    assert {(image.width, image.height) for image in verdict.manifest.images} == {(24, 24)}


def test_decoding_past_the_memory_cap_ends_the_child_not_the_worker(tmp_path: Path) -> None:
    # 6000 x 6000 RGB takes 108 MB once decoded, more than the child's address space may grow.
    path = write_zip(
        tmp_path / "wide.zip", {"wide.png": encoded(np.zeros((6000, 6000, 3), np.uint8))}
    )
    base = {"dev_mode": True, "max_dataset_image_pixels": 10**8}
    tight = Settings.model_validate(base | {"dataset_check_memory_bytes": 256 * 1024**2})
    verdict = check_archive(path, tight)
    assert verdict.manifest is None
    assert "memory or time allowed" in (verdict.reason or "")
    roomy = Settings.model_validate(base | {"dataset_check_memory_bytes": 2 * 1024**3})
    allowed = check_archive(path, roomy)
    assert allowed.manifest is not None, allowed.reason


def test_the_sdk_zips_the_suffixes_the_service_takes() -> None:
    assert zipping.IMAGE_SUFFIXES == datasets.IMAGE_SUFFIXES
