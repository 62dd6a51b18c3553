"""What clients send: the job specs, as pydantic models whose fields come from featviz.fields.

Specs are validated completely here, against the static model catalog, so a bad request is
refused by the API before anything is recorded or enqueued; each error names its field.

A spec may also name a model a key uploaded (an id such as ``mdl_...``). Validated without
context, such an id passes and the checks that need its layers are skipped; the API then
validates the spec again with the owner's ready model in the validation context
(``{UPLOADED_MODELS: {id: CatalogModel}}``), where layers, filters and image sizes are checked
as for a catalog model and an id missing from the context is refused.
"""

from __future__ import annotations

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
from featviz.datasets import is_dataset_id, start_image_parts
from featviz.events import EventType
from featviz.fields import (
    MAX_FILTER_INDEX,
    MAX_LAYER_FILTERS,
    JobField,
    JobFields,
    default_learning_rate,
    default_tv_weight,
    late_snapshots,
    pixel_only,
    preset_values,
)
from featviz.presets import DeadStart, PresetName
from featviz.webhook_urls import RefusedURLError, parts

IMAGENET_CLASSES = 1000
"""Classes of every catalog model's head (the ``filter`` of a ``class_logit`` objective)."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
TVWeight = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FilterIndex = Annotated[int, Field(ge=0, le=MAX_FILTER_INDEX)]

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


def _from_table(job_field: JobField) -> Any:
    """The pydantic field of an entry of the table: default, bounds, description, form hints."""
    return Field(**job_field.pydantic_kwargs())


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
        raise ValueError(pixel_only(name, parameterization))


class ModelLayerParams(BaseModel):
    """A layer of a model: what optimising and searching a dataset both name."""

    model_config = ConfigDict(strict=True, extra="forbid", protected_namespaces=())

    model: str = _from_table(JobFields.model)
    weights: Literal["imagenet", "random", "hed-bsds500"] = _from_table(JobFields.weights)
    layer: str = _from_table(JobFields.layer)

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

    @field_validator("weights")
    @classmethod
    def _weights_of_model(cls, weights: str, info: ValidationInfo) -> str:
        model = load_catalog().models.get(info.data.get("model", ""))
        if model is not None and weights not in model.weights:
            raise ValueError(f"model {model.name!r} has weights {', '.join(model.weights)}")
        return weights

    @field_validator("layer")
    @classmethod
    def _layer_in_model(cls, layer: str, info: ValidationInfo) -> str:
        model = _model_of(info.data.get("model", ""), info)
        if model is not None and model.layer(layer) is None:
            raise ValueError(f"model {model.name!r} has no layer {layer!r}; see /v1/models")
        return layer

    @model_validator(mode="after")
    def _remember_layer(self, info: ValidationInfo) -> Self:
        model = _model_of(self.model, info)
        self._layer = None if model is None else model.layer(self.layer)
        return self

    def layer_channels(self) -> list[int]:
        """Every filter of the layer."""
        assert self._layer is not None, "validated against the model's catalog"
        return list(range(self._layer.channels))


def _checked_image_size(image_size: int, info: ValidationInfo) -> int:
    """An image size the model takes and at which the layer's map is large enough."""
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


def _unique_filters(filters: list[int] | None, info: ValidationInfo) -> list[int] | None:
    if filters is None:
        return None
    if len(set(filters)) != len(filters):
        raise ValueError("filter indices must be unique")
    _check_filters_exist(filters, info)
    return filters


