"""``featviz render``: run the engine here, no service, and write the pictures to a folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from featviz.cli.arguments import add_method_arguments, finite_float, index_list
from featviz.outputs import RESULT_FILE, ImageFolder, ImageResult, JobResult

DEFAULTS_NOTE = (
    "Unset options take the seed notebook's values: resnet50v2 with imagenet weights, layer "
    "conv5_block1_out, filter 1, 2001 iterations, snapshots "
    "5,10,50,100,200,500,750,1000,1500,2000, learning rate 2.0, TV weight 0.0005 from "
    "iteration 50 in seed mode, 224 px, seed 0."
)

# Flag name -> RenderSpec field; unset flags leave the engine's defaults in place.
_SPEC_FIELDS = {
    "model": "model",
    "weights": "weights",
    "layer": "layer",
    "filters": "filters",
    "iterations": "iterations",
    "snapshots": "snapshots",
    "learning_rate": "learning_rate",
    "tv_weight": "tv_weight",
    "tv_start": "tv_start",
    "tv_mode": "tv_mode",
    "image_size": "image_size",
    "seed": "seed",
    "batch_size": "batch_size",
    "time_budget": "time_budget_s",
    "precision": "precision",
    "parameterization": "parameterization",
    "optimizer": "optimizer",
    "transforms": "transforms",
    "transform_pad": "transform_pad",
    "transform_jitter": "transform_jitter",
    "transform_scale": "transform_scale",
    "transform_rotate": "transform_rotate",
    "objective": "objective",
    "direction": "direction",
    "diversity_weight": "diversity_weight",
    "l1_weight": "l1_weight",
    "l2_weight": "l2_weight",
    "blur_every": "blur_every",
    "blur_sigma": "blur_sigma",
    "relu_warmup": "relu_warmup",
}


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "render",
        help="visualise filters locally and write PNGs, contact sheets, GIFs and result.json",
        description="Optimise images that maximise filters of a layer, here, without a service.",
        epilog=DEFAULTS_NOTE,
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--model", help="catalog model name")
    parser.add_argument("--weights", choices=["imagenet", "random"])
    parser.add_argument("--layer", help="layer name, e.g. conv5_block1_out")
    parser.add_argument("--filters", type=index_list, help="channel indices: 1,2,3 or 0-15")
    parser.add_argument("--iterations", type=int)
    parser.add_argument(
        "--snapshots", type=index_list, help="iterations to save, each < iterations"
    )
    parser.add_argument("--learning-rate", type=finite_float)
    parser.add_argument("--tv-weight", type=finite_float, help="0 turns denoising off")
    parser.add_argument("--tv-start", type=int, help="first iteration that denoises")
    parser.add_argument("--tv-mode", choices=["seed", "per_channel"])
    parser.add_argument("--image-size", type=int)
    parser.add_argument("--seed", type=int, help="start-image seed: same spec and seed, same PNGs")
    parser.add_argument("--batch-size", type=int, help="filters optimised together (default 16)")
    parser.add_argument("--time-budget", type=finite_float, help="seconds before giving up")
    add_method_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--no-progress", action="store_true", default=False, help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # Imported here so that the rest of the CLI starts without TensorFlow.
    from tqdm import tqdm

    from featviz_engine.artifacts import filter_artifacts
    from featviz_engine.errors import Interrupted, SpecError, WeightsUnavailableError
    from featviz_engine.render import render
    from featviz_engine.spec import RenderSpec

    overrides = {
        field: getattr(args, flag) for flag, field in _SPEC_FIELDS.items() if hasattr(args, flag)
    }
    for sequence in ("filters", "snapshots", "objective", "direction"):
        if sequence in overrides:
            overrides[sequence] = tuple(overrides[sequence])
    spec = RenderSpec(**overrides)
    bar = tqdm(total=None, unit="it", disable=True if args.no_progress else None, file=sys.stderr)

    def progress(done: int, total: int, objective: Any) -> None:
        bar.total = total
        bar.set_postfix(activation=f"{float(objective.mean()):.3f}", refresh=False)
        bar.update(done - bar.n)

    started = time.monotonic()
    try:
        result = render(spec, on_progress=progress)
    except SpecError as error:
        bar.close()
        parser.exit(
            2, f"featviz render: error: --{error.field.replace('_', '-')}: {error.message}\n"
        )
    except WeightsUnavailableError as error:
        bar.close()
        parser.exit(1, f"featviz render: error: {error}\n")
    except Interrupted as error:
        bar.close()
        parser.exit(1, f"featviz render: {error}\n")
    bar.close()

    out: Path = args.out
    images = []
    for filter_result in result.filters:
        folder = ImageFolder.of(filter_result.filter)
        artifacts = filter_artifacts(filter_result)
        files = {folder.snapshot(iteration): png for iteration, png in artifacts.frames.items()}
        files |= {folder.sheet: artifacts.sheet, folder.gif: artifacts.gif}
        (out / folder.path).mkdir(parents=True, exist_ok=True)
        for path, data in files.items():
            (out / path).write_bytes(data)
        images.append(ImageResult.of(filter_result, folder))
    timings = result.timings | {"wall_s": time.monotonic() - started}
    report = JobResult(spec=result.spec.as_dict(), images=images, timings=timings)
    (out / RESULT_FILE).write_bytes(report.encode())
    print(f"wrote {len(result.filters)} filter folder(s) and {RESULT_FILE} to {out}")
    return 0
