"""An exemplar shard's cost per image against a bare Keras ``predict`` of the same extractor at
the same batch, in one process.

    .venv/bin/python benchmarks/exemplars.py [--image-size 224] [--batch 16] [--batches 4]

Both see the same images, already decoded (decoding is the same for either): featviz runs
``PeakFinder`` (the extractor, each channel's spatial maximum and its place, in the graph) and
``TopK.add`` per batch; the baseline is ``extractor.predict`` over the same images at the same
batch size, which hands back the whole activation maps.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from engine_vs_seed import LAYER, MODEL, WEIGHTS
from timing import median_seconds

from featviz_engine.exemplars import PeakFinder, TopK
from featviz_engine.models import extractor_for, load_network

K = 9


@dataclass(frozen=True)
class ExemplarTiming:
    featviz_ms_per_image: float
    predict_ms_per_image: float
    images: int


def measure_exemplars(image_size: int, batch: int, batches: int, repeats: int) -> ExemplarTiming:
    network = load_network(MODEL, WEIGHTS)
    extractor = extractor_for(network, (LAYER,))
    channels = int(network.model.get_layer(LAYER).output.shape[-1])
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (batch * batches, image_size, image_size, 3), dtype=np.uint8)
    unit = tf.constant(pixels.astype(np.float32) / 127.5 - 1.0)
    images = np.asarray(network.to_model_input(unit))
    finder = PeakFinder(network, LAYER, list(range(channels)))

    def featviz() -> None:
        top = TopK(channels, K)
        for start in range(0, len(pixels), batch):
            chosen = np.arange(start, start + batch)
            top.add(chosen, *finder(pixels[chosen]))

    def predict() -> None:
        extractor.predict(images, batch_size=batch, verbose=0)

    featviz()  # traces
    predict()
    per_image = 1000 / len(pixels)
    return ExemplarTiming(
        featviz_ms_per_image=median_seconds(featviz, repeats) * per_image,
        predict_ms_per_image=median_seconds(predict, repeats) * per_image,
        images=len(pixels),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    timing = measure_exemplars(args.image_size, args.batch, args.batches, args.repeats)
    ratio = timing.featviz_ms_per_image / timing.predict_ms_per_image
    print(
        f"{MODEL} {LAYER}, {args.image_size} px, batch {args.batch}, {timing.images} images: "
        f"exemplars {timing.featviz_ms_per_image:.1f} ms/image, bare predict "
        f"{timing.predict_ms_per_image:.1f} ms/image, {ratio:.2f}x"
    )


if __name__ == "__main__":
    main()
