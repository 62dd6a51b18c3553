"""The engine against the seed notebook's loop, side by side in one process.

    .venv/bin/python benchmarks/engine_vs_seed.py [--image-size 224] [--repeats 3]
        [--batches 1,8,16] [--write docs/benchmarks.md]

Same network (ResNet50V2 up to conv5_block1_out, random weights: ImageNet weights cannot be
downloaded here and do not change the cost), same image size, TV on at every measured iteration.
Prints ms per filter-iteration with ratios to the seed (every figure timed round-robin with the
others, median of the repeats), and a sweep of 16 filters x 20 iterations that includes tracing
(the seed retraces for every new filter index).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf
from machine import machine_line
from timing import interleaved_medians, median_seconds

from featviz_engine.ascent import AscentProgram, AscentSettings, Design, optimize, start_images
from featviz_engine.models import Precision, Weights, feature_extractor, load_model
from featviz_engine.seed_reference import SeedLoop

MODEL, LAYER = "resnet50v2", "conv5_block1_out"
WEIGHTS: Weights = "random"
TV_WEIGHT, LEARNING_RATE = 0.0005, 2.0
SWEEP_FILTERS, SWEEP_ITERATIONS = 16, 20


def seed_extractor() -> keras.Model:
    model = load_model(MODEL, WEIGHTS)
    return keras.Model(inputs=model.inputs, outputs=model.get_layer(LAYER).output)


def engine_settings(batch: int, iterations: int) -> AscentSettings:
    return AscentSettings(
        channels=tuple(range(batch)),
        learning_rates=(LEARNING_RATE,) * batch,
        tv_weights=(TV_WEIGHT,) * batch,
        iterations=iterations,
        snapshots=(),
        tv_start=0,
    )


def seed_runs(size: int, iterations: int) -> dict[str, Callable[[], None]]:
    """``iterations`` of the seed's step, of its TV round trip, and of both (its loop)."""
    seed = SeedLoop(seed_extractor())
    img = tf.convert_to_tensor(start_images(0, size, 1))
    seed.run(start_images(0, size, 1), 1, 2, tv_start=0)  # trace filter 1

    def steps() -> None:
        nonlocal img
        for _ in range(iterations):
            _, img = seed.gradient_ascent_step(img, 1, LEARNING_RATE)

    def denoise() -> None:
        for _ in range(iterations):
            seed.denoise(img, TV_WEIGHT)

    def loop() -> None:
        seed.run(start_images(0, size, 1), 1, iterations, tv_start=0)

    return {"step": steps, "tv": denoise, "loop": loop}


def measure_seed(size: int, iterations: int, repeats: int) -> dict[str, float]:
    """ms per iteration of the seed's step, its TV round trip, and both."""
    return {
        name: 1000 * median_seconds(run, repeats) / iterations
        for name, run in seed_runs(size, iterations).items()
    }


def engine_run(
    size: int, batch: int, iterations: int, precision: Precision = "float32"
) -> Callable[[], None]:
    """``iterations`` of the engine on a batch, traced beforehand."""
    program = AscentProgram(Design(MODEL, WEIGHTS, LAYER, precision=precision))
    start = start_images(0, size, batch)
    optimize(program, start, engine_settings(batch, 1))  # trace this batch shape

    def loop() -> None:
        optimize(program, start, engine_settings(batch, iterations))

    return loop


def measure_engine(
    size: int, batch: int, iterations: int, repeats: int, precision: Precision = "float32"
) -> float:
    """ms per filter-iteration of the engine at one batch size and precision."""
    run = engine_run(size, batch, iterations, precision)
    return 1000 * median_seconds(run, repeats) / (iterations * batch)


def sweep_seed(
    size: int, filters: int = SWEEP_FILTERS, iterations: int = SWEEP_ITERATIONS
) -> float:
    """16 filters x 20 iterations, one after another, from a fresh step function."""
    seed = SeedLoop(seed_extractor())
    start = start_images(0, size, 1)
    started = time.perf_counter()
    for filter_index in range(filters):
        seed.run(start, filter_index, iterations, tv_start=0)
    return time.perf_counter() - started


