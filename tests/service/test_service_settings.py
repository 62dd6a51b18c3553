"""Settings: the default secret outside dev mode, key hashes, derived values (pure unit tests)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from featviz.settings import DEFAULT_SECRET, Settings, hash_api_key


def test_default_secret_is_refused_outside_dev_mode() -> None:
    with pytest.raises(ValidationError, match="FEATVIZ_SIGNING_SECRET"):
        Settings.model_validate({"dev_mode": False})


def test_default_secret_only_warns_in_dev_mode() -> None:
    with pytest.warns(UserWarning, match="FEATVIZ_SIGNING_SECRET"):
        settings = Settings.model_validate({"dev_mode": True})
    assert settings.signing_secret.get_secret_value() == DEFAULT_SECRET


def test_settings_come_from_featviz_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = [hash_api_key("one"), hash_api_key("two")]
    monkeypatch.setenv("FEATVIZ_SIGNING_SECRET", "not-the-default")
    monkeypatch.setenv("FEATVIZ_API_KEY_HASHES", f" {keys[0]} ,{keys[1].upper()}")
    monkeypatch.setenv("FEATVIZ_STORAGE_URL", "s3://bucket/prefix")
    monkeypatch.setenv("FEATVIZ_JOB_TIME_BUDGET_S", "100")
    settings = Settings()
    assert settings.api_key_hashes == keys
    assert settings.is_s3
    assert settings.visibility_timeout_s > settings.job_time_budget_s
    assert "not-the-default" not in repr(settings)


def test_api_keys_must_be_configured_as_hashes() -> None:
    with pytest.raises(ValidationError, match="SHA-256"):
        Settings.model_validate({"signing_secret": "x", "api_key_hashes": "plain-text-key"})


def test_hash_is_sha256_hex() -> None:
    digest = hash_api_key("abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_operator_datasets_are_name_url_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATVIZ_SIGNING_SECRET", "not-the-default")
    monkeypatch.setenv(
        "FEATVIZ_OPERATOR_DATASETS", " imagenet-val = s3://shared/imagenet/val ,textures=/data/tex"
    )
    assert Settings().operator_datasets == {
        "imagenet-val": "s3://shared/imagenet/val",
        "textures": "/data/tex",
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("imagenet", "not name=URL"),
        ("a=s3://x/1,a=s3://x/2", "named twice"),
        ("ImageNet=s3://x/y", "lowercase letters"),
        ("-x=s3://x/y", "lowercase letters"),
        (f"{'a' * 41}=s3://x/y", "1 to 40"),
        ("tex=s3:///prefix", "s3://bucket/prefix or a directory"),
        ("tex=", "s3://bucket/prefix or a directory"),
    ],
)
def test_a_malformed_operator_dataset_is_refused(value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings.model_validate({"signing_secret": "x", "operator_datasets": value})
