"""The seed's own figure on a trained network, and its claims measured.

    .venv/bin/python benchmarks/seed_figure.py [--write docs/quality.md]

The seed compares TV weights 0, 0.0005 and 0.001 on block5_conv3 and block2_conv2 and says that
"towards the initial layers, not much noise is added and thus there is not much effect of
denoising". Here the same comparison runs on HED's trained VGG16 (weights ``hed-bsds500``) with
the seed's method (normalised gradient, learning rate 2.0, TV from iteration 50), at 128 px and
200 iterations, on the first channels of each layer that are alive at the seed's start image (a
dead one returns its start unchanged, which says nothing about TV). All images of a layer, every
filter under every TV weight, are one batch. Prints the tables; ``--write`` also writes them, with
one grid per layer (rows: filters, columns: TV weights), into its own section of a Markdown file.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from machine import machine_line
from PIL import Image

from featviz_engine.images import contact_sheet
from featviz_engine.render import FilterResult, prepare, render_pack
from featviz_engine.spec import RenderSpec
from featviz_engine.trained_weights import HED_BSDS500

LAYERS = ("block5_conv3", "block2_conv2")
"""The seed's deep layer first, as in its notebook."""
TV_WEIGHTS = (0.0, 0.0005, 0.001)
FILTERS_PER_LAYER = 4
CANDIDATE_CHANNELS = 64
"""Channels 0..63 of each layer are checked at the start image; the first live ones are drawn."""
IMAGE_SIZE = 128
ITERATIONS = 200
SHEET_COLOURS = 128
"""Palette size of the grid PNGs, to keep the docs small."""
METRICS = ("activation", "displayed_activation", "high_frequency_fraction", "total_variation")


@dataclass(frozen=True)
class LayerRun:
    layer: str
    dead_share: float
    """Share of the candidate channels with zero activation at the start image."""
    results: list[FilterResult]
    wall_s: float

    @property
    def filters(self) -> list[int]:
        return list(dict.fromkeys(result.filter for result in self.results))

    def mean(self, metric: str, tv_weight: float) -> float:
        finals = [r.final for r in self.results if r.tv_weight == tv_weight]
        return float(np.mean([final.metrics[metric] for final in finals if final is not None]))


def layer_spec(layer: str, filters: tuple[int, ...]) -> RenderSpec:
    return RenderSpec(
        model="vgg16",
        weights=HED_BSDS500,
        layer=layer,
        filters=filters,
        image_size=IMAGE_SIZE,
        iterations=ITERATIONS,
        snapshots=(),
    )


def run_layer(layer: str) -> LayerRun:
    candidates = tuple(range(CANDIDATE_CHANNELS))
    spec, program = prepare(layer_spec(layer, candidates))
    start = program.parameterization.initial(spec.seed, IMAGE_SIZE, len(candidates))
    at_start = program.activation(tf.constant(start), tf.constant(candidates, tf.int32)).numpy()
    live = tuple(c for c, value in zip(candidates, at_start, strict=True) if value > 0)
    filters = live[:FILTERS_PER_LAYER]
    spec, program = prepare(layer_spec(layer, filters))
    channels = [f for _ in TV_WEIGHTS for f in filters]
    tv_weights = [w for w in TV_WEIGHTS for _ in filters]
    started = time.perf_counter()
    results = render_pack(spec, program, channels, tv_weights)
    wall_s = time.perf_counter() - started
    return LayerRun(layer, 1 - len(live) / len(candidates), results, wall_s)


def grid(run: LayerRun) -> np.ndarray:
    """The seed's comparison: one row per filter, one column per TV weight."""
    by_key = {(r.filter, r.tv_weight): r.final for r in run.results}
    tiles, labels = [], []
    for f in run.filters:
        for weight in TV_WEIGHTS:
            final = by_key[(f, weight)]
            assert final is not None
            tiles.append(final.rgb)
            labels.append(f"tv {weight:g}: {final.metrics['displayed_activation']:.0f}")
    rows = [f"channel {f}" for f in run.filters]
    return contact_sheet(tiles, labels, columns=len(TV_WEIGHTS), row_labels=rows)


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_table(runs: list[LayerRun]) -> str:
    header = ["layer", "TV weight", *METRICS, "ms per filter-iteration"]
    rows = []
    for run in runs:
        per_image_ms = 1000 * run.wall_s / (len(run.results) * ITERATIONS)
        for weight in TV_WEIGHTS:
            values = [f"{run.mean(metric, weight):.3g}" for metric in METRICS]
            rows.append([run.layer, f"{weight:g}", *values, f"{per_image_ms:.0f}"])
    return markdown_table(header, rows)


