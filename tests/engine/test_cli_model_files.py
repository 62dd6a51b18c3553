"""Own models locally: ``featviz render --model-file`` and ``featviz models inspect``, no service.

The command runs in this process (``featviz_cli.main``, as the ``featviz`` script calls it), so
TensorFlow is loaded once; ``test_cli_render.py`` runs the command as a separate process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from featviz_cli import main
from tests.helpers.model_files import (
    REJECTION_REASONS,
    fixed_size_cnn,
    pooled_cnn,
    small_cnn,
    unusable_files,
)

RENDER = [
    "render", "--layer", "conv_b", "--filters", "0,3", "--iterations", "6", "--snapshots", "3",
    "--image-size", "32", "--seed", "0", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("model-files")
    cnn = small_cnn(folder / "cnn.keras")
    return {
        "cnn": cnn,
        "pooled": pooled_cnn(folder / "pooled.keras"),
        "fixed": fixed_size_cnn(folder / "fixed.keras"),
        **unusable_files(folder, cnn),
    }


def featviz(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    """The exit code, standard output and standard error of one ``featviz`` command."""
    try:
        code = main([str(arg) for arg in args])
    except SystemExit as exit_:  # argparse and the render's refusals exit
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_render_runs_a_model_file_in_its_input_range(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    finals = {}
    for input_range in ("caffe", "[0,1]"):
        out = tmp_path / input_range
        command = [*RENDER, "--model-file", files["cnn"], "--input-range", input_range]
        code, _, err = featviz(capsys, *command, "--out", out)
        assert code == 0, err
        for filter_index in (0, 3):
            names = sorted(path.name for path in (out / f"filter_{filter_index:04d}").iterdir())
            assert names == ["iter_0003.png", "iter_0005.png", "progress.gif", "sheet.png"]
        result = json.loads((out / "result.json").read_text())
        assert result["spec"]["model"] == "cnn.keras"
        assert result["spec"]["layer"] == "conv_b"
        finals[input_range] = [image["final"]["activation"] for image in result["images"]]
    # The same model and seed see other pixel values: the declared range reaches the model.
    assert finals["caffe"] != finals["[0,1]"]


@pytest.mark.parametrize("file", sorted(REJECTION_REASONS))
def test_unusable_files_are_refused_with_the_uploads_reason(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path, file: str
) -> None:
    out = tmp_path / "out"
    command = [*RENDER, "--model-file", files[file], "--input-range", "caffe", "--out", out]
    code, _, err = featviz(capsys, *command)
    assert code == 2
    assert "--model-file" in err
    assert REJECTION_REASONS[file] in err
    assert not out.exists()
    code, out_text, err = featviz(capsys, "models", "inspect", files[file])
    assert code == 1
    assert out_text == ""
    assert REJECTION_REASONS[file] in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--model-file", "{cnn}"], "--model-file needs --input-range (one of [0,1], [-1,1]"),
        (["--input-range", "caffe"], "--input-range goes with --model-file"),
        (["--model-file", "{cnn}", "--input-range", "tf", "--model", "vgg16"], "replaces --model"),
        (["--model-file", "{dir}/my.h5", "--input-range", "tf"], "must be a .keras file"),
        (["--model-file", "{dir}/gone.keras", "--input-range", "tf"], "gone.keras: no such file"),
        (["--input-range", "[0,2]"], "argument --input-range: invalid choice: '[0,2]'"),
        (
            ["--model-file", "{cnn}", "--input-range", "tf", "--layer", "logits"],
            "--layer: layer 'logits' has no 4-D (batch, height, width, channels) output",
        ),
        (
            ["--model-file", "{cnn}", "--input-range", "tf", "--filters", "16"],
            "--filters: layer 'conv_b' has 16 channels (0..15)",
        ),
        (
            ["--model-file", "{fixed}", "--input-range", "tf", "--layer", "conv"],
            "--image-size: this network takes 64 px images only",
        ),
    ],
)
def test_bad_render_flags_name_the_flag_and_write_nothing(
    capsys: pytest.CaptureFixture[str],
    files: dict[str, Path],
    tmp_path: Path,
    flags: list[str],
    message: str,
) -> None:
    paths = {"cnn": files["cnn"], "fixed": files["fixed"], "dir": tmp_path}
    out = tmp_path / "out"
    command = [*RENDER, *(flag.format(**paths) for flag in flags), "--out", out]
    code, _, err = featviz(capsys, *command)
    assert code == 2
    assert message in err
    assert not out.exists()


def test_an_unknown_layer_points_to_inspect(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    command = [*RENDER, "--model-file", files["cnn"], "--input-range", "tf", "--layer", "conv9"]
    code, _, err = featviz(capsys, *command, "--out", tmp_path / "out")
    assert code == 2
    assert f"`featviz models inspect {files['cnn']}` lists its layers" in err


def test_inspect_lists_layers_channels_shapes_and_smallest_sizes(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code, out, err = featviz(capsys, "models", "inspect", files["pooled"])
    assert code == 0, err
    lines = [line.split() for line in out.splitlines()]
    assert (
        out.splitlines()[0]
        == f"{files['pooled']}: takes square images of 32 to 512 px; 4 layers to visualise"
    )
    assert lines[1] == ["layer", "type", "channels", "output", "shape", "smallest", "image"]
    assert lines[2:] == [
        ["conv_a", "Conv2D", "4", "(None,", "None,", "4)", "32", "px"],
        ["pool_a", "MaxPooling2D", "4", "(None,", "None,", "4)", "32", "px"],
        ["conv_b", "Conv2D", "6", "(None,", "None,", "6)", "32", "px"],
        ["pool_b", "MaxPooling2D", "6", "(None,", "None,", "6)", "80", "px"],  # 80 / 16 = 5
    ]
    code, out, err = featviz(capsys, "models", "inspect", files["fixed"], "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "file": str(files["fixed"]),
        "input_size": 64,
        "min_input_size": 64,
        "layers": [
            {
                "name": "conv",
                "layer_type": "Conv2D",
                "channels": 8,
                "output_shape": [62, 62, 8],
                "min_image_size": 64,
            }
        ],
    }


@pytest.mark.parametrize(
    ("target", "code", "message"),
    [
        (None, 2, "usage: featviz models inspect FILE [--json]"),
        ("{dir}/model.h5", 2, "model.h5: must be a .keras file (Keras 3 format)"),
        ("{dir}/gone.keras", 2, "gone.keras: no such file"),
    ],
)
def test_inspect_refuses_what_is_no_model_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: str | None, code: int, message: str
) -> None:
    (tmp_path / "model.h5").write_bytes(b"HDF")
    args = [] if target is None else [target.format(dir=tmp_path)]
    exit_code, out, err = featviz(capsys, "models", "inspect", *args)
    assert (exit_code, out) == (code, "")
    assert message in err
