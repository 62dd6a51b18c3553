"""``featviz submit | status | wait | cancel | download | layer | compare | exemplars | models |
datasets``: the SDK
from the shell, against a running service (``--api-url``/``--api-key`` or ``FEATVIZ_API_URL``/
``FEATVIZ_API_KEY``). Human output by default, ``--json`` for scripts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from featviz.catalog import is_uploaded_model_id
from featviz.fields import JobFields, SpecKind
from featviz.model_files import INPUT_RANGES
from featviz_cli import model_files
from featviz_cli.arguments import add_spec_arguments, finite_float, spec_values
from featviz_client import (
    APIError,
    Client,
    DatasetUpload,
    ExemplarJob,
    FeatvizError,
    Job,
    Layer,
    LayerJob,
    Model,
    ModelSummary,
    ModelUpload,
    ValidationError,
)
from featviz_client.client import KEY_VARIABLE, URL_VARIABLE


def _connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--api-url", help=f"the service (default ${URL_VARIABLE}, else http://127.0.0.1:8000)"
    )
    options.add_argument("--api-key", help=f"default ${KEY_VARIABLE}")
    options.add_argument("--json", action="store_true", help="print the answer as JSON")
    return options


def _wait_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--timeout", type=finite_float, help="seconds to wait at most")
    options.add_argument("--no-progress", action="store_true", help="no progress bar")
    return options


def register(commands: Any) -> None:
    connection, waiting = _connection_options(), _wait_options()

    def command(name: str, help_text: str, run: Callable[..., int], *parents: Any) -> Any:
        parser = commands.add_parser(
            name, help=help_text, description=help_text, parents=[connection, *parents]
        )
        parser.set_defaults(run=run)
        return parser

    upload_command = _upload_command(command, waiting)

    def job_command(name: str, help_text: str, run: Callable[..., int], kind: SpecKind) -> None:
        parser = command(name, help_text, run, waiting)
        parser.add_argument(
            "--wait", action="store_true", help="wait for the job and exit 1 unless it succeeds"
        )
        specs = parser.add_argument_group("job spec (unset: the service's defaults)")
        add_spec_arguments(specs, JobFields.of(kind))

    job_command("submit", "visualise one filter on the service", run_submit, "job")
    job_command(
        "layer", "visualise many filters of a layer (a contact sheet)", run_layer, "layer_job"
    )
    job_command(
        "compare", "one filter under several TV weights (a grid)", run_compare, "comparison"
    )
    job_command(
        "exemplars",
        "the images of a dataset that excite each filter of a layer most",
        run_exemplars,
        "exemplar_job",
    )

    for name, help_text, run in [
        ("status", "show a job", run_status),
        ("cancel", "cancel a job", run_cancel),
    ]:
        command(name, help_text, run).add_argument("job_id")
    command("wait", "wait for a job; exit 1 unless it succeeds", run_wait, waiting).add_argument(
        "job_id"
    )
    download = command("download", "download a job's images and files", run_download)
    download.add_argument("job_id")
    download.add_argument("--out", type=Path, required=True, help="folder to write into")
    models = upload_command(
        "models",
        "list the models, show one's layers, upload or delete your own, or inspect a .keras "
        "file here (no service)",
        run_models,
        "NAME",
        "a model: list its layers; `upload FILE`: upload a .keras file; `delete ID`; "
        "`inspect FILE`: a .keras file's layers, channels, output shapes and smallest image "
        "sizes, checked as uploads are, without the service",
        "FILE",
        local_verbs=("inspect",),
    )
    models.add_argument("--name", dest="upload_name", help="upload: a name to know it by")
    models.add_argument(
        "--input-range", choices=INPUT_RANGES, help="upload: the values the model expects"
    )
    datasets = upload_command(
        "datasets",
        "list your datasets, show one, or upload or delete one",
        run_datasets,
        "ID",
        "an id: show it; `upload DIR|ZIP`: upload a folder of images or a zip; `delete ID`",
        "DIR | ZIP",
    )
    datasets.add_argument("--name", dest="upload_name", help="upload: default the file's name")


def _upload_command(command: Callable[..., Any], waiting: Any) -> Callable[..., Any]:
    def upload_command(
        name: str,
        help_text: str,
        run: Callable[..., int],
        shown: str,
        what: str,
        source: str,
        local_verbs: tuple[str, ...] = (),
    ) -> Any:
        """``featviz NAME [SHOWN | upload SOURCE | delete ID | LOCAL_VERB SOURCE] [--wait]``."""
        parser = command(name, help_text, run, waiting)
        verbs = ("upload", "delete", *local_verbs)
        parser.add_argument(
            name.removesuffix("s"), nargs="?", metavar=" | ".join((shown, *verbs)), help=what
        )
        parser.add_argument(
            "target",
            nargs="?",
            metavar=f"{source} | ID",
            help=f"for {', '.join(verbs[:-1])} and {verbs[-1]}",
        )
        parser.add_argument(
            "--wait", action="store_true", help="upload: wait for validation; exit 1 if rejected"
        )
        return parser

    return upload_command


def _spec(args: argparse.Namespace) -> dict[str, Any]:
    spec = spec_values(args, JobFields.all())
    if "objective" in spec:
        spec["objective"] = [{"kind": kind, "weight": weight} for kind, weight in spec["objective"]]
    return spec


def _describe(job: Job) -> str:
    record = job.record
    lines = [
        f"{record.id}  {record.kind}  {record.status}  "
        f"iteration {record.progress.iteration}/{record.progress.total}"
    ]
    if record.waiting_for == "worker":
        lines.append("waiting for a worker: none was running when it was submitted")
    if isinstance(job, LayerJob | ExemplarJob):
        counts = job.counts
        lines.append(
            f"{'images' if isinstance(job, ExemplarJob) else 'filters'}: {counts.succeeded} "
            f"succeeded, {counts.failed} failed, {counts.canceled} canceled of {counts.total}"
        )
    for image in [*record.snapshots, *record.finals][-12:]:
        lines.append(
            f"  filter {image.filter}  tv {image.tv_weight:g}  iter {image.iteration}  "
            f"{image.metrics.describe()}  {image.start_note or ''}".rstrip()
        )
    if record.error is not None:
        lines.append(f"error: {record.error.title}: {record.error.detail or ''}")
    return "\n".join(lines)


def _show(args: argparse.Namespace, job: Job) -> None:
    print(job.record.model_dump_json(indent=2) if args.json else _describe(job))


def _client(args: argparse.Namespace) -> Client:
    return Client(args.api_url, args.api_key)


def _finish(args: argparse.Namespace, job: Job) -> int:
    """Show the job, after waiting for it if asked; 1 when it ended without succeeding."""
    if getattr(args, "wait", True):
        progress = not (args.no_progress or args.json) and sys.stderr.isatty()
        job.wait(timeout=args.timeout, progress=progress)
    _show(args, job)
    return 0 if not job.done or job.status == "succeeded" else 1


def _reporting_errors(run: Callable[[argparse.Namespace], int]) -> Callable[..., int]:
    """Print the service's problem (title, detail, invalid fields) and exit non-zero: 2 for an
    invalid request, as for invalid arguments, else 1."""

    def wrapped(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
        prefix = f"featviz {args.command}: error"
        try:
            return run(args)
        except APIError as error:
            print(f"{prefix}: {error.status} {error.title}", file=sys.stderr)
            fields = error.errors if isinstance(error, ValidationError) else []
            for problem in fields:
                print(f"  {problem.field}: {problem.message}", file=sys.stderr)
            if error.detail and not fields:
                print(f"  {error.detail}", file=sys.stderr)
            return 2 if isinstance(error, ValidationError) else 1
        except (FeatvizError, ValueError) as error:
            print(f"{prefix}: {error}", file=sys.stderr)
            return 1

    return wrapped


@_reporting_errors
def run_submit(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _finish(args, client.submit(**_spec(args)))


@_reporting_errors
def run_layer(args: argparse.Namespace) -> int:
    spec = _spec(args)
    with _client(args) as client:
        model = spec.pop("model", JobFields.model.default)
        layer = spec.pop("layer", JobFields.layer.default)
        return _finish(args, client.layer(model, layer, spec.pop("filters", None), **spec))


@_reporting_errors
def run_compare(args: argparse.Namespace) -> int:
    spec = _spec(args)
    with _client(args) as client:
        return _finish(args, client.compare(spec.pop("tv_weights", None), **spec))


@_reporting_errors
def run_exemplars(args: argparse.Namespace) -> int:
    spec = _spec(args)
    with _client(args) as client:
        model = spec.pop("model", JobFields.model.default)
        layer = spec.pop("layer", JobFields.layer.default)
        dataset = spec.pop("dataset", "")
        job = client.exemplars(model, layer, dataset, spec.pop("filters", None), **spec)
        return _finish(args, job)


@_reporting_errors
def run_datasets(args: argparse.Namespace) -> int:
    if args.dataset in ("upload", "delete") and args.target is None:
        target = "DIR|ZIP [--name NAME]" if args.dataset == "upload" else "ID"
        usage = f"usage: featviz datasets {args.dataset} {target}"
        print(f"featviz datasets: error: {usage}", file=sys.stderr)
        return 2
    with _client(args) as client:
        if args.dataset is None:
            for upload in client.datasets():
                _show_dataset(args, upload)
        elif args.dataset == "upload":
            path = Path(args.target)
            upload = client.upload_dataset(path, args.upload_name or path.stem)
            if args.wait:
                upload.wait(timeout=args.timeout)
            _show_dataset(args, upload)
            return 1 if upload.status == "rejected" else 0
        elif args.dataset == "delete":
            client.dataset(args.target).delete()
            print(f"deleted {args.target}", file=sys.stderr)
        else:
            _show_dataset(args, client.dataset(args.dataset))
    return 0


def _show_dataset(args: argparse.Namespace, upload: DatasetUpload) -> None:
    record = upload.record
    if args.json:
        print(record.model_dump_json(indent=2))
        return
    images = "" if record.image_count is None else f"  {record.image_count} images"
    shared = "  (the operator's)" if record.shared else ""
    print(f"{record.id}  {record.name}  {record.status}{images}{shared}")
    if record.reason is not None:
        print(f"rejected: {record.reason}")


@_reporting_errors
def run_status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _show(args, client.jobs.get(args.job_id))
    return 0


@_reporting_errors
def run_wait(args: argparse.Namespace) -> int:
    with _client(args) as client:
        return _finish(args, client.jobs.get(args.job_id))


@_reporting_errors
def run_cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _show(args, client.jobs.get(args.job_id).cancel())
    return 0


@_reporting_errors
def run_download(args: argparse.Namespace) -> int:
    with _client(args) as client:
        written = client.jobs.get(args.job_id).download(args.out)
    if args.json:
        print(json.dumps([str(path) for path in written]))
    else:
        print("\n".join(str(path) for path in written))
        print(f"wrote {len(written)} file(s) to {args.out}", file=sys.stderr)
    return 0


@_reporting_errors
def run_models(args: argparse.Namespace) -> int:
    usage = _models_usage_error(args)
    if usage is not None:
        print(f"featviz models: error: {usage}", file=sys.stderr)
        return 2
    if args.model == "inspect":
        return model_files.inspect(args.target, args.json)
    with _client(args) as client:
        if args.model is None:
            _show_models(args, client.models())
        elif args.model == "upload":
            upload = client.upload_model(Path(args.target), args.upload_name, args.input_range)
            if args.wait:
                upload.wait(timeout=args.timeout)
            _show_upload(args, upload)
            return 1 if upload.status == "rejected" else 0
        elif args.model == "delete":
            client.uploaded_model(args.target).delete()
            print(f"deleted {args.target}", file=sys.stderr)
        elif is_uploaded_model_id(args.model):
            _show_upload(args, client.uploaded_model(args.model))
        else:
            _show_layers(args, client.model(args.model))
    return 0


def _models_usage_error(args: argparse.Namespace) -> str | None:
    if args.model == "upload" and None in (args.target, args.upload_name, args.input_range):
        return "usage: featviz models upload FILE --name NAME --input-range RANGE"
    if args.model == "delete" and args.target is None:
        return "usage: featviz models delete ID"
    if args.model == "inspect" and args.target is None:
        return model_files.INSPECT_USAGE
    return None


def _show_upload(args: argparse.Namespace, upload: ModelUpload) -> None:
    record = upload.record
    if args.json:
        print(record.model_dump_json(indent=2))
        return
    print(f"{record.id}  {record.name}  {record.status}  input {record.input_range}")
    if record.reason is not None:
        print(f"rejected: {record.reason}")
    _print_layers(record.layers)


def _show_models(args: argparse.Namespace, models: list[ModelSummary]) -> None:
    if args.json:
        print(json.dumps([model.model_dump() for model in models], indent=2))
        return
    for model in models:
        if model.kind == "uploaded":
            print(f"{model.id}  {model.name}  {model.status}  {model.layer_count} layers")
        else:
            print(f"{model.name}  {model.layer_count} layers  (trained at {model.input_size} px)")


def _show_layers(args: argparse.Namespace, model: Model) -> None:
    if args.json:
        print(model.model_dump_json(indent=2))
        return
    _print_layers(model.layers)


def _print_layers(layers: list[Layer]) -> None:
    for layer in layers:
        smallest = layer.min_image_size
        size = "too deep for any image size" if smallest is None else f"images >= {smallest} px"
        print(f"{layer.name}  {layer.channels} channels  {size}")