class RenderParams(ModelLayerParams):
    """How to optimise: what every kind of job shares. Defaults are the seed notebook's."""

    preset: PresetName = _from_table(JobFields.preset)
    iterations: int = _from_table(JobFields.iterations)
    snapshots: list[Annotated[int, Field(ge=0)]] = _from_table(JobFields.snapshots)
    learning_rate: FiniteFloat | None = _from_table(JobFields.learning_rate)
    tv_start: int = _from_table(JobFields.tv_start)
    tv_mode: Literal["seed", "per_channel"] = _from_table(JobFields.tv_mode)
    precision: Literal["float32", "bfloat16", "float16"] = _from_table(JobFields.precision)
    objective: list[ObjectiveTerm] = _from_table(JobFields.objective)
    direction: list[FiniteFloat] | None = _from_table(JobFields.direction)
    diversity_weight: FiniteFloat = _from_table(JobFields.diversity_weight)
    l1_weight: FiniteFloat = _from_table(JobFields.l1_weight)
    l2_weight: FiniteFloat = _from_table(JobFields.l2_weight)
    start_image: str | None = _from_table(JobFields.start_image)
    start_image_weight: FiniteFloat = _from_table(JobFields.start_image_weight)
    parameterization: Literal["pixel", "fourier", "magnitude_constrained"] = _from_table(
        JobFields.parameterization
    )
    spectrum_decay: FiniteFloat = _from_table(JobFields.spectrum_decay)
    optimizer: Literal["normalized_gradient", "adam"] = _from_table(JobFields.optimizer)
    transforms: Literal["none", "standard"] = _from_table(JobFields.transforms)
    transform_pad: int | None = _from_table(JobFields.transform_pad)
    transform_jitter: int | None = _from_table(JobFields.transform_jitter)
    transform_scale: FiniteFloat | None = _from_table(JobFields.transform_scale)
    transform_rotate: FiniteFloat | None = _from_table(JobFields.transform_rotate)
    blur_every: int = _from_table(JobFields.blur_every)
    blur_sigma: FiniteFloat = _from_table(JobFields.blur_sigma)
    relu_warmup: int = _from_table(JobFields.relu_warmup)
    dead_start: DeadStart = _from_table(JobFields.dead_start)
    image_size: int = _from_table(JobFields.image_size)
    seed: int = _from_table(JobFields.seed)
    time_budget_s: FiniteFloat | None = _from_table(JobFields.time_budget_s)
    webhook: str | None = _from_table(JobFields.webhook)
    webhook_events: list[EventType] = _from_table(JobFields.webhook_events)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """A preset fills the method fields the request left unset or at their defaults (the
        engine's rule, featviz.presets), before what depends on them (TV on pixels only, the
        learning rate's default) is validated."""
        if not isinstance(data, dict) or not isinstance(data.get("preset"), str):
            return data
        return data | preset_values(data["preset"], data)

    @field_validator("snapshots")
    @classmethod
    def _snapshots_before_end(cls, snapshots: list[int], info: ValidationInfo) -> list[int]:
        iterations = info.data.get("iterations")
        if iterations is not None and any(s >= iterations for s in snapshots):
            raise ValueError(late_snapshots(iterations))
        return sorted(set(snapshots))

    @field_validator("image_size")
    @classmethod
    def _image_large_enough(cls, image_size: int, info: ValidationInfo) -> int:
        return _checked_image_size(image_size, info)

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

    @field_validator("start_image")
    @classmethod
    def _start_image_form(cls, reference: str | None) -> str | None:
        # Its form only: whether the image is there is the dataset's (api/submit.py).
        if reference is not None:
            start_image_parts(reference)
        return reference

    @field_validator("webhook")
    @classmethod
    def _webhook_url(cls, url: str | None) -> str | None:
        # Its form only: where it leads depends on the service's settings (api/submit.py).
        if url is not None:
            try:
                parts(url)
            except RefusedURLError as error:
                raise ValueError(str(error)) from None
        return url

    @field_validator("webhook_events")
    @classmethod
    def _events_once(cls, events: list[str]) -> list[str]:
        if len(set(events)) != len(events):
            raise ValueError("name each event once")
        return events

    @model_validator(mode="after")
    def _method_defaults(self) -> Self:
        """Fill the defaults that depend on the chosen method, so records hold real values."""
        if self.learning_rate is None:
            self.learning_rate = default_learning_rate(self.optimizer, self.parameterization)
        return self


