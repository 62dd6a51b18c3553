"""Dataset exemplars in the engine: the receptive field measured by gradient agrees with the
conv/pool arithmetic, the top-k does not depend on batches, shards or their order, and on two
networks whose answer is known the best images are the right ones.

- The small pattern network (featviz_engine/toy_network.py), trained to tell stripe orientations
  apart: each grating class's filter (the ``features`` channel that its logit weighs most above
  every other class's) picks gratings of that class's orientation out of gratings at four
  orientations and scikit-image's photographs.
- The trained VGG16 (``hed-bsds500``): block1_conv1's most oriented filters pick crops (its 3x3
  receptive field) of their kernel's orientation, measured as the kernels are.
"""

from __future__ import annotations

import numpy as np
import pytest

from featviz_engine import toy_network
from featviz_engine.exemplars import PeakFinder, ReceptiveField, TopK, receptive_field
from featviz_engine.metrics import spectrum_orientation
from featviz_engine.models import Network, load_network
from featviz_engine.trained_weights import HED_BSDS500
from tests.engine.test_engine_known_answer_vgg16 import (
    KERNEL_SPECTRUM_GRID,
    LUMA,
    angular_distance,
    most_oriented,  # noqa: F401  (a fixture)
)
from tests.helpers.dataset_files import GRATING_ANGLES, grating, gratings, photos
from tests.helpers.paths import CACHE_DIR

SIZE = 64


@pytest.fixture(scope="module")
def toy() -> Network:
    return toy_network.register(CACHE_DIR)


def images_of(named: dict[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Names sorted (image ids) and the images stacked in that order."""
    names = sorted(named)
    return names, np.stack([named[name] for name in names])


def ranked(finder: PeakFinder, pixels: np.ndarray, indices: range, k: int, batch: int) -> TopK:
    top = TopK(len(finder.filters), k)
    for start in range(indices.start, indices.stop, batch):
        chosen = np.arange(start, min(start + batch, indices.stop))
        top.add(chosen, *finder(pixels[chosen]))
    return top


def test_the_receptive_field_is_the_conv_and_pool_arithmetic(toy: Network) -> None:
    # conv 5x5; pool 2; conv 3x3 (stride 2 by then); pool 2; conv 3x3 (stride 4).
    expected = {"conv1": (5, 1.0), "pool1": (6, 2.0), "conv2": (10, 2.0), "features": (20, 4.0)}
    for layer, (size, stride) in expected.items():
        field = receptive_field(toy, layer, SIZE)
        assert (field.size, field.stride) == (size, stride), layer
    field = receptive_field(toy, "features", SIZE)
    top, left, bottom, right = field.box(8, 8, SIZE)
    assert bottom - top == right - left == 20
    assert (top + bottom) / 2 == pytest.approx(field.offset + 8 * 4)
    assert ReceptiveField(20, 4.0, 2.0).box(0, 0, SIZE) == (0, 0, 12, 12)  # clipped at the edge


def test_the_top_k_is_the_same_in_batches_shards_and_any_order(toy: Network) -> None:
    names, pixels = images_of(gratings(per_angle=4, size=SIZE) | photos(SIZE))
    finder = PeakFinder(toy, "features", list(range(8)))
    whole = ranked(finder, pixels, range(len(names)), k=5, batch=len(names))
    in_batches = ranked(finder, pixels, range(len(names)), k=5, batch=3)
    shards = [ranked(finder, pixels, range(a, min(a + 7, len(names))), 5, 4) for a in (14, 0, 7)]
    merged = TopK(8, 5)
    for shard in shards:
        merged.merge(shard)
    for other in (in_batches, merged):
        np.testing.assert_array_equal(other.indices, whole.indices)
        np.testing.assert_array_equal(other.rows, whole.rows)
        np.testing.assert_allclose(other.scores, whole.scores, rtol=1e-5)
    assert np.all(np.diff(whole.scores, axis=1) <= 0), "best first"


def test_ties_are_broken_by_image_id() -> None:
    top = TopK(filters=1, k=3)
    for batch in ([7, 2], [5, 0], [3]):
        indices = np.array(batch)
        top.add(
            indices,
            np.ones((len(batch), 1)),
            np.zeros((len(batch), 1), int),
            np.zeros((len(batch), 1), int),
        )
    assert [found.index for found in top.best(0)] == [0, 2, 3]


def test_each_grating_class_filter_picks_its_gratings(toy: Network) -> None:
    names, pixels = images_of(gratings(per_angle=6, size=SIZE) | photos(SIZE))
    classes = {angle: toy_network.CLASSES.index(f"grating_{angle}") for angle in GRATING_ANGLES}
    filters = [toy_network.class_filter(toy.model, index) for index in classes.values()]
    top = ranked(PeakFinder(toy, "features", filters), pixels, range(len(names)), k=6, batch=16)
    for position, angle in enumerate(classes):
        picked = [names[found.index] for found in top.best(position)]
        matching = [name.startswith(f"grating_{angle:03d}_") for name in picked]
        assert all(matching[:3]), (angle, picked)
        assert sum(matching) >= 5, (angle, picked)


def test_first_layer_oriented_filters_pick_crops_of_their_orientation(
    most_oriented: dict[int, float],  # noqa: F811
) -> None:
    network = load_network("vgg16", HED_BSDS500)
    rng = np.random.default_rng(0)
    named = {
        f"grating_{angle:05.1f}_{n}.png": grating(
            angle, SIZE, rng.uniform(4, 8), rng.uniform(0, 2 * np.pi), np.ones(3)
        )
        for angle in np.arange(0, 180, 22.5)
        for n in range(3)
    }
    names, pixels = images_of(named | photos(SIZE))
    filters = list(most_oriented)
    field = receptive_field(network, "block1_conv1", SIZE)
    assert (field.size, field.stride) == (3, 1.0)
    top = ranked(PeakFinder(network, "block1_conv1", filters), pixels, range(len(names)), 9, 32)
    medians = []
    for position, filter_index in enumerate(filters):
        distances = []
        for found in top.best(position):
            row_0, column_0, row_1, column_1 = field.box(found.row, found.column, SIZE)
            crop = pixels[found.index, row_0:row_1, column_0:column_1] / 255.0
            orientation, _ = spectrum_orientation(crop @ LUMA, KERNEL_SPECTRUM_GRID)
            distances.append(angular_distance(orientation, most_oriented[filter_index]))
        medians.append(float(np.median(distances)))
        # Crops at random orientations would be 45 degrees off on average.
        assert medians[-1] <= 25.0, (filter_index, distances)
    assert np.mean(medians) <= 20.0, medians
