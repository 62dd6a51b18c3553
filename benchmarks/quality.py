"""How good are the pictures? Each method on the same filters with the same compute budget.

    .venv/bin/python benchmarks/quality.py [--write docs/quality.md]
    .venv/bin/python benchmarks/quality.py --trained [--quick] [--layers L1,L2] [--methods M1,M2]
        [--write docs/quality.md]

Two networks: ResNet50V2 with random weights (ImageNet weights cannot be downloaded here) and the
small pattern network of ``featviz_engine.toy_network`` (trained on first use, then cached in
``.cache/``). For every method: the activation reached (as a share of the seed's without TV), the
high-frequency energy fraction and total variation per pixel of the final picture, the image's
contrast (RMS in the model's [-1, 1] input space), the iterations to reach 90% of the final
activation, and the wall time (tracing excluded). Then the seed method and Fourier + transforms
per network precision on ResNet50V2. Prints the tables; ``--write`` also writes them, with
contact sheets of the final pictures, to a Markdown file.

``--trained`` measures issue 14's targets instead, on the trained VGG16 (``hed-bsds500``): the
seed method without TV, the seed preset with its dead-start revival, the ``recommended`` preset,
and tf-keras-vis 0.8.7 with its defaults (installed into its own environment under ``.cache/``,
run in its own process by ``benchmarks/tf_keras_vis_run.py``), each judged on its PNGs. Each
layer's table and sheet are written as soon as it is measured, between marks of their own, so a
run of some layers (``--layers``, one process each if wanted) keeps the other layers' results;
``--methods`` runs only some methods (a try of the recommended preset alone), and the verdicts
that need a method not run are left out.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from machine import machine_line
from PIL import Image

from featviz_engine import toy_network
from featviz_engine.ascent import AscentSettings, optimize
from featviz_engine.display import displayed_activations, picture
from featviz_engine.images import contact_sheet, deprocess, to_uint8
from featviz_engine.metrics import high_frequency_fraction, snapshot_metrics
from featviz_engine.render import prepare, render
from featviz_engine.spec import RenderSpec
from featviz_engine.trained_weights import HED_BSDS500

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


# --- Trained VGG16 (issue 14's targets) ---------------------------------------------------

TRAINED_LAYERS = ("block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
TRAINED_BASE = RenderSpec(
    model="vgg16", weights=HED_BSDS500, image_size=128, iterations=256, snapshots=()
)
SEED_NO_TV = "seed, no TV, no revival"
SEED_PRESET = "seed preset (TV 0.0005, dead-start revival)"
RECOMMENDED = "recommended"
TRAINED_METHODS: dict[str, dict[str, Any]] = {
    SEED_NO_TV: {"tv_weight": 0.0, "dead_start": "off"},
    SEED_PRESET: {},
    RECOMMENDED: {"preset": "recommended"},
}
TF_KERAS_VIS = "tf-keras-vis 0.8.7, its defaults"
METHOD_KEYS = {
    "seed": SEED_NO_TV,
    "seed-preset": SEED_PRESET,
    "recommended": RECOMMENDED,
    "tf-keras-vis": TF_KERAS_VIS,
}
"""``--methods``' names of the trained methods."""
TF_KERAS_VIS_VERSION = "0.8.7"
TF_KERAS_VIS_DEPENDENCIES = ("deprecated==1.2.18",)
"""tf-keras-vis's one dependency that featviz's environment lacks (the others, scipy, pillow,
imageio and packaging, come from it through the new environment's ``.pth`` file)."""
DEAD_FACTOR = 10.0
"""A tile is alive when its final displayed activation is above this times its start's."""
TILE = 96
"""Side of a tile in the trained network's sheets (pictures are resized to it)."""


