"""How good are the pictures? Each method on the same filters with the same compute budget.

    .venv/bin/python benchmarks/quality.py [--write docs/quality.md]

Two networks: ResNet50V2 with random weights (ImageNet weights cannot be downloaded here) and the
small pattern network of ``featviz_engine.toy_network`` (trained on first use, then cached in
``.cache/``). For every method: the activation reached (as a share of the seed's without TV), the
high-frequency energy fraction and total variation per pixel of the final picture, the image's
contrast (RMS in the model's [-1, 1] input space), the iterations to reach 90% of the final
activation, and the wall time (tracing excluded). Then the seed method and Fourier + transforms
per network precision on ResNet50V2. Prints the tables; ``--write`` also writes them, with
contact sheets of the final pictures, to a Markdown file.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from PIL import Image

from featviz_engine import toy_network
from featviz_engine.ascent import AscentSettings, optimize
from featviz_engine.images import contact_sheet, deprocess, to_uint8
from featviz_engine.metrics import snapshot_metrics
from featviz_engine.render import prepare
from featviz_engine.spec import RenderSpec

ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = ROOT / ".cache"
MEASURE_EVERY = 5
"""Iterations between activation measurements (the resolution of "iterations to 90%")."""
SHEET_COLOURS = 96
"""Palette size of the contact-sheet PNGs, to keep the docs small."""
SHEET_MIN_TILE = 80

ADAM: dict[str, Any] = {"optimizer": "adam"}
FOURIER: dict[str, Any] = {"parameterization": "fourier"}
TRANSFORMED: dict[str, Any] = {"transforms": "standard"}
METHODS: dict[str, dict[str, Any]] = {
    "seed, no TV": {"tv_weight": 0.0},
    "seed, TV 0.0005": {"tv_weight": 0.0005},
    "seed, TV 0.001": {"tv_weight": 0.001},
    "seed, TV 0.01": {"tv_weight": 0.01},
    "Fourier, Adam": FOURIER | ADAM,
    "Fourier + transforms, Adam": FOURIER | ADAM | TRANSFORMED,
    "Fourier, normalised gradient": FOURIER,
    "Fourier + transforms, normalised gradient": FOURIER | TRANSFORMED,
    "MaCo + transforms, Adam": {"parameterization": "magnitude_constrained"} | ADAM | TRANSFORMED,
}
BASELINE = "seed, no TV"
TARGET_METHODS = ("Fourier + transforms, Adam", "Fourier + transforms, normalised gradient")
PRECISION_METHODS = (BASELINE, TARGET_METHODS[1])
PRECISIONS = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Network:
    title: str
    description: str
    spec: RenderSpec
    slug: str


def networks() -> list[Network]:
    toy_network.register(CACHE_DIR)
    return [
        Network(
            "ResNet50V2, random weights",
            "layer conv4_block1_out, channels 5, 17, 42, 100; 128 px; 150 iterations; "
            "objective: channel mean",
            RenderSpec(
                weights="random",
                layer="conv4_block1_out",
                filters=(5, 17, 42, 100),
                image_size=128,
                iterations=150,
                snapshots=(),
            ),
            "resnet50v2",
        ),
        Network(
            "Pattern network (trained here)",
            f"classes {', '.join(toy_network.CLASSES)}; 64 px; 150 iterations; "
            "objective: class logit",
            RenderSpec(
                model=toy_network.NETWORK_NAME,
                layer=toy_network.FEATURE_LAYER,
                objective=(("class_logit", 1.0),),
                filters=tuple(range(len(toy_network.CLASSES))),
                image_size=64,
                iterations=150,
                snapshots=(),
            ),
            "patterns",
        ),
    ]


@dataclass
class Run:
    """Per filter: the final picture and metrics, and the activation every ``MEASURE_EVERY``."""

    pictures: list[np.ndarray]
    metrics: list[dict[str, float]]
    contrasts: list[float]
    curves: np.ndarray
    wall_s: float

    def mean(self, name: str) -> float:
        return float(np.mean([m[name] for m in self.metrics]))

    def activation_per_contrast(self) -> float:
        """Activation over the image's RMS: scale-free on a positively homogeneous network."""
        pairs = zip(self.metrics, self.contrasts, strict=True)
        return float(np.mean([m["activation"] / contrast for m, contrast in pairs]))

    def iterations_to_90_percent(self) -> float:
        """Median over filters of the first measured iteration at >= 90% of the final value."""
        reached = [
            MEASURE_EVERY * int(np.argmax(curve >= 0.9 * curve[-1])) for curve in self.curves.T
        ]
        return float(statistics.median(reached))


