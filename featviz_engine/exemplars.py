"""Dataset exemplars: the images that excite each filter most, and where.

An image's score for a filter is the channel's peak activation (its spatial maximum) and its
position the peak's place in the map (the first in row-major order among equal maxima). Each
image goes through the network once, a batch at a time; ``TopK`` keeps, per filter, the ``k``
best images seen so far, ordered by score and then by image index (so ties are broken by id and
the result does not depend on the order the images came in): its memory is ``k`` per filter
whatever the dataset's size, and merging the top-k of shards gives the top-k of the whole.

The crop shown for a peak is the unit's receptive field, measured empirically (``receptive_
field``): the gradient of the layer's units at the map's centre with respect to the input
image, on random images, is non-zero exactly over the pixels that unit sees (with several
random images, so that ReLUs switched off on one do not hide part of it). This holds for any
architecture (branches, dilations, padding) where an analytic walk over conv and pool layers
would need each layer kind's rules. The stride is the input's size over the map's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from featviz_engine.images import contact_sheet, encode_png
from featviz_engine.models import Network, extractor_for

RF_PROBES = 4
"""Random images whose gradient footprints are united."""
TILE = 96
"""Side of each tile of an exemplar strip, pixels."""
PEAK_COLOUR = (255, 0, 0)


@dataclass(frozen=True)
class ReceptiveField:
    """What one unit of a layer's map sees of a square input image."""

    size: int
    """Side of the square of pixels a unit sees, pixels (at most the image's)."""
    stride: float
    """Input pixels per map cell."""
    offset: float
    """Centre, in input pixels, of the field of the map's cell 0."""

    def box(self, row: int, column: int, image_size: int) -> tuple[int, int, int, int]:
        """``(top, left, bottom, right)`` of the field of a map cell, inside the image."""
        half = self.size / 2
        centre_y, centre_x = self.offset + row * self.stride, self.offset + column * self.stride
        top = int(np.clip(round(centre_y - half), 0, image_size - 1))
        left = int(np.clip(round(centre_x - half), 0, image_size - 1))
        bottom = int(np.clip(round(centre_y + half), top + 1, image_size))
        right = int(np.clip(round(centre_x + half), left + 1, image_size))
        return top, left, bottom, right


