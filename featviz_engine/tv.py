"""Total-variation denoising (Chambolle) on the TensorFlow graph.

A batched port of scikit-image's ``denoise_tv_chambolle``: the same dual update, the same
stopping rule (``|E_prev - E| < eps * E_0``, at most ``max_num_iter`` iterations), evaluated
independently for every image of a batch, so image ``i`` of a batch gets exactly what
scikit-image gives it alone. Nothing leaves the graph, so the ascent loop never round-trips
through numpy.

Two implementations compute it: ``graph``, TensorFlow ops that XLA compiles (on accelerators),
and ``kernel``, one compiled CPU op (``tv_native``) that is several times faster than the graph
on a CPU. Both give scikit-image's result; ``default_implementation`` picks one per process.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial
from typing import Literal

import tensorflow as tf

from featviz_engine import tv_native

TVMode = Literal["seed", "per_channel"]
TV_MODES: tuple[TVMode, ...] = ("seed", "per_channel")
Implementation = Literal["graph", "kernel"]

DEFAULT_EPS = 2.0e-4
DEFAULT_MAX_NUM_ITER = 200


def _slice_along(x: tf.Tensor, axis: int, start: int | None, stop: int | None) -> tf.Tensor:
    index = [slice(None)] * 4
    index[axis] = slice(start, stop)
    return x[tuple(index)]


def _pad_along(x: tf.Tensor, axis: int, before: int, after: int) -> tf.Tensor:
    paddings = [[0, 0]] * 4
    paddings[axis] = [before, after]
    return tf.pad(x, paddings)


def _forward_difference(x: tf.Tensor, axis: int) -> tf.Tensor:
    """``np.diff`` along ``axis``, zero-padded at the end to keep the shape."""
    difference = _slice_along(x, axis, 1, None) - _slice_along(x, axis, None, -1)
    return _pad_along(difference, axis, before=0, after=1)


def _shift_forward(x: tf.Tensor, axis: int) -> tf.Tensor:
    """``y[1:] = x[:-1]`` along ``axis`` with ``y[0] = 0``."""
    return _pad_along(_slice_along(x, axis, None, -1), axis, before=1, after=0)


def _chambolle_units(
    images: tf.Tensor,
    weights: tf.Tensor,
    axes: tuple[int, ...],
    ndim: int,
    eps: float,
    max_num_iter: int,
) -> tf.Tensor:
    """Denoise each unit (leading axis) of a 4-D float32 tensor on its own.

    ``axes`` are the axes along which total variation is measured; ``ndim`` is the number of
    dimensions scikit-image would see for one unit, which fixes its step ``tau = 1 / (2 ndim)``.
    """
    tau = 1.0 / (2.0 * ndim)
    unit_size = tf.cast(tf.reduce_prod(tf.shape(images)[1:]), tf.float32)
    broadcast_weights = tf.reshape(weights, [-1, 1, 1, 1])
    units = tf.shape(images)[0]

    def divergence_term(p: tuple[tf.Tensor, ...]) -> tf.Tensor:
        d = -tf.add_n(list(p)) if len(p) > 1 else -p[0]
        for component, axis in zip(p, axes, strict=True):
            d = d + _shift_forward(component, axis)
        return d

    def body(
        i: tf.Tensor,
        p: tuple[tf.Tensor, ...],
        result: tf.Tensor,
        active: tf.Tensor,
        energy_init: tf.Tensor,
        energy_prev: tf.Tensor,
    ) -> tuple[tf.Tensor, tuple[tf.Tensor, ...], tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        d = divergence_term(p)
        out = images + d
        g = tuple(_forward_difference(out, axis) for axis in axes)
        norm = tf.sqrt(tf.add_n([tf.square(component) for component in g]))
        energy = tf.reduce_sum(tf.square(d), axis=[1, 2, 3]) + weights * tf.reduce_sum(
            norm, axis=[1, 2, 3]
        )
        energy = energy / unit_size
        first = tf.equal(i, 0)
        energy_init = tf.where(first, energy, energy_init)
        converged = tf.logical_and(
            tf.logical_not(first), tf.abs(energy_prev - energy) < eps * energy_init
        )
        result = tf.where(tf.reshape(active, [-1, 1, 1, 1]), out, result)
        active = tf.logical_and(active, tf.logical_not(converged))
        energy_prev = tf.where(active, energy, energy_prev)
        scale = 1.0 + norm * (tau / broadcast_weights)
        p = tuple(
            (component - tau * gradient) / scale for component, gradient in zip(p, g, strict=True)
        )
        return i + 1, p, result, active, energy_init, energy_prev

    def cond(i: tf.Tensor, p: object, result: object, active: tf.Tensor, *_: object) -> tf.Tensor:
        return tf.logical_and(i < max_num_iter, tf.reduce_any(active))

    zeros = tf.zeros_like(images)
    energy_zeros = tf.zeros([units], tf.float32)
    _, _, result, _, _, _ = tf.while_loop(
        cond,
        body,
        (
            tf.constant(0),
            tuple(zeros for _ in axes),
            images,
            tf.ones([units], tf.bool),
            energy_zeros,
            energy_zeros,
        ),
    )
    return result


def _kernel_units(
    images: tf.Tensor,
    weights: tf.Tensor,
    axes: tuple[int, ...],
    ndim: int,
    eps: float,
    max_num_iter: int,
) -> tf.Tensor:
    """``_chambolle_units`` by the compiled kernel. The kernel measures variation along axes 1,
    2 and 3 of its units; the per-channel planes' axis 3 has size 1 and contributes nothing, so
    ``axes`` needs no passing on."""
    library = tv_native.load()
    if library is None:
        raise tv_native.KernelUnavailableError(
            "the TV kernel could not be built here (see the log)"
        )
    denoised: tf.Tensor = library.featviz_chambolle(
        images, weights, ndim=ndim, eps=eps, max_num_iter=max_num_iter
    )
    return denoised


UNITS: dict[Implementation, Callable[..., tf.Tensor]] = {
    "graph": _chambolle_units,
    "kernel": _kernel_units,
}


@cache
def default_implementation() -> Implementation:
    """``kernel`` where TensorFlow computes on the CPU and the kernel loads, else ``graph``
    (on a GPU the graph stays on the device; the kernel would copy every image to the host)."""
    if tf.config.list_physical_devices("GPU") or tv_native.load() is None:
        return "graph"
    return "kernel"


def traced_denoiser() -> Callable[..., tf.Tensor]:
    """``denoise_tv_chambolle`` traced with this process's implementation: XLA fuses the graph
    version's many elementwise ops, and cannot compile the kernel (one op of its own)."""
    implementation = default_implementation()
    traced: Callable[..., tf.Tensor] = tf.function(
        partial(denoise_tv_chambolle, implementation=implementation),
        jit_compile=implementation == "graph",
    )
    return traced


