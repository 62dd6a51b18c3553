"""From optimised arrays to pictures: the seed's deprocessing, PNG, contact sheets, GIFs."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SEED_IMAGE_SIZE = 224
SEED_CROP = 25
TARGET_STD = 0.15


def crop_for(image_size: int) -> int:
    """The seed crops 25 px of 224 on each side; other sizes crop in proportion."""
    return round(SEED_CROP * image_size / SEED_IMAGE_SIZE)


def deprocess(image: np.ndarray) -> np.ndarray:
    """The seed's ``deprocess_image``: centre, scale to std 0.15, crop, shift by 0.5, clip.

    Parameters
    ----------
    image
        ``(H, W, 3)`` float array in the optimiser's space.

    Returns
    -------
    np.ndarray
        ``(H - 2c, W - 2c, 3)`` float32 in [0, 1], ``c = crop_for(H)``.
    """
    img = image.astype(np.float32, copy=True)
    img -= img.mean()
    img /= img.std() + 1e-5
    img *= TARGET_STD
    crop = crop_for(img.shape[0])
    if crop:
        img = img[crop:-crop, crop:-crop, :]
    img += 0.5
    clipped: np.ndarray = np.clip(img, 0, 1)
    return clipped


def to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] float to 8-bit RGB (the seed's commented-out conversion)."""
    rgb: np.ndarray = np.clip(image * 255, 0, 255).astype(np.uint8)
    return rgb


def encode_png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()


LABEL_HEIGHT = 18
SHEET_GAP = 4
SHEET_BACKGROUND = (255, 255, 255)
LABEL_COLOUR = (20, 20, 20)
MARK_COLOUR = (220, 20, 20)
"""Border of a marked tile: a filter that never came alive (nothing to see in it)."""
MARK_WIDTH = 2


def contact_sheet(
    tiles: Sequence[np.ndarray],
    labels: Sequence[str],
    columns: int = 5,
    row_labels: Sequence[str] | None = None,
    marked: Sequence[bool] | None = None,
) -> np.ndarray:
    """Tiles in a labelled grid, as the seed's 2x5 figure of snapshots.

    Parameters
    ----------
    tiles
        ``(h, w, 3)`` uint8 images of one size, in reading order.
    labels
        One caption per tile, drawn above it.
    columns
        Tiles per row.
    row_labels
        Optional caption per row, drawn in a left margin.
    marked
        Optional flag per tile; a marked tile gets a red border (a filter that never came
        alive, ``FilterResult.never_alive``).
    """
    if not tiles:
        raise ValueError("a contact sheet needs at least one tile")
    if len(labels) != len(tiles):
        raise ValueError("one label per tile")
    if marked is not None and len(marked) != len(tiles):
        raise ValueError("one mark per tile")
    tile_h, tile_w = tiles[0].shape[:2]
    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    font = ImageFont.load_default(size=12)
    margin = 0
    if row_labels:
        margin = max(int(font.getlength(text)) for text in row_labels) + 2 * SHEET_GAP
    cell_w, cell_h = tile_w + SHEET_GAP, tile_h + LABEL_HEIGHT + SHEET_GAP
    sheet = Image.new(
        "RGB",
        (margin + columns * cell_w + SHEET_GAP, rows * cell_h + SHEET_GAP),
        SHEET_BACKGROUND,
    )
    draw = ImageDraw.Draw(sheet)
    for index, (tile, label) in enumerate(zip(tiles, labels, strict=True)):
        row, column = divmod(index, columns)
        x = margin + SHEET_GAP + column * cell_w
        y = SHEET_GAP + row * cell_h
        draw.text((x, y + 2), label, fill=LABEL_COLOUR, font=font)
        sheet.paste(Image.fromarray(tile, mode="RGB"), (x, y + LABEL_HEIGHT))
        if marked is not None and marked[index]:
            box = (x, y + LABEL_HEIGHT, x + tile_w - 1, y + LABEL_HEIGHT + tile_h - 1)
            draw.rectangle(box, outline=MARK_COLOUR, width=MARK_WIDTH)
    for row, text in enumerate(row_labels or ()):
        y = SHEET_GAP + row * cell_h + LABEL_HEIGHT + tile_h // 2 - 6
        draw.text((SHEET_GAP, y), text, fill=LABEL_COLOUR, font=font)
    return np.asarray(sheet)


def encode_gif(frames: Sequence[np.ndarray], frame_ms: int = 400) -> bytes:
    """An animated, looping GIF of the frames; the last one is held three times as long."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    images = [Image.fromarray(frame, mode="RGB") for frame in frames]
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 3]
    buffer = io.BytesIO()
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=durations,
        loop=0,
    )
    return buffer.getvalue()
