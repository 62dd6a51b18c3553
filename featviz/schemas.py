"""What clients send (job specs) and what the service keeps (job records), as pydantic models.

Specs are validated completely here, against the static model catalog, so a bad request is
refused by the API before anything is recorded or enqueued; each error names its field.

A spec may also name a model a key uploaded (an id such as ``mdl_...``). Validated without
context, such an id passes and the checks that need its layers are skipped; the API then
validates the spec again with the owner's ready model in the validation context
(``{UPLOADED_MODELS: {id: CatalogModel}}``), where layers, filters and image sizes are checked
as for a catalog model and an id missing from the context is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from featviz.catalog import CatalogLayer, CatalogModel, is_uploaded_model_id, load_catalog

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

IMAGENET_CLASSES = 1000
"""Classes of every catalog model's head (the ``filter`` of a ``class_logit`` objective)."""
MAX_OBJECTIVE_TERMS = 4
# The engine's defaults (featviz_engine.spec.RenderSpec.resolved), repeated so that the API
# needs no TensorFlow; tests/test_service_methods.py keeps the two in step.
DEFAULT_LEARNING_RATES = {"normalized_gradient": 2.0, "adam": 0.05}
SPECTRAL_NORMALIZED_GRADIENT_RATE = 1.0
SEED_TV_WEIGHT = 0.0005

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
TVWeight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FilterIndex = Annotated[int, Field(ge=0, le=1_000_000)]

UPLOADED_MODELS = "uploaded_models"
"""The validation-context key of the uploaded models a spec may name, by id."""


def _uploaded_models(info: ValidationInfo) -> dict[str, CatalogModel] | None:
    """The uploaded models of the context, or None when validating without one."""
    context = info.context
    if not isinstance(context, dict) or UPLOADED_MODELS not in context:
        return None
    models: dict[str, CatalogModel] = context[UPLOADED_MODELS]
    return models


def _model_of(name: str, info: ValidationInfo) -> CatalogModel | None:
    """The catalog entry of a model name: a built-in one, or an uploaded one of the context."""
    return load_catalog().models.get(name) or (_uploaded_models(info) or {}).get(name)


def _layer_of(info: ValidationInfo) -> CatalogLayer | None:
    """The catalog layer the already-validated ``model`` and ``layer`` fields name, if valid."""
    model = _model_of(info.data.get("model", ""), info)
    layer_name = info.data.get("layer")
    if model is None or layer_name is None:
        return None
    return model.layer(layer_name)


def _uses_class_logits(info: ValidationInfo) -> bool:
    terms = info.data.get("objective") or []
    return any(term.kind == "class_logit" for term in terms)


def _check_filters_exist(filters: list[int], info: ValidationInfo) -> None:
    if _uses_class_logits(info):
        too_large = sorted({f for f in filters if f >= IMAGENET_CLASSES})
        if too_large:
            raise ValueError(
                f"class_logit targets a class: 0..{IMAGENET_CLASSES - 1}; got {too_large[:10]}"
            )
        return
    layer = _layer_of(info)
    if layer is None:
        return
    too_large = sorted({f for f in filters if f >= layer.channels})
    if too_large:
        raise ValueError(
            f"layer {layer.name!r} has {layer.channels} channels (0..{layer.channels - 1}); "
            f"got {too_large[:10]}"
        )


class ObjectiveTerm(BaseModel):
    """One term of the objective: what to maximise, and its weight in the sum."""

    model_config = ConfigDict(strict=True, extra="forbid")

    kind: Literal["channel", "neuron", "class_logit"] = Field(
        description="channel: the seed's mean activation of the filter (border excluded); "
        "neuron: the filter at the map's centre; class_logit: the logit of class `filter` "
        "(models with their head, at their input size)"
    )
    weight: FiniteFloat = 1.0


def _pixel_only(value: float | int | None, name: str, info: ValidationInfo) -> None:
    parameterization = info.data.get("parameterization", "pixel")
    if value and parameterization != "pixel":
        raise ValueError(f"{name} acts on pixel images; use 0 with {parameterization}")


