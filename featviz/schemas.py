"""What clients send (job specs) and what the service keeps (job records), as pydantic models.

Specs are validated completely here, against the static model catalog, so a bad request is
refused by the API before anything is recorded or enqueued; each error names its field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from featviz.catalog import CatalogLayer, load_catalog

Status = Literal["queued", "running", "succeeded", "failed", "canceled"]
STATUSES: tuple[Status, ...] = ("queued", "running", "succeeded", "failed", "canceled")
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})

JobKind = Literal["job", "layer_job", "comparison", "pack"]
"""A ``pack`` is the part of a layer job that one task optimises together; it is internal."""

# The seed notebook's snapshot iterations (featviz_engine.spec.SEED_SNAPSHOTS, repeated here so
# that the API never imports the engine and with it TensorFlow).
SEED_SNAPSHOTS = (5, 10, 50, 100, 200, 500, 750, 1000, 1500, 2000)
MAX_ITERATIONS = 10_000
MAX_SNAPSHOTS = 50
MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 512
MAX_PACK_SIZE = 64
MAX_LAYER_FILTERS = 4096
MAX_TV_WEIGHTS = 16

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
TVWeight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FilterIndex = Annotated[int, Field(ge=0, le=1_000_000)]


def _layer_of(info: ValidationInfo) -> CatalogLayer | None:
    """The catalog layer the already-validated ``model`` and ``layer`` fields name, if valid."""
    model = load_catalog().models.get(info.data.get("model", ""))
    layer_name = info.data.get("layer")
    if model is None or layer_name is None:
        return None
    return model.layer(layer_name)


def _check_filters_exist(filters: list[int], info: ValidationInfo) -> None:
    layer = _layer_of(info)
    if layer is None:
        return
    too_large = sorted({f for f in filters if f >= layer.channels})
    if too_large:
        raise ValueError(
            f"layer {layer.name!r} has {layer.channels} channels (0..{layer.channels - 1}); "
            f"got {too_large[:10]}"
        )


class RenderParams(BaseModel):
    """How to optimise: what every kind of job shares. Defaults are the seed notebook's."""

    model_config = ConfigDict(strict=True, extra="forbid", protected_namespaces=())

    model: str = Field(default="resnet50v2", description="a catalog model name")
    weights: Literal["imagenet", "random"] = "imagenet"
    layer: str = Field(default="conv5_block1_out", min_length=1, max_length=200)
    iterations: int = Field(default=2001, ge=1, le=MAX_ITERATIONS)
    snapshots: list[Annotated[int, Field(ge=0)]] = Field(
        default=list(SEED_SNAPSHOTS),
        max_length=MAX_SNAPSHOTS,
        description="iterations (counted from 0) at which to save an image; each < iterations",
    )
    learning_rate: FiniteFloat = Field(default=2.0, gt=0, le=1e6)
    tv_start: int = Field(default=50, ge=0, le=MAX_ITERATIONS, description="first denoised step")
    tv_mode: Literal["seed", "per_channel"] = Field(
        default="seed",
        description="seed: TV over the whole (1,H,W,3) array, as the seed notebook; "
        "per_channel: each colour channel on its own",
    )
    image_size: int = Field(default=224, ge=MIN_IMAGE_SIZE, le=MAX_IMAGE_SIZE)
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="same spec and seed, same images")
    time_budget_s: FiniteFloat | None = Field(
        default=None, gt=0, description="seconds before the job fails; capped by the service"
    )

    @field_validator("model")
    @classmethod
    def _model_in_catalog(cls, model: str) -> str:
        models = load_catalog().models
        if model not in models:
            raise ValueError(f"unknown model {model!r}; known: {', '.join(models)}")
        return model

    @field_validator("layer")
    @classmethod
    def _layer_in_model(cls, layer: str, info: ValidationInfo) -> str:
        model = load_catalog().models.get(info.data.get("model", ""))
        if model is not None and model.layer(layer) is None:
            raise ValueError(f"model {model.name!r} has no layer {layer!r}; see /v1/models")
        return layer

    @field_validator("snapshots")
    @classmethod
    def _snapshots_before_end(cls, snapshots: list[int], info: ValidationInfo) -> list[int]:
        iterations = info.data.get("iterations")
        if iterations is not None and any(s >= iterations for s in snapshots):
            raise ValueError(
                f"every snapshot must be < iterations ({iterations}); iterations count from 0"
            )
        return sorted(set(snapshots))

    @field_validator("image_size")
    @classmethod
    def _image_large_enough(cls, image_size: int, info: ValidationInfo) -> int:
        layer = _layer_of(info)
        if layer is None:
            return image_size
        smallest = layer.min_image_size
        if smallest is None or image_size < smallest:
            raise ValueError(
                f"layer {layer.name!r} needs images of at least {smallest} px for an activation "
                f"map of 5x5 (its 2-pixel border is excluded); use a larger image or an earlier "
                f"layer"
            )
        return image_size


