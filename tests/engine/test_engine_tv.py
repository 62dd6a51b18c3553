"""On-graph Chambolle TV against scikit-image, the reference oracle: both implementations, the
graph version and the compiled CPU kernel."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from skimage.restoration import denoise_tv_chambolle as skimage_tv

from featviz_engine import tv_native
from featviz_engine.tv import Implementation, default_implementation, denoise_tv_chambolle
from tests.helpers.python_process import run_python

SHAPES = [(17, 23, 3), (48, 32, 3), (64, 64, 3)]
WEIGHTS = [0.0005, 0.01, 0.2]


def reference(image: np.ndarray, weight: float, mode: str) -> np.ndarray:
    """What scikit-image gives one image, as the seed calls it or channel by channel."""
    if mode == "seed":
        return skimage_tv(image[np.newaxis], weight=weight)[0]
    return skimage_tv(image, weight=weight, channel_axis=-1)


def noisy_images(shape: tuple[int, ...], count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.linspace(-0.3, 0.3, shape[0] * shape[1] * shape[2]).reshape(shape)
    noise = rng.normal(0, 0.1, size=(count, *shape))
    return (smooth + noise).astype(np.float32)


IMPLEMENTATIONS: list[Implementation] = ["graph", "kernel"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("mode", ["seed", "per_channel"])
@pytest.mark.parametrize("weight", WEIGHTS)
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_scikit_image(
    shape: tuple[int, ...], weight: float, mode: str, implementation: Implementation
) -> None:
    image = noisy_images(shape, 1, seed=1)
    weights = np.array([weight], np.float32)
    denoised = denoise_tv_chambolle(image, weights, mode, implementation=implementation).numpy()[0]
    expected = reference(image[0], weight, mode)
    assert np.abs(denoised - expected).max() <= 1e-4
    # The comparison means something only if denoising changed the image.
    assert np.abs(expected - image[0]).max() > 1e-3


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("mode", ["seed", "per_channel"])
def test_batch_equals_separate_calls(mode: str, implementation: Implementation) -> None:
    images = noisy_images((40, 36, 3), 4, seed=2)
    images[2] *= 3.0  # images that converge after different numbers of iterations
    weights = np.array([0.0005, 0.05, 0.1, 0.3], np.float32)
    batch = denoise_tv_chambolle(images, weights, mode, implementation=implementation).numpy()
    for i in range(4):
        alone = denoise_tv_chambolle(
            images[i : i + 1], weights[i : i + 1], mode, implementation=implementation
        ).numpy()[0]
        assert np.abs(batch[i] - alone).max() <= 1e-6
        assert np.abs(batch[i] - reference(images[i], float(weights[i]), mode)).max() <= 1e-4


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_zero_weight_leaves_image_unchanged(implementation: Implementation) -> None:
    images = noisy_images((20, 20, 3), 2, seed=3)
    weights = np.array([0.0, 0.1], np.float32)
    out = denoise_tv_chambolle(images, weights, "seed", implementation=implementation).numpy()
    np.testing.assert_array_equal(out[0], images[0])
    assert np.abs(out[1] - images[1]).max() > 1e-3


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="tv_mode"):
        denoise_tv_chambolle(np.zeros((1, 8, 8, 3), np.float32), np.ones(1, np.float32), "x")  # type: ignore[arg-type]


@pytest.mark.parametrize("max_num_iter", [2, 5])
def test_kernel_and_graph_agree_when_the_iteration_limit_stops_them(max_num_iter: int) -> None:
    images = noisy_images((30, 26, 3), 2, seed=4)
    weights = np.array([0.2, 0.3], np.float32)  # far from converging in a few iterations
    results = [
        denoise_tv_chambolle(
            images, weights, "seed", max_num_iter=max_num_iter, implementation=implementation
        ).numpy()
        for implementation in IMPLEMENTATIONS
    ]
    assert np.abs(results[0] - results[1]).max() <= 1e-6
    assert np.abs(results[0] - images).max() > 1e-3


def test_this_cpu_machine_uses_the_kernel() -> None:
    """The kernel builds here (the tests run on CPUs with a C++ compiler), and a build is
    reused: its file name changes only with the source, flags and TensorFlow version."""
    assert default_implementation() == "kernel"
    assert tv_native.build() == tv_native.library_path()
    assert tv_native.library_path().is_file()


PACKED_INSTRUCTIONS = {"UpdateRow": ("vsqrtps", "vdivps"), "DivergenceRow": ("vaddps",)}
"""What each pass over a row does to 8 (AVX2) or 16 (AVX-512) values at once."""


@pytest.mark.parametrize(("clone", "register"), [("avx2", "ymm"), ("avx512f", "zmm")])
def test_the_kernel_works_on_whole_vectors_in_each_cpu_clone(clone: str, register: str) -> None:
    """Each pass over a row compiles to packed instructions in the clone for each CPU kind. A
    loop the compiler leaves scalar gives the same numbers, so only the machine code shows it:
    the AVX2 clone was scalar, at 2.3 times the time, until its selects became bitwise ands."""
    objdump = shutil.which("objdump")
    assert objdump is not None, "objdump comes with g++'s binutils"
    disassembly = subprocess.run(
        [objdump, "-d", "--no-show-raw-insn", str(tv_native.build())],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for function, instructions in PACKED_INSTRUCTIONS.items():
        body = re.search(rf"<[^>]*{function}[^>]*\.{clone}>:\n(.*?)\n\n", disassembly, re.S)
        assert body is not None, f"no {clone} clone of {function}"
        for instruction in instructions:
            assert re.search(rf"{instruction}\s+\S*%{register}", body.group(1)), (
                f"{function}'s {clone} clone has no {instruction} on {register} registers"
            )


def test_without_a_compiler_the_graph_version_denoises(tmp_path: Path) -> None:
    """A machine that cannot build the kernel (no compiler, no earlier build in its cache, as
    in the GPU worker's image) denoises with the graph version instead of failing."""
    script = (
        "import numpy as np; from featviz_engine.tv import default_implementation, "
        "denoise_tv_chambolle as tv; "
        "x = np.linspace(0, 1, 2 * 8 * 8 * 3, dtype=np.float32).reshape(2, 8, 8, 3); "
        "print(default_implementation(), float(np.abs(tv(x, np.ones(2, np.float32)) - x).max()))"
    )
    completed = run_python(
        script, {"XDG_CACHE_HOME": str(tmp_path), "CXX": str(tmp_path / "no-such-compiler")}
    )
    implementation, change = completed.stdout.split()
    assert implementation == "graph"
    assert float(change) > 1e-3
    assert "TV denoising uses the graph version" in completed.stderr
