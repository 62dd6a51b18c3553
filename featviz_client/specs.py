"""What a job asks for, as keyword arguments; the service validates them and fills defaults.

Unset fields take the service's defaults, which are the seed notebook's: the service's
``/openapi.json`` lists each field's default and description, and ``GET /v1/models`` the layers
and their channel counts. The service's table of fields (``featviz.fields``) is kept equal to
these TypedDicts by its tests; the SDK imports none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, TypedDict


class ObjectiveTerm(TypedDict, total=False):
    """One term of an objective: ``{"kind": "neuron", "weight": 0.5}``."""

    kind: Literal["channel", "neuron", "class_logit"]
    weight: float


class RenderParams(TypedDict, total=False):
    """How to optimise: what every kind of job shares."""

    weights: Literal["imagenet", "random", "hed-bsds500"]
    """``hed-bsds500``: a trained VGG16 (HED's conv layers) that every worker has offline."""
    preset: Literal["seed", "recommended"]
    """``recommended``: the method chosen by measurement on a trained network; ``seed``: the
    seed notebook's (the default). Fills only the method fields left unset."""
    iterations: int
    snapshots: Sequence[int]
    """Iterations (counted from 0) at which to save an image; each < ``iterations``."""
    learning_rate: float
    tv_start: int
    tv_mode: Literal["seed", "per_channel"]
    image_size: int
    seed: int
    time_budget_s: float
    precision: Literal["float32", "bfloat16", "float16"]
    """The network's precision; the image, loss and TV stay float32."""
    objective: Sequence[ObjectiveTerm]
    """A weighted sum of terms; the first is reported as ``activation``."""
    direction: Sequence[float]
    """Maximise the activations projected on this vector (one value per channel)."""
    diversity_weight: float
    l1_weight: float
    l2_weight: float
    start_image: str
    """``dst_.../image.png``: start from this dataset image instead of noise."""
    start_image_weight: float
    """The weight that keeps the images near the start image."""
    parameterization: Literal["pixel", "fourier", "magnitude_constrained"]
    spectrum_decay: float
    """A spectrum's scale falls as 1/f^decay (1: 1/f); pixel images ignore it."""
    optimizer: Literal["normalized_gradient", "adam"]
    transforms: Literal["none", "standard"]
    transform_pad: int
    transform_jitter: int
    transform_scale: float
    transform_rotate: float
    blur_every: int
    blur_sigma: float
    relu_warmup: int
    """For the first N iterations, let gradient through ReLUs that are off (dead filters)."""
    dead_start: Literal["revive", "off"]
    """``revive`` (default): images dead at the start climb the filter's pre-activation."""
    webhook: str
    """An http(s) URL the job's events are posted to, signed (``verify_webhook``)."""
    webhook_events: Sequence[
        Literal["status", "progress", "snapshot", "completed", "failed", "canceled"]
    ]
    """The events it is sent; default: completed, failed, canceled."""


class JobSpec(RenderParams, total=False):
    """One filter under one TV weight (``Client.submit``)."""

    model: str
    layer: str
    filter: int
    tv_weight: float
    """0 turns denoising off; unset: 0.0005 on pixel images (the seed's), else 0."""


class LayerParams(RenderParams, total=False):
    """The rest of a layer job (``Client.layer``)."""

    tv_weight: float
    pack_size: int
    """Filters optimised together as one batch."""
    exemplar_job: str
    """An exemplar job of the same model, weights and layer, shown beside each filter."""


class ComparisonSpec(RenderParams, total=False):
    """One filter, several TV weights (``Client.compare``)."""

    model: str
    layer: str
    filter: int


class ExemplarParams(TypedDict, total=False):
    """The rest of an exemplar job (``Client.exemplars``)."""

    weights: Literal["imagenet", "random", "hed-bsds500"]
    k: int
    """Images kept per filter (default 9)."""
    image_size: int
    """Images are cropped square and resized to it."""


def layer_job_body(
    model: str, layer: str, filters: Sequence[int] | range | None, params: LayerParams
) -> dict[str, Any]:
    """The body of ``POST /v1/layer-jobs``: a ``range`` of step 1 is sent as a filter range."""
    body: dict[str, Any] = {**params, "model": model, "layer": layer}
    if isinstance(filters, range) and filters.step == 1:
        body["filter_range"] = {"start": filters.start, "stop": filters.stop}
    elif filters is not None:
        body["filters"] = list(filters)
    return body


def comparison_body(tv_weights: Sequence[float] | None, spec: ComparisonSpec) -> dict[str, Any]:
    """The body of ``POST /v1/comparisons``; without weights, the service's (0, 5e-4, 1e-3)."""
    body: dict[str, Any] = dict(spec)
    if tv_weights is not None:
        body["tv_weights"] = list(tv_weights)
    return body


def exemplar_job_body(
    model: str, layer: str, dataset: str, filters: Sequence[int] | None, params: ExemplarParams
) -> dict[str, Any]:
    """The body of ``POST /v1/exemplar-jobs``; without filters, every filter of the layer."""
    body: dict[str, Any] = {**params, "model": model, "layer": layer, "dataset": dataset}
    if filters is not None:
        body["filters"] = list(filters)
    return body