@dataclass
class TrainedRun:
    """One method on one layer's filters: final pictures and metrics, start activations."""

    pictures: list[np.ndarray]
    displayed: np.ndarray
    high_frequency: np.ndarray
    start_displayed: np.ndarray
    dead_at_start: list[bool]
    never_alive: list[bool]
    ms_per_filter_iteration: float
    wall_s: float
    """The run's wall time: featviz's ``render`` (traced beforehand), tf-keras-vis's call."""
    cpu_s: float
    """The CPU time of the run's process (all threads) over the same call."""
    warmup_s: float = 0.0
    """featviz: the 2-iteration ``render`` before the run, which traces its steps."""

    def alive(self) -> np.ndarray:
        """Per filter: final displayed activation above 10x the start's, and above 0."""
        alive: np.ndarray = (self.displayed > DEAD_FACTOR * self.start_displayed) & (
            self.displayed > 0
        )
        return alive


def start_displayed(spec: RenderSpec) -> np.ndarray:
    """The displayed activation of each filter's start image (the PNG a 0-iteration run shows)."""
    spec, program = prepare(spec)
    start = program.parameterization.initial(spec.seed, spec.image_size, len(spec.filters))
    images = program.to_image(start).numpy()
    rgb = np.stack([to_uint8(picture(image, spec.parameterization)) for image in images])
    targets = tf.constant(spec.filters, tf.int32)
    return displayed_activations(program.image_activation, rgb, targets, spec.image_size)


def trained_run(spec: RenderSpec) -> TrainedRun:
    """``render`` of all the spec's filters in one batch, after a 2-iteration run that traces."""
    spec = replace(spec, batch_size=len(spec.filters))
    warmup = render(replace(spec, iterations=2))
    cpu_started = time.process_time()
    result = render(spec)
    cpu_s = time.process_time() - cpu_started
    finals = [filter_result.final for filter_result in result.filters]
    assert all(final is not None for final in finals)
    return TrainedRun(
        [final.rgb for final in finals if final is not None],
        np.array([f.metrics["displayed_activation"] for f in finals if f is not None]),
        np.array([f.metrics["high_frequency_fraction"] for f in finals if f is not None]),
        start_displayed(spec),
        [filter_result.dead_at_start for filter_result in result.filters],
        [filter_result.never_alive for filter_result in result.filters],
        result.timings["ms_per_filter_iteration"],
        result.timings["total_s"],
        cpu_s,
        warmup.timings["total_s"],
    )


def tf_keras_vis_python() -> Path:
    """A virtual environment under ``.cache/`` with tf-keras-vis, reusing featviz's packages.

    Its ``site-packages`` holds a ``.pth`` file naming this interpreter's, so TensorFlow and
    featviz's other packages are shared; tf-keras-vis is installed with ``--no-deps``.
    """
    venv = CACHE_DIR / f"tf-keras-vis-{TF_KERAS_VIS_VERSION}"
    python = venv / "bin" / "python"
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        shared = sysconfig.get_paths()["purelib"]
        (venv / "lib" / version / "site-packages" / "featviz-shared.pth").write_text(shared + "\n")
        packages = [f"tf-keras-vis=={TF_KERAS_VIS_VERSION}", *TF_KERAS_VIS_DEPENDENCIES]
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "--no-deps", *packages], check=True
        )
    return python


