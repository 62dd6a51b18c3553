"""The pictures a visualisation produces, encoded: PNGs, contact sheets, GIFs. What they are
called and where they go is the output contract's (featviz.outputs), not the engine's."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from featviz_engine.images import contact_sheet, encode_gif, encode_png
from featviz_engine.results import FilterResult

FINALS_SHEET_COLUMNS = 8


@dataclass(frozen=True)
class FilterArtifacts:
    """Every file of one optimised image."""

    frames: dict[int, bytes]
    """The PNG of each snapshot and of the final image, by iteration."""
    sheet: bytes
    gif: bytes


def progression_sheet(result: FilterResult) -> bytes:
    """The seed's figure: every frame of one filter, titled with its iteration."""
    frames = result.frames
    sheet = contact_sheet(
        [frame.rgb for frame in frames], [f"iter: {frame.iteration}" for frame in frames]
    )
    return encode_png(sheet)


def progression_gif(result: FilterResult) -> bytes:
    return encode_gif([frame.rgb for frame in result.frames])


def filter_artifacts(result: FilterResult) -> FilterArtifacts:
    """Every file of one filter: its snapshot PNGs, the final image, a contact sheet and a GIF."""
    return FilterArtifacts(
        frames={frame.iteration: encode_png(frame.rgb) for frame in result.frames},
        sheet=progression_sheet(result),
        gif=progression_gif(result),
    )


def comparison_grid(results: Sequence[FilterResult]) -> bytes:
    """The seed's comparison figure: rows are snapshots, columns are TV weights."""
    rows = [frame.iteration for frame in results[0].frames]
    tiles, labels = [], []
    for row in range(len(rows)):
        for result in results:
            tiles.append(result.frames[row].rgb)
            labels.append(f"tv {result.tv_weight:g}")
    sheet = contact_sheet(
        tiles, labels, columns=len(results), row_labels=[f"iter {n}" for n in rows]
    )
    return encode_png(sheet)


def _decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB"))


def finals_sheet(
    finals: Sequence[bytes], filters: Sequence[int], never_alive: Sequence[bool] | None = None
) -> bytes:
    """A layer job's figure: the final image (PNG) of each filter, labelled with its index; a
    filter that never came alive (``FilterResult.never_alive``, one flag per filter) gets a red
    border."""
    tiles = [_decode_png(data) for data in finals]
    labels = [f"filter {index}" for index in filters]
    sheet = contact_sheet(tiles, labels, columns=FINALS_SHEET_COLUMNS, marked=never_alive)
    return encode_png(sheet)
