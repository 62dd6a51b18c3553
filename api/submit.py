"""Creating jobs: limits, what the live workers can serve, idempotency, the record, then the
queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from fastapi import Response
from pydantic import ValidationError
from redis import Redis

from api.errors import ProblemError, unavailable, validation_problem
from api.views import JobView, Linker
from featviz import capabilities
from featviz.catalog import is_uploaded_model_id
from featviz.datasets import Dataset, DatasetStore, Manifest, start_image_parts
from featviz.packing import pack_filters
from featviz.problems import invalid_field, problem
from featviz.queue import JobQueue
from featviz.records import JobKind, WaitingFor
from featviz.settings import Settings
from featviz.specs import (
    UPLOADED_MODELS,
    ExemplarJobSpec,
    ImageRange,
    LayerJobSpec,
    ModelLayerParams,
    RenderParams,
)
from featviz.storage import Storage
from featviz.store import (
    IdempotencyConflictError,
    JobStore,
    NewJob,
    QueueFullError,
    fingerprint,
    new_job_id,
    run_entries,
)
from featviz.user_models import ModelStore
from featviz.webhook_urls import RefusedURLError, allowed_addresses

Spec = TypeVar("Spec", bound=ModelLayerParams)

# A guess at when a queued job will have started; clients should back off at least this long.
QUEUE_FULL_RETRY_AFTER_S = 10

LOCATIONS: dict[JobKind, str] = {
    "job": "/v1/jobs",
    "layer_job": "/v1/layer-jobs",
    "comparison": "/v1/comparisons",
    "exemplar_job": "/v1/exemplar-jobs",
}


def resolve_uploaded_model(spec: Spec, owner: str, models: ModelStore) -> Spec:
    """Validate a spec that names an uploaded model against that model's layers.

    The body was validated without the owner's models (see ``featviz.specs``); this second
    validation gives an uploaded model the checks a catalog model had.

    Raises
    ------
    ProblemError
        422 naming the field: the model is unknown to this key, not ready, or the layer,
        filters or image size do not fit it.
    """
    if not is_uploaded_model_id(spec.model):
        return spec
    record = models.get_owned(spec.model, owner)
    if record is None:
        raise ProblemError(invalid_field("model", f"unknown model {spec.model!r}"))
    if record.status == "validating":
        message = f"model {spec.model!r} is still being validated; retry once it is ready"
        raise ProblemError(invalid_field("model", message))
    if record.status == "rejected":
        message = f"model {spec.model!r} was rejected: {record.reason}"
        raise ProblemError(invalid_field("model", message))
    context = {UPLOADED_MODELS: {record.id: record.as_catalog_model()}}
    try:
        return type(spec).model_validate(spec.model_dump(), context=context)
    except ValidationError as error:
        raise ProblemError(validation_problem(error.errors())) from None


def ready_dataset(
    dataset_id: str | None, owner: str, datasets: DatasetStore, field: str
) -> Dataset:
    """The owner's ready dataset a job's ``field`` names.

    Raises
    ------
    ProblemError
        422 naming ``field``: the dataset is unknown to this key, not ready, or rejected.
    """
    record = None if dataset_id is None else datasets.get_owned(dataset_id, owner)
    if record is None:
        raise ProblemError(invalid_field(field, f"unknown dataset {dataset_id!r}"))
    if record.status != "ready" or record.image_count is None:
        detail = record.reason or "retry once it is ready"
        message = f"dataset {record.id!r} is {record.status}: {detail}"
        raise ProblemError(invalid_field(field, message))
    return record


def ready_dataset_images(spec: ExemplarJobSpec, owner: str, datasets: DatasetStore) -> int:
    """The images of the owner's ready dataset an exemplar job names (see ``ready_dataset``)."""
    count = ready_dataset(spec.dataset, owner, datasets, "dataset").image_count
    assert count is not None, "a ready dataset has its count"
    return count


def check_start_image(
    spec: RenderParams, owner: str, datasets: DatasetStore, storage: Storage
) -> None:
    """The start image is in the manifest of one of the owner's ready datasets.

    Raises
    ------
    ProblemError
        422 naming ``start_image``: its dataset is unknown to this key or not ready, or the
        dataset has no image of that name; 503 when the manifest cannot be read.
    """
    if spec.start_image is None:
        return
    dataset_id, image_id = start_image_parts(spec.start_image)
    record = ready_dataset(dataset_id, owner, datasets, "start_image")
    try:
        manifest = Manifest.model_validate_json(storage.get(record.manifest_key))
    except Exception as error:
        detail = f"the dataset's manifest could not be read: {type(error).__name__}"
        raise unavailable("storage-unavailable", detail) from error
    if image_id not in {image.id for image in manifest.images}:
        message = f"dataset {dataset_id!r} has no image {image_id!r}"
        raise ProblemError(invalid_field("start_image", message))


