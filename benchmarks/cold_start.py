"""Cold start: from the ``featviz render`` command to its first finished iteration, as a whole
process, for 16 filters at 224 px (issue 15's target: at most 8 s, median of 3).

    .venv/bin/python benchmarks/cold_start.py [--runs 3] [--model resnet50v2]

Each run is a fresh process rendering one iteration (the first finished iteration, then the
files of its 16 images), so its wall time is an upper bound of the target's figure. The run's
``result.json`` splits it: ``prepare_s`` (building the network and program), ``optimise_s``
(tracing and the iteration), and the rest (imports, writing the files). Random weights: ImageNet
weights cannot be downloaded here and do not change the cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from machine import machine_line

TARGET_S = 8.0
ROOT = Path(__file__).resolve().parents[1]


def command(model: str, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "featviz_cli", "render", "--model", model, "--weights", "random",
        "--filters", "0-15", "--iterations", "1", "--snapshots", "0", "--image-size", "224",
        "--no-progress", "--out", str(out),
    ]  # fmt: skip


def one_run(model: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        started = time.perf_counter()
        subprocess.run(command(model, out), cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - started
        timings: dict[str, float] = json.loads((out / "result.json").read_text())["timings"]
    return {"wall_s": wall, "prepare_s": timings["prepare_s"], "optimise_s": timings["optimise_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", default="resnet50v2")
    args = parser.parse_args()
    runs = [one_run(args.model) for _ in range(args.runs)]
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    rest = median["wall_s"] - median["prepare_s"] - median["optimise_s"]
    verdict = "PASS" if median["wall_s"] <= TARGET_S else "MISS"
    shown = " ".join(command(args.model, Path("OUT"))[1:])
    print(f"{machine_line()}; median of {args.runs} processes.\n")
    print("| `python " + shown + "` | s |\n| --- | ---: |")
    print(f"| whole process (command to exit) | {median['wall_s']:.1f} |")
    print(f"| prepare (network, program) | {median['prepare_s']:.1f} |")
    print(f"| optimise (tracing, first iteration) | {median['optimise_s']:.1f} |")
    print(f"| the rest (imports, writing 16 images) | {rest:.1f} |")
    print(f"\nTarget: <= {TARGET_S:.0f} s: **{verdict}** ({median['wall_s']:.1f} s).")


if __name__ == "__main__":
    main()
