"""Where the engine's iteration goes at one batch size, against the bare network's own cost.

    .venv/bin/python benchmarks/engine_breakdown.py [--batch 16] [--image-size 224]
        [--iterations 4] [--repeats 3] [--precision float32] [--clock cpu]
        [--model resnet50v2 --weights random --layer conv5_block1_out]

By default the network of ``engine_vs_seed.py`` (ResNet50V2, random weights, up to
conv5_block1_out); ``--model vgg16 --weights hed-bsds500 --layer block4_conv3 --batch 4
--image-size 128`` is ``vs_tf_keras_vis.py``'s.
Timed round-robin in one process, median of the repeats, ms per filter-iteration of CPU time
(all of the process's threads; on an idle 2-core machine the wall time is about half of it) or,
with ``--clock wall``, of wall time:

- the bare network: a ``tf.function`` of Keras's forward pass and the gradient of the channel
  mean with respect to the input, nothing else (the floor any engine on this network pays);
- the engine's traced step alone (``AscentProgram.step``: the same, plus the objective's
  border crop, the per-image normalised update);
- the TV kernel alone on the batch (``AscentProgram.denoise``);
- the whole ``optimize`` loop with TV at every iteration, whose excess over step + TV is what
  runs outside the traced functions (Python, per-iteration tensors, callbacks).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import cast

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf
from engine_vs_seed import LAYER, MODEL, TV_WEIGHT, engine_settings
from engine_vs_seed import WEIGHTS as DEFAULT_WEIGHTS
from machine import machine_line
from timing import interleaved_medians

from featviz_engine.ascent import AscentProgram, Design, optimize, start_images
from featviz_engine.models import MODELS, WEIGHTS, Precision, Weights, extractor_for

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def bare_network(program: AscentProgram) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Forward and input gradient of the channel mean through the program's own extractor."""
    extractor = extractor_for(program.network, (program.design.layer,))

    @tf.function
    def gradient(images: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            tape.watch(images)
            activations = tf.cast(extractor(images, training=False), tf.float32)
            chosen = tf.gather(activations, channels, axis=3, batch_dims=1)
            total = tf.reduce_sum(tf.reduce_mean(chosen, axis=[1, 2]))
        return tape.gradient(total, images)

    return gradient


def runs(design: Design, batch: int, size: int, iterations: int) -> dict[str, Callable[[], None]]:
    program = AscentProgram(design)
    start = start_images(0, size, batch)
    variables = tf.constant(start)
    channels = tf.range(batch, dtype=tf.int32)
    rates = tf.fill([batch], 2.0)
    tv_weights = tf.fill([batch], TV_WEIGHT)
    seed = tf.constant([0, 0], tf.int32)
    state = program.optimizer.initial_state(variables)
    gradient = bare_network(program)
    # A filter index per image, as the engine's objective takes it.
    per_image_channels = tf.reshape(channels, [batch, 1])

    def bare() -> None:
        for _ in range(iterations):
            gradient(variables, per_image_channels).numpy()

    def step() -> None:
        for _ in range(iterations):
            program.step(variables, channels, rates, seed, state, variables)[1].numpy()

    def tv() -> None:
        for _ in range(iterations):
            program.denoise(variables, tv_weights, "seed").numpy()

    def loop() -> None:
        optimize(program, start, engine_settings(batch, iterations))

    for run in (bare, step, tv, loop):
        run()  # trace
    return {"bare": bare, "step": step, "tv": tv, "loop": loop}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--iterations", type=int, default=4, help="timed iterations per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu")
    parser.add_argument("--model", choices=MODELS, default=MODEL)
    parser.add_argument("--weights", choices=WEIGHTS, default=DEFAULT_WEIGHTS)
    parser.add_argument("--layer", default=LAYER)
    args = parser.parse_args()
    precision = cast(Precision, args.precision)
    model, weights = args.model, cast(Weights, args.weights)
    design = Design(model, weights, args.layer, precision=precision)
    timed = runs(design, args.batch, args.image_size, args.iterations)
    work = args.iterations * args.batch
    ms = {
        name: 1000 * seconds / work
        for name, seconds in interleaved_medians(timed, args.repeats, CLOCKS[args.clock]).items()
    }
    outside = ms["loop"] - ms["step"] - ms["tv"]
    print(
        f"{model} ({weights} weights) up to {args.layer}, batch {args.batch}, "
        f"{args.image_size} px, "
        f"{precision}, {args.clock} time, median of {args.repeats} round-robin runs of "
        f"{args.iterations} iterations; {machine_line()}; load average "
        + ", ".join(f"{load:.2f}" for load in os.getloadavg())
        + ".\n"
    )
    print(f"| part | {args.clock} ms per filter-iteration | share of the loop |")
    print("| --- | ---: | ---: |")
    rows = [
        ("bare Keras forward + input gradient", ms["bare"]),
        ("engine step (traced)", ms["step"]),
        ("TV kernel on the batch", ms["tv"]),
        ("outside the traced functions (loop - step - TV)", outside),
        ("**engine loop (step + TV every iteration)**", ms["loop"]),
    ]
    for name, value in rows:
        print(f"| {name} | {value:.1f} | {value / ms['loop']:.2f} |")


if __name__ == "__main__":
    main()