def receptive_field(network: Network, layer: str, image_size: int, seed: int = 0) -> ReceptiveField:
    """The receptive field of the layer's units on ``image_size`` images (see the module)."""
    extractor = extractor_for(network, (layer,))
    rng = np.random.default_rng(seed)
    probes = tf.constant(rng.uniform(-1, 1, (RF_PROBES, image_size, image_size, 3)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(probes)
        maps = extractor(network.to_model_input(probes))
        height, width = int(maps.shape[1]), int(maps.shape[2])
        centre = maps[:, height // 2, width // 2, :]
        total = tf.reduce_sum(tf.abs(centre))
    footprint = np.abs(tape.gradient(total, probes).numpy()).sum(axis=(0, 3)) > 0
    rows, columns = np.nonzero(footprint)
    if rows.size == 0:  # a layer with no gradient at all: show the whole image
        return ReceptiveField(image_size, image_size / max(height, 1), image_size / 2)
    size = int(max(rows.max() - rows.min(), columns.max() - columns.min()) + 1)
    stride = image_size / height
    centre_y = (rows.min() + rows.max() + 1) / 2
    return ReceptiveField(size, stride, float(centre_y - (height // 2) * stride))


class PeakFinder:
    """Each filter's peak activation and its map position, for batches of images."""

    def __init__(self, network: Network, layer: str, filters: Sequence[int]) -> None:
        self.filters = list(filters)
        extractor = extractor_for(network, (layer,))
        chosen = tf.constant(self.filters, tf.int32)

        @tf.function(reduce_retracing=True)  # type: ignore[untyped-decorator]
        def peaks(pixels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            images = tf.cast(pixels, tf.float32) / 127.5 - 1.0
            maps = tf.gather(extractor(network.to_model_input(images)), chosen, axis=-1)
            shape = tf.shape(maps)
            flat = tf.reshape(maps, (shape[0], -1, shape[3]))
            best = tf.argmax(flat, axis=1, output_type=tf.int32)
            return tf.reduce_max(flat, axis=1), best, shape[2]

        self._peaks = peaks

    def __call__(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Scores ``(B, F)``, peak rows and columns ``(B, F)`` of uint8 images ``(B, S, S, 3)``."""
        scores, flat, width = self._peaks(tf.constant(pixels))
        rows, columns = np.divmod(flat.numpy(), int(width))
        return scores.numpy().astype(np.float64), rows, columns


@dataclass(frozen=True)
class Exemplar:
    """One image among a filter's best."""

    index: int
    """Its place in the dataset's manifest (sorted by image id)."""
    score: float
    row: int
    column: int


class TopK:
    """Per filter, the ``k`` best images seen so far: highest score first, then lowest index."""

    def __init__(self, filters: int, k: int) -> None:
        self.k = k
        self.scores = np.full((filters, 0), -np.inf)
        self.indices = np.zeros((filters, 0), np.int64)
        self.rows = np.zeros((filters, 0), np.int64)
        self.columns = np.zeros((filters, 0), np.int64)

    def add(
        self, indices: np.ndarray, scores: np.ndarray, rows: np.ndarray, columns: np.ndarray
    ) -> None:
        """Take in a batch: image ``indices`` ``(B,)``, and ``(B, F)`` scores and positions."""
        per_filter = np.broadcast_to(indices[None, :], (len(self.scores), len(indices)))
        self._take(per_filter, scores.T, rows.T, columns.T)

    def merge(self, other: TopK) -> None:
        """Take in another ``TopK`` over other images (a shard's)."""
        self._take(other.indices, other.scores, other.rows, other.columns)

    def _take(
        self, indices: np.ndarray, scores: np.ndarray, rows: np.ndarray, columns: np.ndarray
    ) -> None:
        """Keep the best ``k`` of what is kept and ``(F, n)`` candidates per filter."""
        merged = [
            np.concatenate([mine, theirs], axis=1)
            for mine, theirs in (
                (self.scores, scores),
                (self.indices, indices),
                (self.rows, rows),
                (self.columns, columns),
            )
        ]
        # lexsort sorts by its last key first: score descending, then index ascending.
        order = np.lexsort((merged[1], -merged[0]), axis=1)[:, : self.k]
        self.scores, self.indices, self.rows, self.columns = (
            np.take_along_axis(values, order, axis=1) for values in merged
        )

    def best(self, position: int) -> list[Exemplar]:
        """The best images of the filter at ``position`` of the job's filters, best first."""
        return [
            Exemplar(int(index), float(score), int(row), int(column))
            for index, score, row, column in zip(
                self.indices[position],
                self.scores[position],
                self.rows[position],
                self.columns[position],
                strict=True,
            )
        ]


def crop_strip(
    images: Sequence[np.ndarray], boxes: Sequence[tuple[int, int, int, int]], labels: Sequence[str]
) -> bytes:
    """A filter's exemplar crops side by side, each scaled to a ``TILE`` square (PNG)."""
    tiles = []
    for image, (top, left, bottom, right) in zip(images, boxes, strict=True):
        crop = Image.fromarray(image[top:bottom, left:right])
        tiles.append(np.asarray(crop.resize((TILE, TILE), Image.Resampling.NEAREST)))
    return encode_png(contact_sheet(tiles, labels, columns=len(tiles)))


def marked_strip(
    images: Sequence[np.ndarray], boxes: Sequence[tuple[int, int, int, int]], labels: Sequence[str]
) -> bytes:
    """A filter's exemplar images whole, the receptive field around each peak outlined (PNG);
    small images are enlarged by a whole factor to at least ``TILE``, so that the outline stays
    on pixel edges."""
    tiles = []
    for image, (top, left, bottom, right) in zip(images, boxes, strict=True):
        scale = max(1, -(-TILE // len(image)))
        picture = Image.fromarray(image).resize(
            (image.shape[1] * scale, len(image) * scale), Image.Resampling.NEAREST
        )
        ImageDraw.Draw(picture).rectangle(
            (left * scale, top * scale, right * scale - 1, bottom * scale - 1),
            outline=PEAK_COLOUR,
            width=max(1, picture.height // 64),
        )
        tiles.append(np.asarray(picture))
    return encode_png(contact_sheet(tiles, labels, columns=len(tiles)))