def check_limits(spec: ModelLayerParams, settings: Settings) -> None:
    """The service's configurable limits, tighter than the schema's fixed bounds."""
    if isinstance(spec, ExemplarJobSpec):
        if len(spec.chosen_filters()) > settings.max_layer_filters:
            message = f"at most {settings.max_layer_filters} filters per exemplar job"
            raise ProblemError(invalid_field("filters", message))
        return
    assert isinstance(spec, RenderParams)
    if spec.iterations > settings.max_iterations:
        raise ProblemError(invalid_field("iterations", f"must be <= {settings.max_iterations}"))
    if len(spec.snapshots) > settings.max_snapshots:
        raise ProblemError(
            invalid_field("snapshots", f"at most {settings.max_snapshots} snapshots")
        )
    budget = spec.time_budget_s
    if budget is not None and budget > settings.job_time_budget_s:
        raise ProblemError(
            invalid_field("time_budget_s", f"must be <= {settings.job_time_budget_s:g}")
        )
    if isinstance(spec, LayerJobSpec) and len(spec.chosen_filters()) > settings.max_layer_filters:
        field = "filter_range" if spec.filter_range is not None else "filters"
        raise ProblemError(
            invalid_field(field, f"at most {settings.max_layer_filters} filters per layer job")
        )


def check_servable(
    spec: RenderParams, settings: Settings, redis_client: Redis[str]
) -> WaitingFor | None:
    """Refuse a spec that no live worker can serve (``featviz.capabilities``).

    Returns
    -------
    WaitingFor or None
        ``worker`` when no worker is alive at all: the job is accepted and waits for one.

    Raises
    ------
    ProblemError
        422 naming the field no live worker can serve (``weights``, ``model``, ...).
    """
    workers = capabilities.live_workers(redis_client, settings.queue)
    if not workers:
        return "worker"
    refused = capabilities.refusal(spec, workers, capabilities.storage_digest(settings))
    if refused is not None:
        raise ProblemError(refused)
    return None


def check_webhook(spec: RenderParams, settings: Settings) -> None:
    """The webhook leads only where the service allows (``featviz.webhook_urls``).

    Raises
    ------
    ProblemError
        422 naming ``webhook``.
    """
    if spec.webhook is None:
        return
    try:
        allowed_addresses(spec.webhook, settings.webhook_hosts, settings.webhook_private_networks)
    except RefusedURLError as error:
        raise ProblemError(invalid_field("webhook", str(error))) from None


def check_exemplar_job(spec: LayerJobSpec, owner: str, store: JobStore) -> None:
    """The exemplar job a layer job names is one of the owner's, on the same model, weights and
    layer: its strips are shown beside the layer's filters.

    Raises
    ------
    ProblemError
        422 naming ``exemplar_job``: unknown to this key, another kind of job, failed or
        canceled, or on another model, weights or layer.
    """
    if spec.exemplar_job is None:
        return
    record = store.get_owned(spec.exemplar_job, owner)
    if record is None or record.kind != "exemplar_job":
        message = f"unknown exemplar job {spec.exemplar_job!r}"
        raise ProblemError(invalid_field("exemplar_job", message))
    if record.status in ("failed", "canceled"):
        message = f"exemplar job {record.id!r} {record.status}: it has no exemplars to show"
        raise ProblemError(invalid_field("exemplar_job", message))
    for name in ("model", "weights", "layer"):
        if record.spec[name] != getattr(spec, name):
            message = (
                f"exemplar job {record.id!r} has {name} {record.spec[name]!r}, "
                f"this job {getattr(spec, name)!r}"
            )
            raise ProblemError(invalid_field("exemplar_job", message))


def plan_shards(spec: ExemplarJobSpec, owner: str, images: int, settings: Settings) -> list[NewJob]:
    """An exemplar job and its shards: consecutive ranges of the dataset's images. Its counts
    and progress are in images."""
    job_id = new_job_id()
    # The filters resolved here, where the (uploaded) model's layers are known: the worker
    # validates the spec again without them.
    recorded = spec.model_dump() | {"filters": spec.chosen_filters()}
    size = settings.exemplar_shard_images
    ranges = [ImageRange(start=a, stop=min(a + size, images)) for a in range(0, images, size)]
    parent = NewJob(
        job_id,
        "exemplar_job",
        owner,
        recorded,
        total_iterations=images,
        filters=images,
        packs=len(ranges),
    )
    children = [
        NewJob(
            new_job_id(),
            "shard",
            owner,
            recorded | {"images": span.model_dump()},
            parent=job_id,
            total_iterations=span.stop - span.start,
        )
        for span in ranges
    ]
    return [parent, *children]


