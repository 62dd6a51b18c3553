"""``featviz render``: run the engine here, no service, and write the pictures to a folder."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from featviz.fields import JobFields, frozen
from featviz.outputs import RESULT_FILE, ImageFolder, ImageResult, JobResult
from featviz_cli.arguments import add_spec_arguments, spec_values
from featviz_cli.model_files import add_render_arguments, register_model_file


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "render",
        help="visualise filters locally and write PNGs, contact sheets, GIFs and result.json",
        description="Optimise images that maximise filters of a layer, here, without a service.",
        argument_default=argparse.SUPPRESS,
    )
    specs = parser.add_argument_group("render spec (unset: the seed notebook's values)")
    add_spec_arguments(specs, JobFields.of_engine(), engine=True)
    add_render_arguments(parser)
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

    given = spec_values(args, JobFields.of_engine())
    own_model = hasattr(args, "model_file") or hasattr(args, "input_range")
    if own_model:
        given["model"] = register_model_file(args, given, parser)
    spec = RenderSpec(**{name: frozen(value) for name, value in given.items()})
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
        hint = ""
        if own_model and error.field == "layer":
            hint = f" (`featviz models inspect {args.model_file}` lists its layers)"
        flag = error.field.replace("_", "-")
        parser.exit(2, f"featviz render: error: --{flag}: {error.message}{hint}\n")
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