def claims(runs: list[LayerRun]) -> str:
    """The seed's claims, each as numbers and a verdict."""
    deep, early = runs
    strongest = TV_WEIGHTS[-1]

    def hf_kept(run: LayerRun) -> float:
        return run.mean("high_frequency_fraction", strongest) / run.mean(
            "high_frequency_fraction", 0.0
        )

    def activation_kept(run: LayerRun) -> float:
        return run.mean("displayed_activation", strongest) / run.mean("displayed_activation", 0.0)

    less_noise = early.mean("high_frequency_fraction", 0.0) < deep.mean(
        "high_frequency_fraction", 0.0
    )
    less_effect = hf_kept(early) > hf_kept(deep)
    verdict = {True: "holds", False: "does not hold"}
    lines = [
        f'- "Towards the initial layers, not much noise is added": HF fraction without TV '
        f"{early.mean('high_frequency_fraction', 0.0):.3f} on {early.layer} against "
        f"{deep.mean('high_frequency_fraction', 0.0):.3f} on {deep.layer}: "
        f"{verdict[less_noise]}.",
        f'- "... and thus there is not much effect of denoising": TV {strongest:g} keeps '
        f"{100 * hf_kept(early):.0f}% of the HF fraction on {early.layer} and "
        f"{100 * hf_kept(deep):.0f}% on {deep.layer}: {verdict[less_effect]}.",
        f"- What TV {strongest:g} costs: the displayed picture keeps "
        f"{100 * activation_kept(early):.0f}% of its activation on {early.layer} and "
        f"{100 * activation_kept(deep):.0f}% on {deep.layer}.",
    ]
    for run in runs:
        lines.append(
            f"- {run.layer}: {100 * run.dead_share:.0f}% of channels 0..{CANDIDATE_CHANNELS - 1} "
            f"are dead at the start image; drawn: channels {', '.join(map(str, run.filters))}."
        )
    return "\n".join(lines)


BEGIN_MARK = "<!-- benchmarks/seed_figure.py: generated from here -->"
END_MARK = "<!-- benchmarks/seed_figure.py: generated up to here -->"
HEADING = "## The seed's own figure on a trained network"


def write_section(path: Path, generated: str) -> None:
    """Replace this script's section of ``path``; the first time, append it at the end."""
    text = path.read_text() if path.is_file() else ""
    section = f"{BEGIN_MARK}\n{HEADING}\n\n{generated}\n{END_MARK}"
    if BEGIN_MARK in text and END_MARK in text:
        text = text.split(BEGIN_MARK)[0] + section + text.split(END_MARK)[1]
    else:
        text = f"{text.rstrip()}\n\n{section}\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="Markdown file to hold the section")
    args = parser.parse_args()
    started = time.perf_counter()
    runs = []
    for layer in LAYERS:
        runs.append(run_layer(layer))
        print(f"{layer}: {runs[-1].wall_s:.0f} s", flush=True)
    text = (
        f"HED's trained VGG16, seed method, {IMAGE_SIZE} px, {ITERATIONS} iterations, TV weights "
        f"{', '.join(f'{w:g}' for w in TV_WEIGHTS)} from iteration 50; means over the drawn "
        f"channels of the final pictures (`displayed_activation`: the PNG's own activation).\n\n"
        f"{metrics_table(runs)}\n\n{claims(runs)}\n"
    )
    footer = f"Measured in {time.perf_counter() - started:.0f} s on {machine_line()}."
    print(text + "\n" + footer)
    if args.write is not None:
        pictures = []
        for run in runs:
            path = args.write.parent / f"seed-figure-{run.layer}.png"
            sheet = Image.fromarray(grid(run)).quantize(SHEET_COLOURS, dither=Image.Dither.NONE)
            sheet.save(path, optimize=True)
            pictures.append(f"![{run.layer}: channels by TV weight]({path.name})")
        write_section(args.write, f"{text}\n" + "\n".join(pictures) + f"\n\n{footer}\n")


if __name__ == "__main__":
    main()