def plan_jobs(
    kind: JobKind,
    spec: RenderParams,
    owner: str,
    settings: Settings,
    waiting_for: WaitingFor | None = None,
) -> list[NewJob]:
    """The records to create: the job, and for a layer job its packs after it."""
    job_id = new_job_id()
    webhook, events = spec.webhook, tuple(spec.webhook_events)
    if not isinstance(spec, LayerJobSpec):
        job = NewJob(
            job_id,
            kind,
            owner,
            spec.model_dump(),
            total_iterations=spec.iterations,
            waiting_for=waiting_for,
            webhook=webhook,
            webhook_events=events,
        )
        return [job]
    filters = spec.chosen_filters()
    size = spec.pack_size or settings.pack_size
    packs = pack_filters(filters, size)
    parent = NewJob(
        job_id,
        kind,
        owner,
        spec.model_dump(),
        total_iterations=len(packs) * spec.iterations,
        filters=len(filters),
        packs=len(packs),
        waiting_for=waiting_for,
        webhook=webhook,
        webhook_events=events,
    )
    children = [
        NewJob(
            new_job_id(),
            "pack",
            owner,
            spec.model_dump() | {"filters": pack, "filter_range": None},
            parent=job_id,
            total_iterations=spec.iterations,
        )
        for pack in packs
    ]
    return [parent, *children]


@dataclass(frozen=True)
class Submission:
    store: JobStore
    queue: JobQueue
    settings: Settings
    linker: Linker
    models: ModelStore
    datasets: DatasetStore
    storage: Storage

    def submit(
        self,
        kind: JobKind,
        spec: ModelLayerParams,
        owner: str,
        idempotency_key: str | None,
        response: Response,
    ) -> JobView:
        """Record and enqueue a job, or replay the job an ``Idempotency-Key`` made."""
        spec = resolve_uploaded_model(spec, owner, self.models)
        check_limits(spec, self.settings)
        if isinstance(spec, ExemplarJobSpec):
            images = ready_dataset_images(spec, owner, self.datasets)
            jobs = plan_shards(spec, owner, images, self.settings)
        else:
            assert isinstance(spec, RenderParams)
            if isinstance(spec, LayerJobSpec):
                check_exemplar_job(spec, owner, self.store)
            check_start_image(spec, owner, self.datasets, self.storage)
            try:
                waiting_for = check_servable(spec, self.settings, self.store.redis)
            except ProblemError:
                # A replay returns the job the key made, whatever the workers can serve now.
                if idempotency_key is None or not self.store.remembers_idempotency_key(
                    owner, idempotency_key
                ):
                    raise
                waiting_for = None
            check_webhook(spec, self.settings)
            jobs = plan_jobs(kind, spec, owner, self.settings, waiting_for)
        idempotency = None
        if idempotency_key is not None:
            idempotency = (idempotency_key, fingerprint({"kind": kind, "spec": spec.model_dump()}))
        try:
            job_id = self.store.create(jobs, idempotency, self.settings.max_queued_jobs_per_key)
        except IdempotencyConflictError:
            raise ProblemError(
                invalid_field("Idempotency-Key", "was used before with a different request body")
            ) from None
        except QueueFullError:
            cap = self.settings.max_queued_jobs_per_key
            detail = f"this key already has {cap} queued jobs; submit more as they start"
            raise ProblemError(
                problem(429, "too-many-queued-jobs", "Too many queued jobs", detail),
                {"Retry-After": str(QUEUE_FULL_RETRY_AFTER_S)},
            ) from None
        if job_id == jobs[0].id:
            self._dispatch(jobs, owner, idempotency_key)
        record = self.store.get(job_id)
        assert record is not None, "just created"
        response.headers["Location"] = f"{LOCATIONS[record.kind]}/{record.id}"
        return self.linker.job(record)

    def _dispatch(self, jobs: list[NewJob], owner: str, idempotency_key: str | None) -> None:
        """Send the recorded jobs' tasks; a job that cannot be queued fails at once."""
        refusal = unavailable("queue-unavailable", "could not enqueue")

        def fail_unqueued() -> None:
            self.store.transition(jobs[0].id, ["queued"], "failed", error=refusal.details)
            # A retry with the same key must make a new job, not replay this failed one.
            if idempotency_key is not None:
                self.store.forget_idempotency_key(owner, idempotency_key)

        try:
            self.queue.dispatch(self.store.redis, run_entries(jobs), compensate=fail_unqueued)
        except Exception as error:
            raise refusal from error