def sweep_engine(
    size: int, filters: int = SWEEP_FILTERS, iterations: int = SWEEP_ITERATIONS
) -> float:
    """The same 16 filters x 20 iterations as one batch, from a fresh (untraced) program."""
    started = time.perf_counter()
    program = AscentProgram(Design(MODEL, WEIGHTS, LAYER))
    optimize(program, start_images(0, size, filters), engine_settings(filters, iterations))
    return time.perf_counter() - started


def table(
    size: int,
    iterations: int,
    repeats: int,
    batches: list[int],
    precisions: list[Precision],
    sweep: bool = True,
) -> str:
    feature_extractor(MODEL, WEIGHTS, LAYER)  # build the network outside every timing
    runs = {f"seed {name}": run for name, run in seed_runs(size, iterations).items()}
    work = dict.fromkeys(runs, iterations)
    for precision in precisions:
        # Reduced precision pays off on large batches: measured there only.
        for batch in batches if precision == "float32" else batches[-2:]:
            timed = max(2, iterations // max(1, batch // 4))
            name = f"engine, batch {batch}, {precision}"
            runs[name] = engine_run(size, batch, timed, precision)
            work[name] = timed * batch
    cost = {name: 1000 * s / work[name] for name, s in interleaved_medians(runs, repeats).items()}
    seed_cost = cost["seed loop"]
    rows = [
        "| what | ms per filter-iteration | ratio to the seed |",
        "| --- | ---: | ---: |",
        f"| seed: step (tf.function, Python int filter index) | {cost['seed step']:.1f} | |",
        f"| seed: scikit-image TV round trip through numpy | {cost['seed tv']:.1f} | |",
        f"| **seed: loop (step + TV)** | **{seed_cost:.1f}** | **1.00** |",
    ]
    for name in runs:
        if name.startswith("engine"):
            rows.append(f"| {name} (TV on the graph) | {cost[name]:.1f} | "
                        f"{cost[name] / seed_cost:.2f} |")  # fmt: skip
    if not sweep:
        return "\n".join(rows)
    seed_sweep, engine_sweep = sweep_seed(size), sweep_engine(size)
    rows += [
        "",
        f"| sweep: {SWEEP_FILTERS} filters x {SWEEP_ITERATIONS} iterations, tracing included | "
        "seconds | speed-up |",
        "| --- | ---: | ---: |",
        f"| seed (one filter at a time, retraced per filter index) | {seed_sweep:.1f} | 1.00 |",
        f"| engine (one batch of {SWEEP_FILTERS}, traced once) | {engine_sweep:.1f} | "
        f"{seed_sweep / engine_sweep:.2f} |",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--iterations", type=int, default=8, help="timed iterations per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--batches", default="1,8,16")
    parser.add_argument(
        "--precisions", default="float32,bfloat16", help="network precisions for the engine"
    )
    parser.add_argument(
        "--no-sweep", action="store_true", help="leave out the 16 filters x 20 iterations sweep"
    )
    parser.add_argument("--write", type=Path, help="also write the table into this markdown file")
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    header = (
        f"ResNet50V2 (random weights) up to {LAYER}, {args.image_size} px, TV weight "
        f"{TV_WEIGHT} at every iteration, median of {args.repeats} runs; {machine_line()}."
    )
    precisions = [cast(Precision, p) for p in args.precisions.split(",")]
    result = table(
        args.image_size, args.iterations, args.repeats, batches, precisions, not args.no_sweep
    )
    print(header + "\n\n" + result)
    if args.write:
        command = f".venv/bin/python benchmarks/engine_vs_seed.py --write {args.write}"
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(
            "# Benchmarks\n\n## Engine against the seed's loop\n\n"
            f"Produced by `{command}`.\n\n{header}\n\n{result}\n"
        )


if __name__ == "__main__":
    main()