def run(spec: RenderSpec) -> Run:
    """One batch of all the spec's filters; the traced step is warmed up first."""
    spec, program = prepare(spec)
    assert spec.learning_rate is not None
    filters = len(spec.filters)

    def settings(iterations: int) -> AscentSettings:
        return AscentSettings(
            channels=spec.filters,
            learning_rates=(spec.learning_rate,) * filters,  # type: ignore[arg-type]
            tv_weights=(spec.tv_weight or 0.0,) * filters,
            iterations=iterations,
            snapshots=range(MEASURE_EVERY - 1, iterations, MEASURE_EVERY),
            tv_start=min(spec.tv_start, iterations - 1),
            seed=spec.seed,
        )

    start = program.parameterization.initial(spec.seed, spec.image_size, filters)
    optimize(program, start, settings(MEASURE_EVERY))
    curve: list[np.ndarray] = []
    finals: list[np.ndarray] = []

    def record(iteration: int, images: np.ndarray, activations: np.ndarray) -> None:
        curve.append(activations)
        finals[:] = list(images)

    started = time.perf_counter()
    optimize(program, start, settings(spec.iterations), on_snapshot=record)
    wall_s = time.perf_counter() - started
    pictures = [deprocess(image) for image in finals]
    return Run(
        [to_uint8(picture) for picture in pictures],
        [snapshot_metrics(p, a) for p, a in zip(pictures, curve[-1], strict=True)],
        [float(np.sqrt(np.mean(np.square(image)))) for image in finals],
        np.array(curve),
        wall_s,
    )


def method_rows(runs: dict[str, Run]) -> list[list[str]]:
    baseline = runs[BASELINE]
    rows = []
    for name, result in runs.items():
        shares = [
            m["activation"] / b["activation"]
            for m, b in zip(result.metrics, baseline.metrics, strict=True)
        ]
        rows.append(
            [
                name,
                f"{result.mean('activation'):.3g}",
                f"{100 * np.mean(shares):.0f}%",
                f"{result.mean('high_frequency_fraction'):.3f}",
                f"{result.mean('total_variation'):.3f}",
                f"{np.mean(result.contrasts):.2f}",
                f"{result.activation_per_contrast():.3g}",
                f"{result.iterations_to_90_percent():.0f}",
                f"{result.wall_s:.1f}",
            ]
        )
    return rows


METHOD_HEADER = [
    "method",
    "activation",
    "share of seed, no TV",
    "HF fraction",
    "TV / pixel",
    "contrast (RMS)",
    "activation / contrast",
    "iterations to 90%",
    "wall s",
]
TRANSFORM_SWEEP: dict[str, dict[str, Any]] = {
    "none": {},
    "final jitter 4 only": {
        "transform_pad": 0,
        "transform_jitter": 0,
        "transform_scale": 0.0,
        "transform_rotate": 0.0,
    },
    "pad + jitters, no scale or rotation": {"transform_scale": 0.0, "transform_rotate": 0.0},
    "scale + rotation + final jitter": {"transform_pad": 0, "transform_jitter": 0},
    "standard": {},
}
"""Which part of the standard transforms costs activation (Fourier, Adam)."""
SWEEP_HEADER = ["transforms", "activation", "share of seed, no TV", "HF fraction"]
PRECISION_HEADER = ["method", "precision", "activation", "HF fraction", "wall s"]


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def target_verdict(runs: dict[str, Run]) -> str:
    baseline = runs[BASELINE]
    lines = []
    for name in TARGET_METHODS:
        target = runs[name]
        hf_ratio = target.mean("high_frequency_fraction") / baseline.mean("high_frequency_fraction")
        share = target.mean("activation") / baseline.mean("activation")
        fair_share = target.activation_per_contrast() / baseline.activation_per_contrast()
        met = hf_ratio <= 0.5 and share >= 0.8
        lines.append(
            f"- {name}: HF fraction {hf_ratio:.2f}x the seed's without TV (target <= 0.5x), "
            f"activation {100 * share:.0f}% of it (target >= 80%): target "
            f"{'met' if met else 'NOT met'}. Per unit of contrast: {100 * fair_share:.0f}%."
        )
    return "\n".join(lines)