class RenderParams(BaseModel):
    """How to optimise: what every kind of job shares. Defaults are the seed notebook's."""

    model_config = ConfigDict(strict=True, extra="forbid", protected_namespaces=())

    model: str = Field(
        default="resnet50v2", description="a catalog model name, or the id of an uploaded model"
    )
    weights: Literal["imagenet", "random"] = Field(
        default="imagenet", description="ignored for uploaded models: they bring their own"
    )
    layer: str = Field(default="conv5_block1_out", min_length=1, max_length=200)
    iterations: int = Field(default=2001, ge=1, le=MAX_ITERATIONS)
    snapshots: list[Annotated[int, Field(ge=0)]] = Field(
        default=list(SEED_SNAPSHOTS),
        max_length=MAX_SNAPSHOTS,
        description="iterations (counted from 0) at which to save an image; each < iterations",
    )
    learning_rate: FiniteFloat | None = Field(
        default=None,
        gt=0,
        le=1e6,
        description="null: the optimizer's default (2.0 for normalized_gradient, the seed's; "
        "0.05 for adam)",
    )
    tv_start: int = Field(default=50, ge=0, le=MAX_ITERATIONS, description="first denoised step")
    tv_mode: Literal["seed", "per_channel"] = Field(
        default="seed",
        description="seed: TV over the whole (1,H,W,3) array, as the seed notebook; "
        "per_channel: each colour channel on its own",
    )
    precision: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", description="the network's precision; the image stays float32"
    )
    objective: list[ObjectiveTerm] = Field(
        default_factory=lambda: [ObjectiveTerm(kind="channel")],
        min_length=1,
        max_length=MAX_OBJECTIVE_TERMS,
        description="a weighted sum of terms; the first is reported as `activation`",
    )
    direction: list[FiniteFloat] | None = Field(
        default=None,
        max_length=8192,
        description="maximise the activations projected on this vector (one value per channel) "
        "instead of the first objective term",
    )
    diversity_weight: FiniteFloat = Field(default=0.0, ge=0, le=1e3)
    l1_weight: FiniteFloat = Field(default=0.0, ge=0, le=1e3)
    l2_weight: FiniteFloat = Field(default=0.0, ge=0, le=1e3)
    parameterization: Literal["pixel", "fourier", "magnitude_constrained"] = Field(
        default="pixel",
        description="pixel: the seed's; fourier: 1/f spectrum; "
        "magnitude_constrained: MaCo, phase only",
    )
    optimizer: Literal["normalized_gradient", "adam"] = "normalized_gradient"
    transforms: Literal["none", "standard"] = Field(
        default="none", description="standard: pad, jitter, scale, rotate at random each step"
    )
    transform_pad: int | None = Field(default=None, ge=0, le=64)
    transform_jitter: int | None = Field(default=None, ge=0, le=64)
    transform_scale: FiniteFloat | None = Field(default=None, ge=0, le=0.5)
    transform_rotate: FiniteFloat | None = Field(default=None, ge=0, le=180)
    blur_every: int = Field(default=0, ge=0, le=MAX_ITERATIONS, description="0: never")
    blur_sigma: FiniteFloat = Field(default=0.5, gt=0, le=10)
    relu_warmup: int = Field(
        default=0,
        ge=0,
        le=MAX_ITERATIONS,
        description="for the first N iterations, let gradient through ReLUs that are off, so "
        "that dead filters leave grey",
    )
    image_size: int = Field(default=224, ge=MIN_IMAGE_SIZE, le=MAX_IMAGE_SIZE)
    seed: int = Field(default=0, ge=0, le=2**32 - 1, description="same spec and seed, same images")
    time_budget_s: FiniteFloat | None = Field(
        default=None, gt=0, description="seconds before the job fails; capped by the service"
    )

    _layer: CatalogLayer | None = PrivateAttr(default=None)

    @field_validator("model")
    @classmethod
    def _model_in_catalog(cls, model: str, info: ValidationInfo) -> str:
        if _model_of(model, info) is not None:
            return model
        if is_uploaded_model_id(model) and _uploaded_models(info) is None:
            return model  # resolved against the owner's models in a second validation
        known = ", ".join(load_catalog().models)
        raise ValueError(f"unknown model {model!r}; known: {known} and this key's uploads")

    @field_validator("layer")
    @classmethod
    def _layer_in_model(cls, layer: str, info: ValidationInfo) -> str:
        model = _model_of(info.data.get("model", ""), info)
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
        model = _model_of(info.data["model"], info)
        assert model is not None, "the layer was found in it"
        if model.fixed_input_size is not None and image_size != model.fixed_input_size:
            raise ValueError(f"model {model.name!r} takes {model.fixed_input_size} px images only")
        if _uses_class_logits(info):
            if image_size != model.input_size:
                raise ValueError(
                    f"class_logit needs the model's head, which takes {model.input_size} px"
                )
            return image_size
        smallest = layer.min_image_size
        if smallest is None or image_size < smallest:
            raise ValueError(
                f"layer {layer.name!r} needs images of at least {smallest} px for an activation "
                f"map of 5x5 (its 2-pixel border is excluded); use a larger image or an earlier "
                f"layer"
            )
        return image_size

    @field_validator("objective")
    @classmethod
    def _logits_need_a_head(
        cls, objective: list[ObjectiveTerm], info: ValidationInfo
    ) -> list[ObjectiveTerm]:
        uploaded = is_uploaded_model_id(info.data.get("model", ""))
        if uploaded and any(term.kind == "class_logit" for term in objective):
            raise ValueError("class_logit needs an ImageNet head; uploaded models have none")
        return objective

    @field_validator("direction")
    @classmethod
    def _one_value_per_channel(
        cls, direction: list[float] | None, info: ValidationInfo
    ) -> list[float] | None:
        if direction is None:
            return None
        layer = _layer_of(info)
        if layer is not None and len(direction) != layer.channels:
            raise ValueError(
                f"needs one value per channel of {layer.name!r} ({layer.channels}), "
                f"got {len(direction)}"
            )
        if not any(direction):
            raise ValueError("must not be all zeros")
        return direction

    @field_validator("blur_every")
    @classmethod
    def _blur_on_pixels(cls, blur_every: int, info: ValidationInfo) -> int:
        _pixel_only(blur_every, "blurring", info)
        return blur_every

    @model_validator(mode="after")
    def _remember_layer(self, info: ValidationInfo) -> Self:
        model = _model_of(self.model, info)
        self._layer = None if model is None else model.layer(self.layer)
        return self

    @model_validator(mode="after")
    def _method_defaults(self) -> Self:
        """Fill the defaults that depend on the chosen method, so records hold real values."""
        if self.learning_rate is None:
            spectral = self.optimizer == "normalized_gradient" and self.parameterization != "pixel"
            self.learning_rate = (
                SPECTRAL_NORMALIZED_GRADIENT_RATE
                if spectral
                else DEFAULT_LEARNING_RATES[self.optimizer]
            )
        return self