def tf_keras_vis_run(layer: str, filters: tuple[int, ...], size: int, steps: int) -> TrainedRun:
    """tf-keras-vis on the same filters, in its own process; measured by featviz's metrics."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "tf_keras_vis.npz"
        command = [str(tf_keras_vis_python()), str(ROOT / "benchmarks" / "tf_keras_vis_run.py")]
        command += [layer, ",".join(map(str, filters)), str(size), str(steps), str(out)]
        environment = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(command, check=True, env=environment)
        saved = np.load(out)
        rgb, wall_s, cpu_s = saved["rgb"], float(saved["wall_s"]), float(saved["cpu_s"])
    _spec, program = prepare(replace(TRAINED_BASE, layer=layer, filters=filters, image_size=size))
    targets = tf.constant(filters, tf.int32)
    displayed = displayed_activations(program.image_activation, rgb, targets, size)
    seed_rgb = np.random.default_rng(0).uniform(0, 255, rgb.shape).astype(np.uint8)
    return TrainedRun(
        list(rgb),
        displayed,
        np.array([high_frequency_fraction(image / 255.0) for image in rgb]),
        displayed_activations(program.image_activation, seed_rgb, targets, size),
        [False] * len(filters),
        [False] * len(filters),
        1000 * wall_s / (len(filters) * steps),
        wall_s,
        cpu_s,
    )


def trained_filters(layer: str, count: int) -> tuple[int, ...]:
    """Half the filters dead at the seed's start image (the first ones), the rest live."""
    spec, program = prepare(replace(TRAINED_BASE, layer=layer))
    candidates = tuple(range(min(program.channels, 64)))
    start = program.parameterization.initial(spec.seed, spec.image_size, len(candidates))
    dead = program.dead(tf.constant(start), tf.constant(candidates, tf.int32)).numpy()
    dead_ones = [f for f, d in zip(candidates, dead, strict=True) if d][: count // 2]
    live_ones = [f for f, d in zip(candidates, dead, strict=True) if not d]
    return tuple(sorted(dead_ones + live_ones[: count - len(dead_ones)]))


TRAINED_HEADER = [
    "method",
    "displayed activation",
    "x seed, no TV",
    "HF fraction",
    "x seed, no TV",
    "dead at start",
    "alive at end",
    "ms / filter-iteration",
]


def trained_rows(runs: dict[str, TrainedRun]) -> list[list[str]]:
    seed = runs.get(SEED_NO_TV)

    def share(value: float, of: float | None) -> str:
        return "-" if of is None else f"{value / of:.2f}"

    rows = []
    for name, result in runs.items():
        rows.append(
            [
                name,
                f"{result.displayed.mean():.3g}",
                share(result.displayed.mean(), seed and seed.displayed.mean()),
                f"{result.high_frequency.mean():.3f}",
                share(result.high_frequency.mean(), seed and seed.high_frequency.mean()),
                f"{sum(result.dead_at_start)}" if name != TF_KERAS_VIS else "-",
                f"{int(result.alive().sum())} of {len(result.alive())}",
                f"{result.ms_per_filter_iteration:.0f}",
            ]
        )
    return rows


def per_filter_rows(runs: dict[str, TrainedRun]) -> list[list[str]]:
    """Per method, each filter's displayed activation and HF fraction: a layer's mean can hide
    one tile (a filter that barely woke, or one whose own pattern is fine hatching)."""
    return [
        [name]
        + [
            f"{displayed:.3g}; {high_frequency:.3f}"
            for displayed, high_frequency in zip(
                result.displayed, result.high_frequency, strict=True
            )
        ]
        for name, result in runs.items()
    ]


def verdict(name: str, met: bool, detail: str) -> str:
    return f"- {name}: {'PASS' if met else 'MISS'} ({detail})"


def trained_verdicts(runs: dict[str, TrainedRun]) -> list[str]:
    """Issue 14's targets, those whose methods were run."""
    lines = []
    recommended, seed, tfkv = (runs.get(n) for n in (RECOMMENDED, SEED_NO_TV, TF_KERAS_VIS))
    if recommended is not None and seed is not None:
        activation = recommended.displayed.mean() / seed.displayed.mean()
        hf = recommended.high_frequency.mean() / seed.high_frequency.mean()
        lines += [
            verdict(
                "recommended displayed activation >= 1.0x seed, no TV",
                activation >= 1.0,
                f"{activation:.2f}x",
            ),
            verdict("recommended HF fraction <= 0.15x seed's", hf <= 0.15, f"{hf:.3f}x"),
        ]
    if recommended is not None and tfkv is not None:
        lines += [
            verdict(
                "recommended at least tf-keras-vis's displayed activation",
                recommended.displayed.mean() >= tfkv.displayed.mean(),
                f"{recommended.displayed.mean():.3g} vs {tfkv.displayed.mean():.3g}",
            ),
            verdict(
                "recommended HF fraction at most tf-keras-vis's",
                recommended.high_frequency.mean() <= tfkv.high_frequency.mean(),
                f"{recommended.high_frequency.mean():.3f} vs {tfkv.high_frequency.mean():.3f}",
            ),
        ]
    for name in (RECOMMENDED, SEED_PRESET):
        if name in runs:
            alive = runs[name].alive()
            lines.append(
                verdict(
                    f"zero dead tiles, {name}",
                    bool(alive.all()),
                    f"{int((~alive).sum())} dead of {len(alive)}",
                )
            )
    if recommended is not None and seed is not None:
        cost = recommended.ms_per_filter_iteration / seed.ms_per_filter_iteration
        lines.append(
            verdict(
                "recommended <= 1.3x the seed's time per filter-iteration",
                cost <= 1.3,
                f"{cost:.2f}x",
            )
        )
    return lines


def save_trained_sheet(runs: dict[str, TrainedRun], filters: tuple[int, ...], path: Path) -> None:
    """Rows: methods; columns: filters (* dead at the start image); red border: never alive."""
    tiles, labels, marked = [], [], []
    for result in runs.values():
        for index, (filter_index, rgb) in enumerate(zip(filters, result.pictures, strict=True)):
            tiles.append(np.asarray(Image.fromarray(rgb).resize((TILE, TILE))))
            labels.append(f"{filter_index}{'*' if result.dead_at_start[index] else ''}")
            marked.append(result.never_alive[index])
    sheet = contact_sheet(tiles, labels, len(filters), row_labels=list(runs), marked=marked)
    image = Image.fromarray(sheet).quantize(SHEET_COLOURS, dither=Image.Dither.NONE)
    image.save(path, optimize=True)


TRAINED_INTRO = (
    "### Trained VGG16 (hed-bsds500): the targets\n\n"
    "Per layer: filters of which half are dead at the seed's start image where the layer has "
    "that many (marked *), all filters of a layer in one batch; activations and HF fractions of "
    "the PNGs as displayed. Each layer is measured by its own run (`--layers`), whose settings, "
    "time, machine and load its section gives.\n"
)


def measure_layer(layer: str, quick: bool, methods: tuple[str, ...], docs: Path | None) -> str:
    """One layer's table, verdicts and (with ``docs``) sheet, as Markdown."""
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    count, iterations = (4, 24) if quick else (8, 256)
    filters = trained_filters(layer, count)
    spec = replace(TRAINED_BASE, iterations=iterations, layer=layer, filters=filters)
    runs = {
        name: trained_run(replace(spec, **changes))
        for name, changes in TRAINED_METHODS.items()
        if name in methods
    }
    if TF_KERAS_VIS in methods:
        runs[TF_KERAS_VIS] = tf_keras_vis_run(layer, filters, spec.image_size, iterations)
    part = (
        f"\n#### {layer}, filters {', '.join(map(str, filters))}: {spec.image_size} px, "
        f"{iterations} iterations\n\n"
    )
    part += markdown_table(TRAINED_HEADER, trained_rows(runs)) + "\n\n"
    part += "\n".join(trained_verdicts(runs)) + "\n"
    part += "\nPer filter, displayed activation; HF fraction:\n\n"
    part += markdown_table(["method", *map(str, filters)], per_filter_rows(runs)) + "\n"
    if docs is not None:
        sheet = docs / f"quality-vgg16-{layer}.png"
        save_trained_sheet(runs, filters, sheet)
        part += f"\n![final pictures, {layer}]({sheet.name})\n"
    part += (
        f"\nMeasured in {time.perf_counter() - started:.0f} s on {machine_line()}; load average "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.\n"
    )
    return part


def layer_marks(layer: str) -> tuple[str, str]:
    return (
        f"<!-- benchmarks/quality.py --trained {layer}: from here -->",
        f"<!-- benchmarks/quality.py --trained {layer}: up to here -->",
    )


LAYER_BLOCK = re.compile(
    r"<!-- benchmarks/quality.py --trained (\S+): from here -->\n(.*?)\n"
    r"<!-- benchmarks/quality.py --trained \1: up to here -->",
    re.DOTALL,
)


def write_trained_layer(path: Path, layer: str, part: str) -> None:
    """Put one layer's part into ``path``'s trained section, keeping the other layers' parts
    (in the order they were first written; text of the section outside them is replaced)."""
    text = path.read_text() if path.is_file() else ""
    begin, end = TRAINED_MARKS
    section = text.split(begin)[1].split(end)[0] if begin in text and end in text else ""
    parts = dict(LAYER_BLOCK.findall(section))
    parts[layer] = part
    blocks = [
        "\n".join([layer_marks(name)[0], body, layer_marks(name)[1]])
        for name, body in parts.items()
    ]
    write_between_marks(path, TRAINED_INTRO + "\n" + "\n\n".join(blocks), TRAINED_MARKS)


def measure_trained(
    quick: bool, markdown: Path | None, layers: tuple[str, ...], methods: tuple[str, ...]
) -> None:
    """Each layer's part, printed and (with ``markdown``) written as soon as it is measured."""
    layers = layers or (("block2_conv2", "block5_conv3") if quick else TRAINED_LAYERS)
    for layer in layers:
        part = measure_layer(layer, quick, methods, markdown and markdown.parent)
        print(part, flush=True)
        if markdown is not None:
            write_trained_layer(markdown, layer, part)


BEGIN_MARK = "<!-- benchmarks/quality.py: generated from here -->"
END_MARK = "<!-- benchmarks/quality.py: generated up to here -->"
TRAINED_MARKS = (
    "<!-- benchmarks/quality.py --trained: generated from here -->",
    "<!-- benchmarks/quality.py --trained: generated up to here -->",
)


def write_between_marks(
    path: Path, generated: str, marks: tuple[str, str] = (BEGIN_MARK, END_MARK)
) -> None:
    """Replace the generated part of ``path``, keeping the hand-written text around it.

    Marks not yet in the file go right after the untrained section's (else at the end).
    """
    begin, end = marks
    text = path.read_text() if path.is_file() else ""
    if begin in text and end in text:
        before, after = text.split(begin)[0], text.split(end)[1]
    elif END_MARK in text:
        before, after = text.split(END_MARK)[0] + END_MARK + "\n\n", text.split(END_MARK)[1]
    else:
        before, after = text, ""
    path.write_text(f"{before}{begin}\n\n{generated}\n{end}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="Markdown file for the tables and pictures")
    parser.add_argument(
        "--trained", action="store_true", help="only the trained VGG16's targets (issue 14)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="with --trained: 2 layers, 4 filters, 24 iterations"
    )
    parser.add_argument(
        "--layers",
        type=lambda text: tuple(text.split(",")),
        default=(),
        help="with --trained: only these layers (comma-separated), at the run's settings",
    )
    parser.add_argument(
        "--methods",
        type=lambda text: tuple(METHOD_KEYS[key] for key in text.split(",")),
        default=tuple(METHOD_KEYS.values()),
        help=f"with --trained: only these methods (comma-separated, of {', '.join(METHOD_KEYS)})",
    )
    args = parser.parse_args()
    docs = args.write.parent if args.write is not None else None
    if docs is not None:
        docs.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if args.trained:
        measure_trained(args.quick, args.write, args.layers, args.methods)
        return
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
    footer = f"Measured in {total_s:.0f} s on {machine_line()}."
    print(footer)
    if args.write is not None:
        write_between_marks(args.write, "\n".join([*sections, sweep, precision, footer]))


if __name__ == "__main__":
    main()
