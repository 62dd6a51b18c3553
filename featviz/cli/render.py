"""``featviz render``: run the engine here, no service, and write the pictures to a folder."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from featviz.cli.arguments import add_spec_arguments, spec_values
from featviz.fields import JobFields, frozen


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "render",
        help="visualise filters locally and write PNGs, contact sheets, GIFs and result.json",
        description="Optimise images that maximise filters of a layer, here, without a service.",
        argument_default=argparse.SUPPRESS,
    )
    specs = parser.add_argument_group("render spec (unset: the seed notebook's values)")
    add_spec_arguments(specs, JobFields.of_engine(), engine=True)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--no-progress", action="store_true", default=False, help="no progress bar")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    # Imported here so that the rest of the CLI starts without TensorFlow.
    from tqdm import tqdm

    from featviz_engine.artifacts import (
        RESULT_NAME,
        filter_artifacts,
        filter_folder,
        snapshot_record,
    )
    from featviz_engine.errors import Interrupted, SpecError, WeightsUnavailableError
    from featviz_engine.render import render
    from featviz_engine.spec import RenderSpec

    given = spec_values(args, JobFields.of_engine())
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
    filters_report = []
    for filter_result in result.filters:
        folder = out / filter_folder(filter_result.filter)
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in filter_artifacts(filter_result).items():
            (folder / name).write_bytes(data)
        filters_report.append(
            {
                "filter": filter_result.filter,
                "folder": folder.name,
                "snapshots": [snapshot_record(s) for s in filter_result.snapshots],
                "final": snapshot_record(filter_result.frames[-1]),
            }
        )
    timings = result.timings | {"wall_s": time.monotonic() - started}
    report = {"spec": result.spec.as_dict(), "filters": filters_report, "timings": timings}
    (out / RESULT_NAME).write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {len(result.filters)} filter folder(s) and {RESULT_NAME} to {out}")
    return 0