def save_sheet(runs: dict[str, Run], path: Path, labels: list[str]) -> None:
    tiles = [picture for result in runs.values() for picture in result.pictures]
    # Small pictures are enlarged (pixels repeated) so that their labels fit above them.
    enlarge = -(-SHEET_MIN_TILE // tiles[0].shape[0])
    tiles = [tile.repeat(enlarge, axis=0).repeat(enlarge, axis=1) for tile in tiles]
    sheet = contact_sheet(tiles, labels * len(runs), len(labels), row_labels=list(runs))
    image = Image.fromarray(sheet).quantize(SHEET_COLOURS, dither=Image.Dither.NONE)
    image.save(path, optimize=True)


def filter_labels(network: Network) -> list[str]:
    if network.spec.model == toy_network.NETWORK_NAME:
        return [toy_network.CLASSES[f] for f in network.spec.filters]
    return [f"channel {f}" for f in network.spec.filters]


def measure_network(network: Network, docs: Path | None) -> tuple[str, dict[str, Run]]:
    runs = {name: run(replace(network.spec, **changes)) for name, changes in METHODS.items()}
    text = f"### {network.title}\n\n{network.description}.\n\n"
    text += markdown_table(METHOD_HEADER, method_rows(runs)) + "\n\n"
    text += f"The target:\n\n{target_verdict(runs)}\n"
    if docs is not None:
        sheet = docs / f"quality-{network.slug}.png"
        save_sheet(runs, sheet, filter_labels(network))
        text += f"\n![final pictures, {network.title}]({sheet.name})\n"
    return text, runs


def measure_transform_sweep(network: Network, runs: dict[str, Run]) -> str:
    """Each part of the standard transforms on its own; the ends come from ``runs``."""
    baseline = runs[BASELINE].mean("activation")
    ends = {"none": runs["Fourier, Adam"], "standard": runs[TARGET_METHODS[0]]}
    rows = []
    for name, knobs in TRANSFORM_SWEEP.items():
        result = ends.get(name) or run(
            replace(network.spec, **FOURIER, **ADAM, **TRANSFORMED, **knobs)
        )
        rows.append(
            [
                name,
                f"{result.mean('activation'):.3g}",
                f"{100 * result.mean('activation') / baseline:.0f}%",
                f"{result.mean('high_frequency_fraction'):.3f}",
            ]
        )
    return markdown_table(SWEEP_HEADER, rows) + "\n"


def measure_precisions(network: Network) -> str:
    rows = []
    for name in PRECISION_METHODS:
        for precision in PRECISIONS:
            changes = METHODS[name] | {"precision": precision}
            result = run(replace(network.spec, **changes))
            rows.append(
                [
                    name,
                    precision,
                    f"{result.mean('activation'):.3g}",
                    f"{result.mean('high_frequency_fraction'):.3f}",
                    f"{result.wall_s:.1f}",
                ]
            )
    return markdown_table(PRECISION_HEADER, rows) + "\n"


BEGIN_MARK = "<!-- benchmarks/quality.py: generated from here -->"
END_MARK = "<!-- benchmarks/quality.py: generated up to here -->"


def write_between_marks(path: Path, generated: str) -> None:
    """Replace the generated part of ``path``, keeping the hand-written text around it."""
    before, after = "", ""
    if path.is_file():
        text = path.read_text()
        if BEGIN_MARK in text and END_MARK in text:
            before = text.split(BEGIN_MARK)[0]
            after = text.split(END_MARK)[1]
    path.write_text(f"{before}{BEGIN_MARK}\n\n{generated}\n{END_MARK}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="Markdown file for the tables and pictures")
    args = parser.parse_args()
    docs = args.write.parent if args.write is not None else None
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    sections = []
    nets = networks()
    measured = []
    for network in nets:
        text, runs = measure_network(network, docs)
        print(text, flush=True)
        sections.append(text)
        measured.append(runs)
    sweep = "### Transforms, part by part (ResNet50V2, Fourier, Adam)\n\n"
    sweep += measure_transform_sweep(nets[0], measured[0])
    print(sweep, flush=True)
    precision = "### Network precision (ResNet50V2)\n\n" + measure_precisions(nets[0])
    print(precision)
    total_s = time.perf_counter() - started
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    footer = f"Measured in {total_s:.0f} s on {machine}."
    print(footer)
    if args.write is not None:
        write_between_marks(args.write, "\n".join([*sections, sweep, precision, footer]))


if __name__ == "__main__":
    main()
