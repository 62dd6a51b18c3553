"""What a GPU run needs besides the engine rows: a GPU (or a clear refusal), the GPU's measured
peak (a large float32 matmul, with TensorFlow's default TF32 on GPUs that have it, as the
engine's convolutions get), and the arithmetic one filter-iteration costs."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf
from engine_vs_seed import seed_extractor

MATMUL_SIZE = 8192
MATMUL_CALLS = 20


def require_gpu() -> str:
    """The name of the first GPU TensorFlow sees; exits with a clear message when there is none."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        raise SystemExit(
            "run_all.py --gpu: TensorFlow sees no GPU (tf.config.list_physical_devices('GPU') "
            "is empty). Run it on a machine with a CUDA GPU and the GPU build installed "
            "(pip install -e '.[gpu]'), or run without --gpu for the CPU table."
        )
    details = tf.config.experimental.get_device_details(gpus[0])
    return str(details.get("device_name", gpus[0].name))


def hide_gpus() -> None:
    """Keep TensorFlow on the CPU, so the CPU table means the CPU on a machine with a GPU too."""
    tf.config.set_visible_devices([], "GPU")


def matmul_peak_flops(repeats: int) -> float:
    """FLOP/s of the best of ``repeats`` runs of back-to-back large float32 matmuls."""
    a = tf.random.normal([MATMUL_SIZE, MATMUL_SIZE])
    b = tf.random.normal([MATMUL_SIZE, MATMUL_SIZE])
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()  # trace and warm up
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(MATMUL_CALLS):
            result = product()
        result.numpy()  # wait for the queued kernels
        best = min(best, time.perf_counter() - started)
    return 2 * MATMUL_SIZE**3 * MATMUL_CALLS / best


def filter_iteration_flops(size: int) -> float:
    """Multiply-adds (x2) of one image through the convolutions up to the layer and back to the
    image. The gradient with respect to the input costs about what the forward pass does for a
    convolution, and the engine asks for no weight gradients: twice the forward count."""
    extractor = seed_extractor()
    convolutions = [layer for layer in extractor.layers if isinstance(layer, keras.layers.Conv2D)]
    probe = keras.Model(extractor.inputs, [layer.output for layer in convolutions])
    outputs = probe([np.zeros((1, size, size, 3), np.float32)])
    forward = 0.0
    for layer, output in zip(convolutions, outputs, strict=True):
        kernel_h, kernel_w, channels_in, channels_out = layer.kernel.shape
        _, height, width, _ = output.shape
        forward += 2.0 * height * width * kernel_h * kernel_w * channels_in * channels_out
    return 2 * forward