def denoise_tv_chambolle(
    images: tf.Tensor,
    weights: tf.Tensor,
    mode: TVMode = "seed",
    eps: float = DEFAULT_EPS,
    max_num_iter: int = DEFAULT_MAX_NUM_ITER,
    implementation: Implementation | None = None,
) -> tf.Tensor:
    """Chambolle TV denoising of a batch of images, one weight per image.

    Parameters
    ----------
    images
        ``(B, H, W, C)`` float32.
    weights
        ``(B,)`` float32 denoising weights; a weight of 0 leaves its image unchanged.
    mode
        ``seed``: image ``i`` is denoised as scikit-image denoises the seed's ``(1, H, W, C)``
        array with ``channel_axis=None`` (variation across height, width *and* colour, with that
        4-D array's step size). ``per_channel``: as ``denoise_tv_chambolle(images[i],
        channel_axis=-1)``, each colour channel a 2-D image with its own stopping rule.
    eps, max_num_iter
        scikit-image's stopping rule.
    implementation
        ``graph`` or ``kernel``; None: ``default_implementation()``.

    Returns
    -------
    tf.Tensor
        The denoised ``(B, H, W, C)`` batch.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    weights = tf.convert_to_tensor(weights, tf.float32)
    enabled = weights > 0
    # A zero weight would divide by zero in the dual update; such images are passed through.
    safe_weights = tf.where(enabled, weights, tf.ones_like(weights))
    units = UNITS[implementation or default_implementation()]
    if mode == "seed":
        denoised = units(images, safe_weights, (1, 2, 3), 4, eps, max_num_iter)
    elif mode == "per_channel":
        shape = tf.shape(images)
        channels = shape[3]
        planes = tf.reshape(
            tf.transpose(images, [0, 3, 1, 2]), [shape[0] * channels, shape[1], shape[2], 1]
        )
        plane_weights = tf.repeat(safe_weights, channels)
        denoised_planes = units(planes, plane_weights, (1, 2), 2, eps, max_num_iter)
        denoised = tf.transpose(
            tf.reshape(denoised_planes, [shape[0], channels, shape[1], shape[2]]), [0, 2, 3, 1]
        )
    else:
        raise ValueError(f"tv_mode must be one of {TV_MODES}, got {mode!r}")
    return tf.where(tf.reshape(enabled, [-1, 1, 1, 1]), denoised, images)
