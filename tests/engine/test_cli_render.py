"""``featviz render`` end to end, as a user runs it from the shell."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

RENDER = [
    "render", "--weights", "random", "--layer", "conv3_block1_out", "--filters", "1,2",
    "--iterations", "12", "--snapshots", "5,10", "--tv-start", "4", "--image-size", "64",
    "--seed", "0",
]  # fmt: skip


def featviz(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        [sys.executable, "-m", "featviz_cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )


def test_render_writes_snapshots_sheet_gif_and_result(tmp_path: Path) -> None:
    launched_at = time.time()
    completed = featviz(*RENDER, "--out", str(tmp_path))
    exited_at = time.time()
    assert completed.returncode == 0, completed.stderr
    for filter_index in (1, 2):
        folder = tmp_path / f"filter_{filter_index:04d}"
        names = sorted(path.name for path in folder.iterdir())
        assert names == [
            "iter_0005.png", "iter_0010.png", "iter_0011.png", "progress.gif", "sheet.png",
        ]  # fmt: skip
        with Image.open(folder / "iter_0005.png") as snapshot:
            assert snapshot.mode == "RGB"
            assert snapshot.size == (50, 50)  # 64 px less the seed's proportional crop
        with Image.open(folder / "progress.gif") as gif:
            assert gif.n_frames == 3
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["spec"]["filters"] == [1, 2]
    assert result["spec"]["learning_rate"] == 2.0  # the seed's default
    first = result["images"][0]
    assert [s["iteration"] for s in first["snapshots"]] == [5, 10]
    assert {"activation", "total_variation", "high_frequency_fraction"} <= set(first["final"])
    timings = result["timings"]
    assert timings["ms_per_filter_iteration"] > 0
    # What a cold start is measured to, as Unix time: while the command ran.
    assert launched_at < timings["first_iteration_at"] < exited_at


def test_bad_input_names_the_flag_and_writes_nothing(tmp_path: Path) -> None:
    completed = featviz(*RENDER, "--filters", "4096", "--out", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert "--filters" in completed.stderr
    assert "512 channels" in completed.stderr
    assert not (tmp_path / "out").exists()


def test_unparseable_flag_is_refused_by_the_parser(tmp_path: Path) -> None:
    completed = featviz(*RENDER, "--learning-rate", "nan", "--out", str(tmp_path))
    assert completed.returncode == 2
    assert "--learning-rate" in completed.stderr


def test_method_flags_reach_the_spec(tmp_path: Path) -> None:
    completed = featviz(
        *RENDER,
        "--filters", "1", "--parameterization", "fourier", "--optimizer", "adam",
        "--transforms", "standard", "--transform-jitter", "4", "--transform-rotate", "5",
        "--objective", "channel:1,neuron:0.5", "--l2-weight", "0.01", "--precision", "bfloat16",
        "--relu-warmup", "3", "--out", str(tmp_path),
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    spec = json.loads((tmp_path / "result.json").read_text())["spec"]
    assert spec["parameterization"] == "fourier"
    assert spec["optimizer"] == "adam"
    assert spec["learning_rate"] == 0.05  # Adam's default
    assert (spec["transforms"], spec["transform_jitter"], spec["transform_rotate"]) == (
        "standard", 4, 5.0,
    )  # fmt: skip
    assert spec["objective"] == [["channel", 1.0], ["neuron", 0.5]]
    assert (spec["l2_weight"], spec["precision"], spec["relu_warmup"]) == (0.01, "bfloat16", 3)


def test_unknown_objective_kind_names_the_flag(tmp_path: Path) -> None:
    completed = featviz(*RENDER, "--objective", "sparkle", "--out", str(tmp_path / "out"))
    assert completed.returncode == 2
    assert "--objective" in completed.stderr
    assert not (tmp_path / "out").exists()


def test_method_choices_match_the_engine() -> None:
    from featviz.fields import JobFields
    from featviz_engine import models, optimizers, parameterizations, transforms, tv

    assert JobFields.precision.choices == models.PRECISIONS
    assert JobFields.parameterization.choices == parameterizations.PARAMETERIZATIONS
    assert JobFields.optimizer.choices == optimizers.OPTIMIZERS
    assert JobFields.transforms.choices == transforms.TRANSFORMS
    assert JobFields.weights.choices == models.WEIGHTS
    assert JobFields.tv_mode.choices == tv.TV_MODES