class TVWeightParams(RenderParams):
    """One TV weight for every image of the job."""

    tv_weight: FiniteFloat | None = _from_table(JobFields.tv_weight)

    @field_validator("tv_weight")
    @classmethod
    def _tv_on_pixels(cls, tv_weight: float | None, info: ValidationInfo) -> float | None:
        _pixel_only(tv_weight, "TV denoising", info)
        return tv_weight

    @model_validator(mode="after")
    def _tv_default(self) -> Self:
        if self.tv_weight is None:
            self.tv_weight = default_tv_weight(self.parameterization)
        return self

    @property
    def denoising_weight(self) -> float:
        """The TV weight, resolved (validation fills the default)."""
        assert self.tv_weight is not None
        return self.tv_weight


class OneFilterParams(RenderParams):
    filter: FilterIndex = _from_table(JobFields.filter)

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

    filters: list[FilterIndex] | None = _from_table(JobFields.filters)
    filter_range: FilterRange | None = _from_table(JobFields.filter_range)
    pack_size: int | None = _from_table(JobFields.pack_size)
    exemplar_job: str | None = _from_table(JobFields.exemplar_job)

    @field_validator("filters")
    @classmethod
    def _filters_in_layer(cls, filters: list[int] | None, info: ValidationInfo) -> list[int] | None:
        return _unique_filters(filters, info)

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
        return self.layer_channels()


class ComparisonSpec(OneFilterParams):
    """One filter under several TV weights, side by side: ``POST /v1/comparisons``.

    The default weights are the seed notebook's comparison: none, 0.0005 and 0.001.
    """

    tv_weights: list[TVWeight] = _from_table(JobFields.tv_weights)

    @field_validator("tv_weights")
    @classmethod
    def _distinct_weights(cls, weights: list[float], info: ValidationInfo) -> list[float]:
        # Each weight is a column of the grid, and names its images.
        if len(set(weights)) != len(weights):
            raise ValueError("TV weights must be distinct")
        _pixel_only(max(weights), "TV denoising", info)
        return weights


class ExemplarJobSpec(ModelLayerParams):
    """The images of a dataset that excite each filter most: ``POST /v1/exemplar-jobs``.

    Every image goes through the network once; per filter the ``k`` images of the highest peak
    (the channel's spatial maximum) are kept, with the crop of the receptive field around it.
    """

    filters: list[FilterIndex] | None = _from_table(JobFields.filters)
    dataset: str | None = _from_table(JobFields.dataset)
    k: int = _from_table(JobFields.k)
    image_size: int = _from_table(JobFields.image_size)

    @field_validator("filters")
    @classmethod
    def _filters_in_layer(cls, filters: list[int] | None, info: ValidationInfo) -> list[int] | None:
        return _unique_filters(filters, info)

    @field_validator("dataset")
    @classmethod
    def _dataset_named(cls, dataset: str | None) -> str:
        if dataset is None:
            raise ValueError(
                "give the id of a dataset of this key or the operator's (GET /v1/datasets)"
            )
        if not is_dataset_id(dataset):
            raise ValueError(f"{dataset!r} is not a dataset id (dst_...)")
        return dataset

    @field_validator("image_size")
    @classmethod
    def _image_large_enough(cls, image_size: int, info: ValidationInfo) -> int:
        return _checked_image_size(image_size, info)

    def chosen_filters(self) -> list[int]:
        """The filter indices this job ranks images for."""
        return list(self.filters) if self.filters is not None else self.layer_channels()


class ImageRange(BaseModel):
    """Images ``start`` (inclusive) to ``stop`` (exclusive) of a dataset's manifest."""

    model_config = ConfigDict(strict=True, extra="forbid")

    start: int = Field(ge=0)
    stop: int = Field(ge=1)


class ShardSpec(ExemplarJobSpec):
    """One shard of an exemplar job (internal): its filters over a range of the images."""

    images: ImageRange
