"""An upload whose validation fails in a way nobody foresaw is rejected with the reason, never
left ``validating``."""

from __future__ import annotations

from pathlib import Path

import redis

from featviz.user_models import ModelStore
from worker.user_models import validate_model

MODEL_ID = "mdl_" + "1" * 28


class BrokenStorage:
    """Fails a download with an error that no branch of the validation expects."""

    def download(self, key: str, target: Path) -> None:
        raise RuntimeError("a bug nobody foresaw")


def test_an_unexpected_validation_error_rejects_the_upload(
    clean_redis: str, tmp_path: Path
) -> None:
    models = ModelStore(redis.Redis.from_url(clean_redis, decode_responses=True))
    models.create(MODEL_ID, "alice", "tiny", "[0,1]", 10)
    validate_model(MODEL_ID, models, BrokenStorage(), max_attempts=3)  # type: ignore[arg-type]
    rejected = models.get(MODEL_ID)
    assert rejected is not None
    assert rejected.status == "rejected"
    assert rejected.reason is not None
    assert rejected.reason == "validation failed unexpectedly: RuntimeError: a bug nobody foresaw"