class TVWeightParams(RenderParams):
    """One TV weight for every image of the job."""

    tv_weight: TVWeight | None = Field(
        default=None,
        description="null: 0.0005 (the seed's) on pixel images, else 0; 0 turns denoising off",
    )

    @field_validator("tv_weight")
    @classmethod
    def _tv_on_pixels(cls, tv_weight: float | None, info: ValidationInfo) -> float | None:
        _pixel_only(tv_weight, "TV denoising", info)
        return tv_weight

    @model_validator(mode="after")
    def _tv_default(self) -> Self:
        if self.tv_weight is None:
            self.tv_weight = SEED_TV_WEIGHT if self.parameterization == "pixel" else 0.0
        return self

    @property
    def denoising_weight(self) -> float:
        """The TV weight, resolved (validation fills the default)."""
        assert self.tv_weight is not None
        return self.tv_weight


class OneFilterParams(RenderParams):
    filter: FilterIndex = Field(default=1, description="channel index in the layer")

    @field_validator("filter")
    @classmethod
    def _filter_in_layer(cls, index: int, info: ValidationInfo) -> int:
        _check_filters_exist([index], info)
        return index


class JobSpec(OneFilterParams, TVWeightParams):
    """One filter, one TV weight: ``POST /v1/jobs``."""


class FilterRange(BaseModel):
    """Filters ``start`` (inclusive) to ``stop`` (exclusive)."""

    model_config = ConfigDict(strict=True, extra="forbid")

    start: FilterIndex
    stop: FilterIndex


class LayerJobSpec(TVWeightParams):
    """Many filters of one layer as one batch: ``POST /v1/layer-jobs``.

    Give ``filters`` (a list) or ``filter_range``, or neither for every filter of the layer.
    """

    filters: list[FilterIndex] | None = Field(
        default=None, min_length=1, max_length=MAX_LAYER_FILTERS
    )
    filter_range: FilterRange | None = None
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
        if any(term.kind == "class_logit" for term in self.objective):
            return list(range(IMAGENET_CLASSES))
        assert self._layer is not None, "validated against the model's catalog"
        return list(range(self._layer.channels))


class ComparisonSpec(OneFilterParams):
    """One filter under several TV weights, side by side: ``POST /v1/comparisons``.

    The default weights are the seed notebook's comparison: none, 0.0005 and 0.001.
    """

    tv_weights: list[TVWeight] = Field(
        default=[0.0, 0.0005, 0.001],
        min_length=1,
        max_length=MAX_TV_WEIGHTS,
        validate_default=True,  # TV weights need pixel images, defaults included
    )

    @field_validator("tv_weights")
    @classmethod
    def _distinct_weights(cls, weights: list[float], info: ValidationInfo) -> list[float]:
        # Each weight is a column of the grid, and names its images.
        if len(set(weights)) != len(weights):
            raise ValueError("TV weights must be distinct")
        _pixel_only(max(weights), "TV denoising", info)
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
