"""The GPUs this process computes on, and the network precisions it runs there: what a worker
publishes it can serve. Asked of TensorFlow's device list only, without building anything."""

from __future__ import annotations

import tensorflow as tf

from featviz_engine.models import PRECISIONS, Precision

BFLOAT16_COMPUTE_CAPABILITY = (8, 0)
"""NVIDIA GPUs compute in bfloat16 from Ampere (compute capability 8.0) on; TensorFlow's mixed
precision guide names those for ``mixed_bfloat16``, and older GPUs lack its kernels."""


def _gpus() -> list[tf.config.PhysicalDevice]:
    return list(tf.config.list_physical_devices("GPU"))


def gpu_count() -> int:
    """The GPUs TensorFlow sees; with one or more it places the networks there."""
    return len(_gpus())


def supported_precisions() -> tuple[Precision, ...]:
    """The precisions networks run in here: every one on a CPU (TensorFlow's CPU kernels cover
    bfloat16 and float16, if slowly); on GPUs bfloat16 only when every GPU computes in it."""
    gpus = _gpus()
    if not gpus:
        return PRECISIONS

    def computes_bfloat16(gpu: tf.config.PhysicalDevice) -> bool:
        details = tf.config.experimental.get_device_details(gpu)
        return tuple(details.get("compute_capability", (0, 0))) >= BFLOAT16_COMPUTE_CAPABILITY

    if all(computes_bfloat16(gpu) for gpu in gpus):
        return PRECISIONS
    return tuple(precision for precision in PRECISIONS if precision != "bfloat16")
