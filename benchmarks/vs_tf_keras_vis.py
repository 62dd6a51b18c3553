"""featviz against tf-keras-vis 0.8.7: the same network, filters, steps and image size.

    .venv/bin/python benchmarks/vs_tf_keras_vis.py [--layer block4_conv3] [--filters 4]
        [--steps 200] [--image-size 128]

Issue 15's setting: the trained VGG16 (``hed-bsds500``), 4 filters of block4_conv3 (half of
them dead at the seed's start image, as ``quality.py --trained`` picks them), 200 steps at
128 px. featviz runs its seed preset and its recommended preset, each with the filters in one
batch (the recommended preset also in bfloat16, which a user may choose where the CPU has AMX or
on a GPU: issue 15 keeps it off by default; left out on a CPU that would emulate it), and
tf-keras-vis its defaults in its own process and environment (``quality.py`` builds both); they
run one after another, tf-keras-vis between the featviz runs. Printed: wall
seconds of each (featviz traced beforehand, and with that 2-iteration tracing run added;
tf-keras-vis runs eagerly and has no tracing) and the CPU time of each process (all threads) over
the same call, which a machine shared with other work inflates far less than the wall time;
tf-keras-vis's time over featviz's; and what each reached: the displayed activation of its PNGs,
as ``quality.py`` measures it. The target: featviz at least 3x faster at equal steps, by both
clocks.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from machine import machine_line
from quality import (
    RECOMMENDED,
    SEED_PRESET,
    TF_KERAS_VIS,
    TRAINED_BASE,
    TRAINED_METHODS,
    TrainedRun,
    markdown_table,
    tf_keras_vis_run,
    trained_filters,
    trained_run,
    verdict,
)

from featviz_engine.models import EMULATED_BFLOAT16, emulates_bfloat16

TARGET_SPEEDUP = 3.0
RECOMMENDED_BFLOAT16 = f"{RECOMMENDED}, bfloat16"
HEADER = [
    "method",
    "wall s",
    "wall s incl. tracing",
    "tf-keras-vis / it, wall incl. tracing",
    "CPU s",
    "tf-keras-vis / it, CPU",
    "displayed activation",
    "alive at end",
]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def rows(runs: dict[str, TrainedRun]) -> list[list[str]]:
    peer = runs[TF_KERAS_VIS]
    table = []
    for name, result in runs.items():
        with_tracing = result.wall_s + result.warmup_s
        table.append(
            [
                name,
                f"{result.wall_s:.1f}",
                f"{with_tracing:.1f}",
                f"{peer.wall_s / with_tracing:.2f}x",
                f"{result.cpu_s:.1f}",
                f"{peer.cpu_s / result.cpu_s:.2f}x",
                f"{result.displayed.mean():.3g}",
                f"{int(result.alive().sum())} of {len(result.alive())}",
            ]
        )
    return table


def verdicts(runs: dict[str, TrainedRun]) -> list[str]:
    peer = runs[TF_KERAS_VIS]
    lines = []
    for name, result in runs.items():
        if name == TF_KERAS_VIS:
            continue
        wall = peer.wall_s / (result.wall_s + result.warmup_s)
        cpu = peer.cpu_s / result.cpu_s
        lines.append(
            verdict(
                f"{name} >= {TARGET_SPEEDUP:g}x faster than tf-keras-vis",
                min(wall, cpu) >= TARGET_SPEEDUP,
                f"wall time, tracing included: {wall:.2f}x; CPU time: {cpu:.2f}x; displayed "
                f"activation {result.displayed.mean():.3g} against tf-keras-vis's "
                f"{peer.displayed.mean():.3g}",
            )
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layer", default="block4_conv3")
    parser.add_argument("--filters", type=int, default=4, help="how many filters")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    filters = trained_filters(args.layer, args.filters)
    spec = replace(
        TRAINED_BASE,
        layer=args.layer,
        filters=filters,
        iterations=args.steps,
        image_size=args.image_size,
    )
    before = load()
    runs = {SEED_PRESET: trained_run(replace(spec, **TRAINED_METHODS[SEED_PRESET]))}
    runs[TF_KERAS_VIS] = tf_keras_vis_run(args.layer, filters, args.image_size, args.steps)
    runs[RECOMMENDED] = trained_run(replace(spec, **TRAINED_METHODS[RECOMMENDED]))
    if not emulates_bfloat16():
        runs[RECOMMENDED_BFLOAT16] = trained_run(
            replace(spec, **TRAINED_METHODS[RECOMMENDED], precision="bfloat16")
        )
    print(
        f"Trained VGG16 (hed-bsds500), {args.layer}, filters {', '.join(map(str, filters))} "
        f"in one batch, {args.steps} steps at {args.image_size} px; run in this order, "
        f"{before} before and {load()} after; {machine_line()}.\n"
    )
    print(markdown_table(HEADER, rows(runs)) + "\n")
    print("\n".join(verdicts(runs)))
    if RECOMMENDED_BFLOAT16 not in runs:
        print(f"\n{RECOMMENDED_BFLOAT16}: left out. {EMULATED_BFLOAT16}.")


if __name__ == "__main__":
    main()
