"""Total-variation denoising per call on one 224x224x3 image: the engine's Chambolle on the
TensorFlow graph against scikit-image's, and the round trip the seed pays (tensor to numpy,
scikit-image, back to a tensor).

All three denoise the same image with the same weight and mode (the seed's: variation across
height, width and colour), so they run the same number of Chambolle iterations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from engine_vs_seed import TV_WEIGHT, seed_extractor
from skimage.restoration import denoise_tv_chambolle as skimage_tv
from timing import median_seconds

from featviz_engine.ascent import start_images
from featviz_engine.seed_reference import SeedLoop
from featviz_engine.tv import denoise_tv_chambolle


@dataclass(frozen=True)
class TVFigures:
    """Milliseconds per call, medians over runs."""

    on_graph_ms: float
    skimage_ms: float
    seed_round_trip_ms: float


def measure_tv(size: int, calls: int, repeats: int) -> TVFigures:
    image = start_images(0, size, 1)
    tensor = tf.convert_to_tensor(image)
    weights = tf.constant([TV_WEIGHT], tf.float32)
    on_graph = tf.function(lambda images: denoise_tv_chambolle(images, weights, mode="seed"))
    on_graph(tensor).numpy()  # trace outside the timing
    np.testing.assert_allclose(
        on_graph(tensor).numpy(), skimage_tv(image, weight=TV_WEIGHT), atol=1e-4
    )  # the figures compare the same work

    def graph_calls() -> None:
        for _ in range(calls):
            result = on_graph(tensor)
        result.numpy()  # wait for the last call: TensorFlow may run ahead asynchronously

    def skimage_calls() -> None:
        for _ in range(calls):
            skimage_tv(image, weight=TV_WEIGHT)

    seed = SeedLoop(seed_extractor())

    def round_trips() -> None:
        for _ in range(calls):
            seed.denoise(tensor, TV_WEIGHT)

    def per_call_ms(run: Callable[[], None]) -> float:
        return 1000 * median_seconds(run, repeats) / calls

    return TVFigures(per_call_ms(graph_calls), per_call_ms(skimage_calls), per_call_ms(round_trips))
