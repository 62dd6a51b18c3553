"""What the service answers, as the SDK's own typed models (it never imports server code).

The models ignore fields they do not know, so a newer service does not break an older SDK.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["queued", "running", "succeeded", "failed", "canceled"]
JobKind = Literal["job", "layer_job", "comparison", "exemplar_job"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "canceled"})


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", protected_namespaces=())


class FieldProblem(_Answer):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(_Answer):
    """RFC 9457 problem details: why a request or a job failed."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldProblem] | None = None


class Progress(_Answer):
    iteration: int = 0
    total: int = 0

    @property
    def fraction(self) -> float:
        """Iterations done, from 0 to 1."""
        return self.iteration / self.total if self.total else 0.0


class Worker(_Answer):
    """The process running a job."""

    host: str
    pid: int


class Metrics(_Answer):
    """How an image scores: the filter's mean activation, of the optimised image and of the
    picture as displayed, and how smooth the picture is."""

    activation: float
    displayed_activation: float | None = Field(
        default=None,
        description="the activation of the PNG as displayed; None from a service that does not "
        "measure it",
    )
    total_variation: float
    high_frequency_fraction: float

    def describe(self) -> str:
        """One line for people: ``activation 12.3 (as displayed 11.9)  hf 0.123``."""
        shown = ""
        if self.displayed_activation is not None:
            shown = f" (as displayed {self.displayed_activation:.4g})"
        return f"activation {self.activation:.4g}{shown}  hf {self.high_frequency_fraction:.3f}"


class Image(Metrics):
    """A snapshot or final image of a job, with its metrics, its path in the job's folder and
    an expiring download link; a final image also says whether its start image was dead."""

    filter: int
    tv_weight: float
    iteration: int
    path: str = Field(description="in the job's folder, e.g. filter_0003/iter_0005.png")
    url: str
    dead_at_start: bool | None = Field(
        default=None,
        description="final images: the start image gave the filter nothing to climb",
    )
    came_alive_at: int | None = Field(
        default=None, description="the iteration from which such an image took ordinary steps"
    )

    @property
    def metrics(self) -> Metrics:
        return Metrics.model_validate(self.model_dump(include=set(Metrics.model_fields)))

    @property
    def never_alive(self) -> bool:
        """Dead at the start image and still dead at the end: a tile with nothing to show."""
        return bool(self.dead_at_start) and self.came_alive_at is None

    @property
    def start_note(self) -> str | None:
        """How a dead start went, for people; None when the start was alive (or unknown)."""
        if not self.dead_at_start:
            return None
        if self.came_alive_at is None:
            return "dead at the start image; never came alive"
        return f"dead at the start image; came alive at iteration {self.came_alive_at}"


class Counts(_Answer):
    """Filters of a layer job (images of an exemplar job) by outcome."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0


class JobRecord(_Answer):
    """A job, a layer job or a comparison, as ``GET /v1/jobs/{id}`` answers."""

    id: str
    kind: JobKind
    status: Status
    spec: dict[str, Any]
    progress: Progress = Field(default_factory=Progress)
    attempts: int = 0
    worker: Worker | None = None
    error: Problem | None = None
    cancel_requested: bool = False
    waiting_for: Literal["worker"] | None = Field(
        default=None,
        description="worker: no worker was alive when it was submitted; None once one takes it",
    )
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    snapshots: list[Image] = Field(default_factory=list)
    finals: list[Image] = Field(default_factory=list)
    files: dict[str, str] = Field(
        default_factory=dict, description="path in the job's folder -> download link"
    )
    counts: Counts | None = None

    @property
    def done(self) -> bool:
        """Whether the job has finished, one way or another."""
        return self.status in TERMINAL_STATUSES


class JobPage(_Answer):
    items: list[JobRecord]
    next_cursor: str | None = None


ModelStatus = Literal["validating", "ready", "rejected"]
InputRange = Literal["[0,1]", "[-1,1]", "[0,255]", "caffe", "torch", "tf"]
INPUT_RANGES: tuple[InputRange, ...] = ("[0,1]", "[-1,1]", "[0,255]", "caffe", "torch", "tf")


class ModelSummary(_Answer):
    """A model jobs can name (a catalog network or one of the key's uploads), without layers."""

    id: str = Field(description="what a job's `model` names")
    name: str
    kind: Literal["builtin", "uploaded"] = "builtin"
    status: ModelStatus = "ready"
    input_size: int | None
    min_input_size: int | None
    preprocessing: str
    layer_count: int


class Layer(_Answer):
    """A layer that can be visualised."""

    name: str
    channels: int
    min_image_size: int | None = Field(
        description="smallest image size (px) the layer accepts; None when no size is enough"
    )


class Upload(_Answer):
    """Something the key uploaded: ``validating``, then ``ready`` or ``rejected`` with the
    reason."""

    id: str
    name: str
    status: ModelStatus
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    reason: str | None = None

    @property
    def done(self) -> bool:
        """Whether validation is over (ready or rejected)."""
        return self.status != "validating"


class UploadedModel(Upload):
    """A model the key uploaded, with its layers once ``ready``; jobs name it by ``id``."""

    input_range: InputRange
    input_size: int | None = None
    min_input_size: int | None = None
    layers: list[Layer] = Field(default_factory=list)


class Dataset(Upload):
    """A zip of images the key uploaded, or an operator's dataset (``shared``), with its image
    count once ``ready``; exemplar jobs name it by ``id``."""

    image_count: int | None = None
    shared: bool = False


class Model(_Answer):
    """A network of the catalog with its layers."""

    name: str
    input_size: int
    min_input_size: int
    preprocessing: str
    layers: list[Layer]

    def layer(self, name: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.name == name), None)