class OneFilterParams(RenderParams):
    filter: FilterIndex = Field(default=1, description="channel index in the layer")

    @field_validator("filter")
    @classmethod
    def _filter_in_layer(cls, index: int, info: ValidationInfo) -> int:
        _check_filters_exist([index], info)
        return index


class JobSpec(OneFilterParams):
    """One filter, one TV weight: ``POST /v1/jobs``."""

    tv_weight: TVWeight = Field(default=0.0005, description="0 turns denoising off")


class FilterRange(BaseModel):
    """Filters ``start`` (inclusive) to ``stop`` (exclusive)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    start: FilterIndex
    stop: FilterIndex


class LayerJobSpec(RenderParams):
    """Many filters of one layer as one batch: ``POST /v1/layer-jobs``.

    Give ``filters`` (a list) or ``filter_range``, or neither for every filter of the layer.
    """

    filters: list[FilterIndex] | None = Field(
        default=None, min_length=1, max_length=MAX_LAYER_FILTERS
    )
    filter_range: FilterRange | None = None
    tv_weight: TVWeight = 0.0005
    pack_size: int | None = Field(
        default=None, ge=1, le=MAX_PACK_SIZE, description="filters optimised together"
    )

    @field_validator("filters")
    @classmethod
    def _filters_in_layer(cls, filters: list[int] | None, info: ValidationInfo) -> list[int] | None:
        if filters is None:
            return None
        if len(set(filters)) != len(filters):
            raise ValueError("filter indices must be unique")
        _check_filters_exist(filters, info)
        return filters

    @field_validator("filter_range")
    @classmethod
    def _range_in_layer(cls, span: FilterRange | None, info: ValidationInfo) -> FilterRange | None:
        if span is None:
            return None
        if info.data.get("filters") is not None:
            raise ValueError("give either filters or filter_range, not both")
        if span.stop <= span.start:
            raise ValueError("stop must be greater than start")
        if span.stop - span.start > MAX_LAYER_FILTERS:
            raise ValueError(f"at most {MAX_LAYER_FILTERS} filters per layer job")
        _check_filters_exist([span.stop - 1], info)
        return span

    def chosen_filters(self) -> list[int]:
        """The filter indices this job visualises."""
        if self.filters is not None:
            return list(self.filters)
        if self.filter_range is not None:
            return list(range(self.filter_range.start, self.filter_range.stop))
        layer = load_catalog().models[self.model].layer(self.layer)
        assert layer is not None, "validated against the catalog"
        return list(range(layer.channels))


class ComparisonSpec(OneFilterParams):
    """One filter under several TV weights, side by side: ``POST /v1/comparisons``.

    The default weights are the seed notebook's comparison: none, 0.0005 and 0.001.
    """

    tv_weights: list[TVWeight] = Field(
        default=[0.0, 0.0005, 0.001], min_length=1, max_length=MAX_TV_WEIGHTS
    )

    @field_validator("tv_weights")
    @classmethod
    def _distinct_weights(cls, weights: list[float]) -> list[float]:
        # Each weight is a column of the grid, and names its images.
        if len(set(weights)) != len(weights):
            raise ValueError("TV weights must be distinct")
        return weights


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="dotted path of the field, e.g. snapshots.3")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with the invalid fields of a 422."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class Progress(BaseModel):
    iteration: int = Field(default=0, description="iterations done")
    total: int = Field(default=0, description="iterations in all")


class WorkerInfo(BaseModel):
    """The process running a job."""

    host: str
    pid: int


class ImageEntry(BaseModel):
    """One stored image of a job and its metrics."""

    filter: int
    tv_weight: float
    iteration: int
    key: str = Field(description="storage key")
    activation: float
    total_variation: float
    high_frequency_fraction: float


class Counts(BaseModel):
    """Filters of a layer job by outcome."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0


class JobRecord(BaseModel):
    """A job as the store keeps it: the source of truth for its status."""

    id: str
    kind: JobKind
    owner: str
    status: Status
    spec: dict[str, Any]
    parent: str | None = None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    progress: Progress = Field(default_factory=Progress)
    attempts: int = 0
    worker: WorkerInfo | None = None
    heartbeat_at: datetime | None = None
    error: Problem | None = None
    cancel_requested: bool = False
    snapshots: list[ImageEntry] = Field(default_factory=list)
    finals: list[ImageEntry] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict, description="name -> storage key")
    counts: Counts | None = None
