"""What the live workers can serve, so that the API refuses at submit a job none of them can run.

Each worker publishes its capabilities (the catalog models and the weights it has for each, the
ImageNet heads, the precisions and device it runs, the storage it reads uploaded models from)
and renews them with its heartbeat; it removes them when it stops. They are kept per queue,
since a worker serves only the queue it consumes (``featviz.store.keys``): one key a worker,
expiring after ``lease_s``, so that a worker killed without stopping (SIGKILL, a lost node)
drops out as its running jobs' leases do, and a set of those workers' ids, read instead of
scanning every key; an id whose key has expired is removed by the next reader.

The API reads them on each submit (``live_workers``, two round trips) and asks ``refusal`` for
the field no live worker can serve. With no worker alive at all nothing is refused: the job
waits for a worker (``waiting_for`` on its record), as a service scaled to zero would have it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import redis
from pydantic import BaseModel, Field

from featviz.catalog import is_uploaded_model_id
from featviz.problems import Problem, invalid_field
from featviz.records import WorkerInfo
from featviz.settings import Settings
from featviz.specs import RenderParams
from featviz.store.keys import worker_key, workers_key

Device = Literal["cpu", "gpu"]


class Capabilities(BaseModel):
    """What one live worker can serve."""

    model_config = {"protected_namespaces": ()}

    worker: WorkerInfo
    device: Device = Field(description="cpu, or gpu when TensorFlow sees one")
    precisions: list[str] = Field(description="the network precisions it runs")
    models: dict[str, list[str]] = Field(
        description="catalog model -> the weights it has for it (random always; imagenet when "
        "cached or downloadable; hed-bsds500 with the featviz[trained] extra)"
    )
    heads: list[str] = Field(
        description="catalog models whose ImageNet head it has (class_logit objectives)"
    )
    storage: str = Field(
        description="a digest of the storage it reads: it serves the uploaded models of the "
        "API whose storage digest is the same"
    )


def storage_digest(settings: Settings) -> str:
    """Where a process reads files, as a short digest (the URL itself may name private paths):
    the S3 bucket and prefix, or the local directory, resolved."""
    where = settings.storage_url if settings.is_s3 else str(Path(settings.storage_url).resolve())
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def _worker_id(worker: WorkerInfo) -> str:
    return f"{worker.host}:{worker.pid}"


def publish(client: redis.Redis[str], queue: str, capabilities: Capabilities, ttl_s: float) -> None:
    """Publish (or renew) a worker's capabilities for ``ttl_s`` seconds."""
    worker_id = _worker_id(capabilities.worker)
    with client.pipeline(transaction=True) as pipe:
        pipe.set(worker_key(queue, worker_id), capabilities.model_dump_json(), px=int(ttl_s * 1000))
        pipe.sadd(workers_key(queue), worker_id)
        pipe.execute()


def withdraw(client: redis.Redis[str], queue: str, worker: WorkerInfo) -> None:
    """Remove a stopping worker's capabilities: it takes no more jobs."""
    worker_id = _worker_id(worker)
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(worker_key(queue, worker_id))
        pipe.srem(workers_key(queue), worker_id)
        pipe.execute()


def live_workers(client: redis.Redis[str], queue: str) -> list[Capabilities]:
    """The capabilities of every live worker of ``queue``, by worker id."""
    worker_ids = sorted(client.smembers(workers_key(queue)))
    if not worker_ids:
        return []
    values = client.mget([worker_key(queue, worker_id) for worker_id in worker_ids])
    expired = [worker_id for worker_id, value in zip(worker_ids, values, strict=True) if not value]
    if expired:
        client.srem(workers_key(queue), *expired)
    return [Capabilities.model_validate_json(value) for value in values if value]


@dataclass(frozen=True)
class _Need:
    """What a spec needs of a worker: the field that asks for it, whether a worker has it, and
    what to say when no live worker has (given the workers that met the needs before)."""

    field: str
    met_by: Callable[[Capabilities], bool]
    refusal: Callable[[Sequence[Capabilities]], str]


def _listed(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _needs(spec: RenderParams, storage: str) -> list[_Need]:
    """A spec's needs, in the order their fields are blamed: the model before its weights."""
    model, weights, precision = spec.model, spec.weights, spec.precision
    if is_uploaded_model_id(model):
        # An uploaded model brings its own weights and precision; a worker fetches its file.
        return [
            _Need(
                "model",
                lambda worker: worker.storage == storage,
                lambda _: f"no live worker reads this service's storage, which holds {model!r}",
            )
        ]
    needs = [
        _Need(
            "model",
            lambda worker: model in worker.models,
            lambda workers: (
                f"no live worker serves {model!r}; live workers serve "
                f"{_listed({name for worker in workers for name in worker.models})}"
            ),
        ),
        _Need(
            "weights",
            lambda worker: weights in worker.models[model],
            lambda workers: (
                f"no live worker has the {weights!r} weights of {model!r}; live "
                f"workers have {_listed({w for worker in workers for w in worker.models[model]})} "
                "(see the README's 'What workers can serve')"
            ),
        ),
    ]
    if weights == "imagenet" and any(term.kind == "class_logit" for term in spec.objective):
        needs.append(
            _Need(
                "objective",
                lambda worker: model in worker.heads,
                lambda _: (
                    f"class_logit needs the ImageNet head of {model!r}, which no live worker has"
                ),
            )
        )
    needs.append(
        _Need(
            "precision",
            lambda worker: precision in worker.precisions,
            lambda workers: (
                f"no live worker runs {model!r} in {precision}; they run "
                f"{_listed({p for worker in workers for p in worker.precisions})}"
            ),
        )
    )
    return needs


def refusal(spec: RenderParams, workers: Sequence[Capabilities], storage: str) -> Problem | None:
    """The 422 for a spec that no live worker can serve, naming the first field at fault.

    Parameters
    ----------
    spec
        A validated spec (an uploaded model's resolved against its owner's models).
    workers
        The live workers' capabilities (``live_workers``).
    storage
        The API's ``storage_digest``.

    Returns
    -------
    Problem or None
        None when a worker can serve the spec, or when no worker is alive at all (the job waits
        for one).
    """
    able = list(workers)
    for need in _needs(spec, storage):
        meeting = [worker for worker in able if need.met_by(worker)]
        if able and not meeting:
            return invalid_field(need.field, need.refusal(able))
        able = meeting
    return None
