"""Total-variation denoising of a batch of 224x224x3 images in the seed's mode: the engine's two
implementations (the compiled kernel op and the XLA-compiled graph version) against
scikit-image on the same images one by one, and against the round trip the seed pays (tensor to
numpy, scikit-image, back to a tensor).

    .venv/bin/python benchmarks/tv_speed.py [--batch 16] [--repeats 5]

Every figure is checked to give scikit-image's result (1e-4) before it is timed, and the four are
timed interleaved (kernel, graph, scikit-image, round trip, kernel, ...) so that a busy machine
slows them alike; each is the median of the repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from engine_vs_seed import TV_WEIGHT, seed_extractor
from machine import machine_line
from skimage.restoration import denoise_tv_chambolle as skimage_tv

from featviz_engine.ascent import start_images
from featviz_engine.seed_reference import SeedLoop
from featviz_engine.tv import Implementation, denoise_tv_chambolle

TARGET = 0.2
"""Issue 15: the engine's TV on a batch of 16 at most 0.2x scikit-image's time for them."""
SIZE = 224


@dataclass(frozen=True)
class TVFigures:
    """Milliseconds for the whole batch, medians over interleaved runs."""

    batch: int
    kernel_ms: float
    graph_ms: float
    skimage_ms: float
    seed_round_trip_ms: float


def batch_images(batch: int) -> np.ndarray:
    """The seed's start images with different noise: the seed's TV gets such images early on."""
    return np.concatenate([start_images(seed, SIZE, 1) for seed in range(batch)])


def measure_tv(batch: int, repeats: int) -> TVFigures:
    images = batch_images(batch)
    tensor = tf.convert_to_tensor(images)
    weights = tf.fill([batch], tf.constant(TV_WEIGHT, tf.float32))

    def traced(implementation: Implementation) -> Callable[[], None]:
        function = tf.function(
            lambda x: denoise_tv_chambolle(x, weights, "seed", implementation=implementation),
            jit_compile=implementation == "graph",
        )
        result = function(tensor).numpy()  # traced outside the timing
        for index in range(batch):  # the figures compare the same work
            expected = skimage_tv(images[index : index + 1], weight=TV_WEIGHT)[0]
            np.testing.assert_allclose(result[index], expected, atol=1e-4)
        # .numpy() waits for the result: TensorFlow may run ahead asynchronously.
        return lambda: function(tensor).numpy()

    def skimage_batch() -> None:
        for index in range(batch):
            skimage_tv(images[index : index + 1], weight=TV_WEIGHT)

    seed = SeedLoop(seed_extractor())

    def round_trips() -> None:
        for index in range(batch):
            seed.denoise(tensor[index : index + 1], TV_WEIGHT)

    runs = [traced("kernel"), traced("graph"), skimage_batch, round_trips]
    timings: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, samples in zip(runs, timings, strict=True):
            started = time.perf_counter()
            run()
            samples.append(1000 * (time.perf_counter() - started))
    kernel, graph, skimage, round_trip = (statistics.median(samples) for samples in timings)
    return TVFigures(batch, kernel, graph, skimage, round_trip)


def table(figures: TVFigures) -> str:
    n, skimage_ms = figures.batch, figures.skimage_ms
    ratio = figures.kernel_ms / skimage_ms
    verdict = "PASS" if ratio <= TARGET else "MISS"
    rows = [
        f"| what, {n} images of {SIZE}x{SIZE}x3, TV weight {TV_WEIGHT} (seed mode) | ms | "
        "ratio to scikit-image |",
        "| --- | ---: | ---: |",
        f"| scikit-image, one image at a time | {skimage_ms:.1f} | 1.00 |",
        f"| the seed's round trip (tensor, numpy, scikit-image, tensor) | "
        f"{figures.seed_round_trip_ms:.1f} | {figures.seed_round_trip_ms / skimage_ms:.2f} |",
        f"| engine: graph version, XLA, one call | {figures.graph_ms:.1f} | "
        f"{figures.graph_ms / skimage_ms:.2f} |",
        f"| **engine: kernel op, one call** | **{figures.kernel_ms:.1f}** | **{ratio:.2f}** |",
        "",
        f"Target: kernel <= {TARGET}x scikit-image: **{verdict}** ({ratio:.3f}x).",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs (median)")
    args = parser.parse_args()
    figures = measure_tv(args.batch, args.repeats)
    print(f"{machine_line()}; median of {args.repeats} interleaved runs.\n")
    print(table(figures))


if __name__ == "__main__":
    main()
