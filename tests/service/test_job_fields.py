"""Every place that spells out a job field agrees with the one table (featviz.fields): the
engine's spec and design, the API's models and OpenAPI schema (which the web form is built
from), the worker's conversion, both command lines and the SDK's typed spec."""

from __future__ import annotations

import argparse
import collections.abc
import dataclasses
import types
import typing
from datetime import UTC, datetime
from typing import Any, Literal, get_args, get_origin

import pytest

import featviz_client.specs as sdk
from api.main import create_app
from featviz.fields import ALL_KINDS, SPEC_KINDS, JobField, JobFields, SpecKind, frozen
from featviz.records import JobRecord
from featviz.specs import (
    ComparisonSpec,
    ExemplarJobSpec,
    JobSpec,
    LayerJobSpec,
    ModelLayerParams,
)
from featviz_cli import build_parser
from featviz_engine.ascent import Design
from featviz_engine.render import design_of
from featviz_engine.spec import RenderSpec
from worker.batches import plan_batch
from worker.runner import render_spec

MODELS: dict[SpecKind, type[ModelLayerParams]] = {
    "job": JobSpec,
    "layer_job": LayerJobSpec,
    "comparison": ComparisonSpec,
    "exemplar_job": ExemplarJobSpec,
}
COMMANDS: dict[str, SpecKind] = {
    "submit": "job",
    "layer": "layer_job",
    "compare": "comparison",
    "exemplars": "exemplar_job",
}
# Options of the commands that are no job field: the connection, the output, and a local render's
# own model file (which a service job names by its uploaded id instead).
NOT_SPEC_OPTIONS = {
    *("help", "api_url", "api_key", "json", "wait", "timeout", "no_progress", "out"),
    *("model_file", "input_range"),
}


def _json(value: Any) -> Any:
    """A default as JSON has it: tuples are lists."""
    if isinstance(value, tuple | list):
        return [_json(item) for item in value]
    return value


def _literal(annotation: Any) -> tuple[str, ...] | None:
    """The values of a Literal annotation (or of an optional one, or of a list of one), else
    None."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    if get_origin(annotation) in (list, collections.abc.Sequence):
        return _literal(get_args(annotation)[0])
    if get_origin(annotation) in (typing.Union, types.UnionType):
        literals = [_literal(arm) for arm in get_args(annotation) if arm is not type(None)]
        return literals[0] if len(literals) == 1 else None
    return None


def test_every_field_has_a_name_help_and_a_valid_table_entry() -> None:
    names = [job_field.name for job_field in JobFields.all()]
    assert len(names) == len(set(names)) > 25
    for job_field in JobFields.all():
        assert job_field.help, job_field.name
        has_choices = job_field.value in ("choice", "choices")
        assert has_choices == (job_field.choices is not None), job_field.name
        assert job_field.flag == "--" + job_field.name.replace("_", "-")
        assert job_field.kinds <= SPEC_KINDS
        assert job_field.kinds or job_field.engine, f"{job_field.name} is used nowhere"


def test_the_engine_spec_has_the_tables_fields_and_defaults() -> None:
    engine = {f.name: f for f in dataclasses.fields(RenderSpec)}
    assert set(engine) == {job_field.name for job_field in JobFields.of_engine()}
    for job_field in JobFields.of_engine():
        assert engine[job_field.name].default == job_field.engine_value, job_field.name


def test_the_engine_design_takes_the_specs_defaults() -> None:
    spec = RenderSpec().resolved()
    assert Design(spec.model, spec.weights, spec.layer) == design_of(spec)


@pytest.mark.parametrize("kind", list(MODELS))
def test_the_api_models_have_the_tables_fields_defaults_and_bounds(kind: SpecKind) -> None:
    model = MODELS[kind]
    assert set(model.model_fields) == {job_field.name for job_field in JobFields.of(kind)}
    for job_field in JobFields.of(kind):
        info = model.model_fields[job_field.name]
        assert _json(info.default) == _json(job_field.default), job_field.name
        assert info.description == job_field.help, job_field.name
        assert _literal(info.annotation) == job_field.choices, job_field.name
        bounds = {type(m).__name__.lower(): m for m in info.metadata}
        for bound in ("ge", "gt", "le"):
            expected = getattr(job_field, bound)
            assert getattr(bounds.get(bound), bound, None) == expected, (job_field.name, bound)


def test_the_openapi_schema_gives_the_web_form_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEATVIZ_SIGNING_SECRET", "a-secret-only-for-building-the-schema")
    schemas = create_app().openapi()["components"]["schemas"]
    for kind, model in MODELS.items():
        properties = schemas[model.__name__]["properties"]
        assert set(properties) == {job_field.name for job_field in JobFields.of(kind)}
        for job_field in JobFields.of(kind):
            prop = properties[job_field.name]
            assert prop.get("default") == _json(job_field.default), job_field.name
            assert prop.get("x-featviz-label") == job_field.label, job_field.name
            assert prop.get("x-featviz-input") == job_field.form, job_field.name
            assert prop["description"] == job_field.help, job_field.name


def _record(kind: str, spec: dict[str, Any]) -> JobRecord:
    now = datetime.now(UTC)
    return JobRecord.model_validate(
        {"id": "job_1", "kind": kind, "owner": "o", "status": "running", "spec": spec}
        | {"created_at": now, "updated_at": now}
    )


def test_the_worker_passes_every_shared_field_to_the_engine() -> None:
    changed = {
        "weights": "random",
        "layer": "conv3_block1_out",
        "iterations": 30,
        "snapshots": [3, 7],
        "learning_rate": 0.5,
        "tv_start": 2,
        "tv_mode": "per_channel",
        "precision": "bfloat16",
        "objective": [{"kind": "neuron", "weight": 2.0}],
        "diversity_weight": 0.1,
        "l1_weight": 0.2,
        "l2_weight": 0.3,
        "start_image_weight": 4.0,
        "optimizer": "adam",
        "transforms": "standard",
        "transform_pad": 3,
        "transform_jitter": 5,
        "transform_scale": 0.2,
        "transform_rotate": 7.0,
        "spectrum_decay": 1.5,
        "blur_every": 4,
        "blur_sigma": 0.7,
        "relu_warmup": 3,
        "dead_start": "off",
        "image_size": 96,
        "seed": 9,
        "time_budget_s": 5.0,
    }
    shared = [f for f in JobFields.of_engine() if f.kinds >= ALL_KINDS]
    # The model's direction needs a layer's channel count; blurring and TV need pixel images,
    # which the recommended preset replaces (its own test follows).
    untested = {f.name for f in shared} - set(changed)
    untested -= {"model", "direction", "parameterization", "preset"}
    assert not untested, f"give {untested} a value that is not its default here"
    spec = JobSpec.model_validate({**changed, "filter": 4, "tv_weight": 0.002})
    engine = render_spec(plan_batch(_record("job", spec.model_dump())), time_budget_s=60.0)
    for job_field in shared:
        asked = changed.get(job_field.name, job_field.default)
        assert getattr(engine, job_field.name) == frozen(asked), job_field.name
    assert (engine.filters, engine.tv_weight, engine.batch_size) == ((4,), 0.002, 1)


def test_the_api_and_the_engine_apply_a_preset_alike() -> None:
    asked = {"weights": "random", "layer": "conv3_block1_out", "image_size": 64, "filter": 4}
    for body in (
        {**asked, "preset": "recommended"},
        {**asked, "preset": "recommended", "parameterization": "pixel"},
    ):
        record = JobSpec.model_validate(body).model_dump()
        assert record["parameterization"] == "fourier"  # a field at its default is unset
        engine = render_spec(plan_batch(_record("job", record)), time_budget_s=60.0).resolved()
        for name in (
            "parameterization",
            "transforms",
            "transform_pad",
            "learning_rate",
            "tv_weight",
        ):
            assert getattr(engine, name) == frozen(record[name]), name


def _options(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Each option of a parser: its destination and its one long spelling."""
    options = {}
    for action in parser._actions:
        if action.dest in NOT_SPEC_OPTIONS or not action.option_strings:
            continue
        assert len(action.option_strings) == 1, action.option_strings
        options[action.dest] = action.option_strings[0]
    return options


