"""An upload whose validation fails in a way nobody foresaw is rejected with the reason, never
left ``validating``."""

from __future__ import annotations

from pathlib import Path

import redis

from featviz.settings import Settings
from featviz.user_models import ModelStore
from featviz_engine.model_validation import model_file_limits
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
    limits = model_file_limits(Settings(signing_secret="a-test-secret"))
    validate_model(MODEL_ID, models, BrokenStorage(), 3, limits)  # type: ignore[arg-type]
    rejected = models.get(MODEL_ID)
    assert rejected is not None
    assert rejected.status == "rejected"
    assert rejected.reason is not None
    assert rejected.reason == "validation failed unexpectedly: RuntimeError: a bug nobody foresaw"
