"""Deprocessing as the seed, PNGs, contact sheets and GIFs."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from featviz_engine.images import contact_sheet, crop_for, deprocess, encode_gif, encode_png


def seed_deprocess(img: np.ndarray) -> np.ndarray:
    """The seed notebook's deprocess_image, verbatim."""
    img -= img.mean()
    img /= img.std() + 1e-5
    img *= 0.15
    img = img[25:-25, 25:-25, :]
    img += 0.5
    img = np.clip(img, 0, 1)
    return img


def test_deprocess_is_the_seeds_at_224() -> None:
    image = np.random.default_rng(0).normal(0, 0.3, size=(224, 224, 3)).astype(np.float32)
    np.testing.assert_array_equal(deprocess(image), seed_deprocess(image.copy()))


def test_crop_scales_with_image_size() -> None:
    assert crop_for(224) == 25
    assert crop_for(112) == 12
    image = np.random.default_rng(1).normal(size=(64, 64, 3)).astype(np.float32)
    assert deprocess(image).shape == (64 - 2 * crop_for(64), 64 - 2 * crop_for(64), 3)


def test_png_round_trip() -> None:
    rgb = np.random.default_rng(2).integers(0, 256, size=(10, 12, 3), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(encode_png(rgb))))
    np.testing.assert_array_equal(decoded, rgb)


def test_contact_sheet_lays_tiles_in_rows_with_labels() -> None:
    tiles = [np.full((20, 20, 3), value, np.uint8) for value in range(0, 240, 40)]
    sheet = contact_sheet(tiles, [f"iter: {i}" for i in range(6)], columns=5)
    assert sheet.shape[1] > 5 * 20
    assert sheet.shape[0] > 2 * 20
    assert sheet.shape[0] < 3 * 20 + 3 * 30  # two rows, not three
    single_row = contact_sheet(tiles[:2], ["a", "b"], columns=5)
    assert single_row.shape[1] < sheet.shape[1]  # no empty columns
    labelled = contact_sheet(tiles[:2], ["a", "b"], columns=1, row_labels=["x", "y"])
    unlabelled = contact_sheet(tiles[:2], ["a", "b"], columns=1)
    assert labelled.shape[1] > unlabelled.shape[1]  # a margin for the row captions
    # labels are drawn: the label strip above the first tile is not blank
    assert (sheet[4:20, 4:60] < 128).any()


def test_gif_has_every_frame_and_loops() -> None:
    frames = [np.full((8, 8, 3), value, np.uint8) for value in (0, 120, 250)]
    gif = Image.open(io.BytesIO(encode_gif(frames)))
    assert gif.n_frames == 3
    assert gif.info.get("loop") == 0