def _subcommand(name: str) -> argparse.ArgumentParser:
    actions = build_parser()._actions
    commands = next(a for a in actions if isinstance(a, argparse._SubParsersAction))
    parser: argparse.ArgumentParser = commands.choices[name]
    return parser


def _flags(fields: list[JobField]) -> dict[str, str]:
    return {job_field.name: job_field.flag for job_field in fields if job_field.cli}


def test_featviz_render_has_a_flag_per_engine_field() -> None:
    assert _options(_subcommand("render")) == _flags(JobFields.of_engine())


@pytest.mark.parametrize(("command", "kind"), list(COMMANDS.items()))
def test_the_job_commands_have_a_flag_per_field_of_their_kind(command: str, kind: SpecKind) -> None:
    assert _options(_subcommand(command)) == _flags(JobFields.of(kind))


SDK_SPECS: dict[SpecKind, tuple[type, set[str]]] = {
    "job": (sdk.JobSpec, set()),
    # Client.layer(model, layer, filters, **params); a range of filters is sent as filter_range.
    "layer_job": (sdk.LayerParams, {"model", "layer", "filters", "filter_range"}),
    # Client.compare(tv_weights, **spec).
    "comparison": (sdk.ComparisonSpec, {"tv_weights"}),
    # Client.exemplars(model, layer, dataset, filters, **params).
    "exemplar_job": (sdk.ExemplarParams, {"model", "layer", "dataset", "filters"}),
}


@pytest.mark.parametrize("kind", list(SDK_SPECS))
def test_the_sdk_typed_spec_has_the_tables_fields_and_choices(kind: SpecKind) -> None:
    typed, positional = SDK_SPECS[kind]
    hints = typing.get_type_hints(typed)
    assert set(hints) | positional == {job_field.name for job_field in JobFields.of(kind)}
    assert not set(hints) & positional
    scalars = {"str": str, "int": int, "float": float}
    for name, hint in hints.items():
        job_field = JobFields.named(name)
        assert job_field is not None
        assert _literal(hint) == job_field.choices, name
        if job_field.value in scalars:
            assert hint is scalars[job_field.value], name
