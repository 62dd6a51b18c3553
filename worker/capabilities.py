"""What this worker can serve, as it publishes it (``featviz.capabilities``): found by looking
for weight files and asking TensorFlow for its devices, never by building a model, so that it is
cheap enough to recompute on every heartbeat (a weights file copied in counts at the next one)."""

from __future__ import annotations

from functools import lru_cache

from featviz.capabilities import Capabilities, Device, storage_digest
from featviz.records import WorkerInfo
from featviz.settings import Settings
from featviz_engine.devices import gpu_count, supported_precisions
from featviz_engine.models import MODELS, available_weights, missing_weights


@lru_cache
def _device() -> tuple[Device, tuple[str, ...]]:
    # The devices do not change while the process runs; TensorFlow is asked once.
    return ("gpu" if gpu_count() else "cpu"), supported_precisions()


def this_worker(worker: WorkerInfo, settings: Settings) -> Capabilities:
    """This process's capabilities, as of now."""
    device, precisions = _device()
    return Capabilities(
        worker=worker,
        device=device,
        precisions=list(precisions),
        models={name: list(available_weights(spec)) for name, spec in MODELS.items()},
        heads=[
            name
            for name, spec in MODELS.items()
            if missing_weights(spec, "imagenet", include_top=True) is None
        ],
        storage=storage_digest(settings),
    )
