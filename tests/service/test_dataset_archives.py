"""The checks a dataset's archive and images pass before a worker uses them: each hostile
archive is refused with its reason (naming the limit's setting where it breaks one), and the
check runs in a child process whose memory is limited (an image too large for it costs that
process, not the worker)."""

from __future__ import annotations

import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from featviz import datasets
from featviz.datasets import Manifest
from featviz.limits import LimitExceededError, RefusedError
from featviz.settings import Settings
from featviz_client import zipping
from featviz_engine.dataset_images import decode
from tests.helpers.dataset_files import encoded, gratings, hostile_zips, image_zip, write_zip
from worker.dataset_check import (
    DatasetFileLimits,
    check_dataset_file,
    dataset_file_limits,
    validate_dataset_file,
)

SETTINGS = Settings(
    signing_secret="a-test-secret",
    max_dataset_upload_bytes=1024**2,
    dataset_max_images=16,
    dataset_max_image_pixels=128 * 128,
    dataset_max_uncompressed_bytes=50_000_000,
)
LIMITS = dataset_file_limits(SETTINGS)


def check(path: Path, limits: DatasetFileLimits = LIMITS) -> Manifest:
    """The sandboxed step, run in this process."""
    found = check_dataset_file(str(path), limits.archive.model_dump(), limits.rules.model_dump())
    return Manifest.model_validate(found)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    return hostile_zips(
        tmp_path_factory.mktemp("hostile"),
        SETTINGS.dataset_max_images,
        SETTINGS.dataset_max_image_pixels,
    )


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
    with pytest.raises(RefusedError) as refused:
        check(path)
    assert reason in str(refused.value)


def test_limits_broken_are_named_with_their_setting(hostile: dict[str, tuple[Path, str]]) -> None:
    with pytest.raises(LimitExceededError) as refused:
        check(hostile["pixel bomb"][0])
    assert refused.value.limit == LIMITS.rules.max_pixels
    assert str(refused.value).startswith("'huge.png': pixels")
    with pytest.raises(LimitExceededError) as refused:
        check(hostile["zip bomb"][0])
    assert refused.value.limit == LIMITS.archive.max_compression_ratio


def png_header(width: int, height: int) -> bytes:
    """A PNG that is only its signature and header: the size it claims, no pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_an_image_past_pillows_own_bomb_check_is_refused_naming_the_setting() -> None:
    cap = LIMITS.rules.max_pixels
    with pytest.raises(LimitExceededError) as refused:
        decode(png_header(20_000, 20_000), cap)
    assert refused.value.limit == cap
    assert str(refused.value).startswith(
        "pixels exceeds FEATVIZ_DATASET_MAX_IMAGE_PIXELS (16384): refused from its header by Pillow"
    )


def test_the_pixel_cap_stays_below_pillows_own_check() -> None:
    bound = next(
        meta.le
        for meta in Settings.model_fields["dataset_max_image_pixels"].metadata
        if hasattr(meta, "le")
    )
    assert bound < Image.MAX_IMAGE_PIXELS


def test_an_archive_unpacking_past_the_cap_is_refused(tmp_path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), np.uint8)
    members = {f"{n}.png": encoded(pixels) for n, pixels in enumerate(noise)}
    path = write_zip(tmp_path / "large.zip", members)
    total = sum(len(payload) for payload in members.values())
    cap = {"dataset_max_uncompressed_bytes": 20 * 1024}
    tight = dataset_file_limits(SETTINGS.model_copy(update=cap))
    with pytest.raises(LimitExceededError) as refused:
        check(path, tight)
    assert str(refused.value) == (
        f"uncompressed size {tight.archive.max_uncompressed_bytes.amount(total)} exceeds "
        "FEATVIZ_DATASET_MAX_UNCOMPRESSED_BYTES (20.0 KiB)"
    )


def test_a_good_archive_gives_every_image_sorted_by_id(tmp_path: Path) -> None:
    images = gratings(per_angle=2, size=24)
    path = image_zip(tmp_path / "good.zip", images)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("__MACOSX/._grating_000_0.png", b"resource fork")
        archive.writestr("sub/", b"")
    manifest = check(path)
    assert [image.id for image in manifest.images] == sorted(images)
    assert {(image.width, image.height) for image in manifest.images} == {(24, 24)}


def test_decoding_past_the_memory_limit_ends_the_child_not_the_worker(tmp_path: Path) -> None:
    # 6000 x 6000 RGB takes 144 MB in Pillow (4 bytes a pixel), twice that once converted: more
    # than the child's 256 MiB of private memory (RLIMIT_DATA).
    path = write_zip(
        tmp_path / "wide.zip", {"wide.png": encoded(np.zeros((6000, 6000, 3), np.uint8))}
    )
    roomy = dataset_file_limits(SETTINGS.model_copy(update={"dataset_max_image_pixels": 6000**2}))
    memory = roomy.child.memory.model_copy(update={"value": 256 * 1024**2})
    tight = roomy.model_copy(update={"child": roomy.child.model_copy(update={"memory": memory})})
    with pytest.raises(LimitExceededError) as refused:
        validate_dataset_file(path, tight)
    assert str(refused.value).startswith(
        "the memory it needs exceeds FEATVIZ_UPLOAD_MEMORY_BYTES (256.0 MiB)"
    )
    manifest = validate_dataset_file(path, roomy)
    assert [(image.width, image.height) for image in manifest.images] == [(6000, 6000)]


def test_the_sdk_zips_the_suffixes_the_service_takes() -> None:
    assert zipping.IMAGE_SUFFIXES == datasets.IMAGE_SUFFIXES
