"""tf-keras-vis 0.8.7 with its defaults on one layer's filters, in its own process and venv.

    .cache/tf-keras-vis/bin/python benchmarks/tf_keras_vis_run.py LAYER FILTERS SIZE STEPS OUT

``benchmarks/quality.py`` builds the environment and runs this. It is tf-keras-vis's own filter
visualisation (its tutorial's ``ExtractIntermediateLayer`` + ``ReplaceToLinear`` model modifiers,
``CategoricalScore`` on the filter, and ``ActivationMaximization``'s defaults: random seed input
over the input range, jitter and rotation, TV and norm regularisers, RMSprop) on featviz's
trained VGG16 with its input mapping folded in, so the model takes [0, 255] RGB. It writes the
pictures (uint8, one per filter), the wall time and the process's CPU time (all threads) of that
call to the ``.npz`` file OUT.

Seeded, so that a run is repeatable (unseeded, block2_conv2's mean displayed activation was 239 in
one run and 267 in another): the seed image, numpy's and TensorFlow's global generators (its
jitter draws from numpy's), and its rotation's own generator, which tf-keras-vis builds unseeded
when it makes its default modifiers; they are given as those defaults are (jitter 4, rotation
1 degree), so nothing else changes.
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
from tf_keras_vis.activation_maximization import ActivationMaximization
from tf_keras_vis.activation_maximization.input_modifiers import Jitter, Rotate2D
from tf_keras_vis.utils.model_modifiers import ExtractIntermediateLayer, ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

from featviz_engine.models import load_network
from featviz_engine.trained_weights import HED_BSDS500

SEED = 0


def rgb_model(layer: str, size: int) -> keras.Model:
    """The trained VGG16 up to ``layer``, taking [0, 255] RGB: its caffe mapping in the graph.

    Flat (one layer per VGG16 layer), because ``ExtractIntermediateLayer`` looks the layer up
    in the model it is given.
    """
    network = load_network("vgg16", HED_BSDS500)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Lambda(lambda rgb: network.to_model_input(rgb / 127.5 - 1.0))(inputs)
    for vgg_layer in network.model.layers[1:]:
        x = vgg_layer(x)
        if vgg_layer.name == layer:
            break
    return keras.Model(inputs, x)


def main() -> None:
    layer, filters_text, size_text, steps_text, out = sys.argv[1:6]
    filters = [int(f) for f in filters_text.split(",")]
    size, steps = int(size_text), int(steps_text)
    # tf-keras-vis clones the model; the Lambda holding the input mapping is this file's own.
    keras.config.enable_unsafe_deserialization()
    maximization = ActivationMaximization(
        rgb_model(layer, size),
        model_modifier=[ExtractIntermediateLayer(layer), ReplaceToLinear()],
        clone=True,
    )
    keras.utils.set_random_seed(SEED)
    rotation = Rotate2D(degree=1)
    rotation.random_generator = np.random.default_rng(SEED)
    # Its documented seed for several images: uniform noise over the input range.
    seed_input = np.random.default_rng(SEED).uniform(0, 255, (len(filters), size, size, 3))
    started, cpu_started = time.perf_counter(), time.process_time()
    pictures = maximization(
        CategoricalScore(filters),
        seed_input=seed_input.astype(np.float32),
        input_modifiers=[Jitter(jitter=4), rotation],
        steps=steps,
    )
    wall_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    rgb = np.clip(np.asarray(pictures), 0, 255).astype(np.uint8)
    np.savez(out, rgb=rgb, wall_s=wall_s, cpu_s=cpu_s)


if __name__ == "__main__":
    main()
