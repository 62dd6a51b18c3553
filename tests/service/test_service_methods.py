"""The engine's methods (issue 6) and precisions (issue 10) through the API's job spec."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from featviz import fields, specs
from featviz_engine import optimizers, parameterizations
from featviz_engine import spec as engine_spec
from tests.helpers.service_stack import Stack

SMALL: dict[str, Any] = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "iterations": 6,
    "snapshots": [2],
    "image_size": 64,
}


def test_defaults_are_the_engines() -> None:
    job = specs.JobSpec.model_validate({})
    engine = engine_spec.RenderSpec().resolved()
    assert tuple(job.snapshots) == engine.snapshots == fields.SEED_SNAPSHOTS
    assert job.tv_weight == engine.tv_weight == fields.SEED_TV_WEIGHT


@pytest.mark.parametrize("optimizer", optimizers.OPTIMIZERS)
@pytest.mark.parametrize("parameterization", parameterizations.PARAMETERIZATIONS)
def test_method_defaults_resolve_as_the_engine_resolves_them(
    optimizer: str, parameterization: str
) -> None:
    method = {"optimizer": optimizer, "parameterization": parameterization}
    job = specs.JobSpec.model_validate({**SMALL, **method})
    engine = engine_spec.RenderSpec(**method).resolved()  # type: ignore[arg-type]
    assert (job.learning_rate, job.tv_weight) == (engine.learning_rate, engine.tv_weight)


def test_method_defaults_are_resolved_into_the_record() -> None:
    seed = specs.JobSpec.model_validate(SMALL)
    assert (seed.learning_rate, seed.tv_weight) == (2.0, 0.0005)
    fourier = specs.JobSpec.model_validate(
        {**SMALL, "parameterization": "fourier", "optimizer": "adam"}
    )
    assert (fourier.learning_rate, fourier.tv_weight) == (0.05, 0.0)
    layer = specs.LayerJobSpec.model_validate({**SMALL, "parameterization": "fourier"})
    assert layer.tv_weight == 0.0


@pytest.mark.parametrize(
    ("model", "change", "field"),
    [
        (specs.JobSpec, {"parameterization": "fourier", "tv_weight": 0.001}, "tv_weight"),
        (specs.LayerJobSpec, {"parameterization": "fourier", "tv_weight": 0.001}, "tv_weight"),
        (specs.ComparisonSpec, {"parameterization": "fourier"}, "tv_weights"),
        (specs.JobSpec, {"parameterization": "fourier", "blur_every": 5}, "blur_every"),
        (specs.JobSpec, {"precision": "int8"}, "precision"),
        (specs.JobSpec, {"objective": [{"kind": "sparkle"}]}, "objective"),
        (specs.JobSpec, {"objective": []}, "objective"),
        (specs.JobSpec, {"direction": [1.0, 2.0]}, "direction"),
        (specs.JobSpec, {"direction": [0.0] * 512}, "direction"),
        (specs.JobSpec, {"objective": [{"kind": "class_logit"}]}, "image_size"),
        (
            specs.JobSpec,
            {"objective": [{"kind": "class_logit"}], "image_size": 224, "filter": 1000},
            "filter",
        ),
        (specs.JobSpec, {"transforms": "standard", "transform_jitter": -1}, "transform_jitter"),
    ],
)
def test_method_conflicts_name_their_field(
    model: type[specs.RenderParams], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as error:
        model.model_validate({**SMALL, **change})
    assert error.value.errors()[0]["loc"][0] == field


def test_class_logit_targets_a_class_at_the_models_input_size() -> None:
    job = specs.JobSpec.model_validate(
        {**SMALL, "objective": [{"kind": "class_logit"}], "image_size": 224, "filter": 999}
    )
    assert job.filter == 999


def test_a_fourier_job_in_bfloat16_runs_through_the_service(local_stack: Stack) -> None:
    body = {
        **SMALL,
        "filter": 3,
        "parameterization": "fourier",
        "optimizer": "adam",
        "transforms": "standard",
        "precision": "bfloat16",
        "objective": [{"kind": "channel", "weight": 1.0}, {"kind": "neuron", "weight": 0.5}],
        "l2_weight": 0.01,
        "relu_warmup": 2,
    }
    job = local_stack.submit("/v1/jobs", body)
    assert job["spec"]["tv_weight"] == 0.0
    assert job["spec"]["learning_rate"] == 0.05
    done = local_stack.wait(job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert [s["iteration"] for s in done["snapshots"]] == [2]
    assert math.isfinite(done["finals"][0]["activation"])
    assert done["finals"][0]["iteration"] == 5
