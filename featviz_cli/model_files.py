"""Own models locally: ``featviz render --model-file`` and ``featviz models inspect``, no service.

A user's ``.keras`` file is checked as a worker checks an upload, in a child process under the
``FEATVIZ_MODEL_*`` and ``FEATVIZ_UPLOAD_*`` limits (``featviz_engine.model_validation``: the
archive, then Keras safe mode, one square image input, layers with 4-D outputs, for the image
sizes jobs may ask for), so a file is refused here with the reason its upload would be rejected
with, and a file built to exhaust memory or CPU time hurts the child, not the command.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from featviz.fields import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE
from featviz.model_files import INPUT_RANGE_MEANING, INPUT_RANGES
from featviz_cli.arguments import model_file

if TYPE_CHECKING:
    from featviz_engine.model_validation import ModelFileLimits
    from featviz_engine.uploaded_catalog import UploadedCatalog

INSPECT_USAGE = "usage: featviz models inspect FILE [--json]"


def add_render_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model-file`` and the ``--input-range`` it needs, for ``featviz render``."""
    own = parser.add_argument_group("your own model (instead of --model)")
    own.add_argument(
        "--model-file",
        type=model_file,
        help="a .keras file (Keras 3 format), loaded in Keras safe mode and checked as uploads "
        "are; its weights are its own (--weights is ignored)",
    )
    own.add_argument(
        "--input-range",
        choices=INPUT_RANGES,
        help=f"with --model-file: {INPUT_RANGE_MEANING}",
    )


def register_model_file(
    args: argparse.Namespace, given: dict[str, Any], parser: argparse.ArgumentParser
) -> str:
    """Load, check and register ``--model-file`` with the engine; the name renders use for it.

    Exits (2) with the flag at fault when the flags do not go together or the file is unusable.
    """

    def refuse(message: str) -> NoReturn:
        parser.exit(2, f"featviz render: error: {message}\n")

    path: Path | None = getattr(args, "model_file", None)
    if path is None:
        refuse("--input-range goes with --model-file")
    if "model" in given:
        refuse("--model-file replaces --model: give one of them")
    if not hasattr(args, "input_range"):
        refuse(f"--model-file needs --input-range (one of {', '.join(INPUT_RANGES)})")
    # Imported here so that the rest of the CLI starts without TensorFlow.
    from featviz_engine.model_validation import validate_model_file
    from featviz_engine.uploaded_catalog import ModelRejectedError
    from featviz_engine.uploaded_models import register_file

    try:
        validate_model_file(path, _limits())
        register_file(path.name, path, args.input_range, MIN_IMAGE_SIZE, MAX_IMAGE_SIZE)
    except ModelRejectedError as error:
        refuse(f"--model-file: {path}: {error}")
    return path.name


def inspect(path_text: str, as_json: bool) -> int:
    """``featviz models inspect FILE``: print what renders and jobs may ask of the file.

    Returns
    -------
    int
        0; 2 when the path is no ``.keras`` file; 1 when the file is unusable (the reason is
        printed, as an upload would be rejected with it).
    """
    prefix = "featviz models inspect: error"
    try:
        path = model_file(path_text)
    except argparse.ArgumentTypeError as error:
        print(f"{prefix}: {error}", file=sys.stderr)
        return 2
    from featviz_engine.model_validation import validate_model_file
    from featviz_engine.uploaded_catalog import ModelRejectedError

    try:
        found = validate_model_file(path, _limits())
    except ModelRejectedError as error:
        print(f"{prefix}: {path}: {error}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps({"file": str(path), **asdict(found)}, indent=2))
    else:
        print(describe(path, found))
    return 0


def _limits() -> ModelFileLimits:
    """The upload limits, as ``FEATVIZ_MODEL_*`` and ``FEATVIZ_UPLOAD_*`` set them; a local
    check needs no service, so none of a service's secrets. Imported here: the SDK's install
    (``featviz[client]``) has the command but no server settings."""
    from pydantic import SecretStr

    from featviz.settings import Settings
    from featviz_engine.model_validation import model_file_limits

    return model_file_limits(
        Settings(dev_mode=True, signing_secret=SecretStr(secrets.token_urlsafe(16)))
    )


def describe(path: Path, found: UploadedCatalog) -> str:
    """The file's image sizes, then one aligned row per layer a render may name."""
    if found.input_size is None:
        sizes = f"square images of {found.min_input_size} to {MAX_IMAGE_SIZE} px"
    else:
        sizes = f"{found.input_size} px images only"
    rows = [("layer", "type", "channels", "output shape", "smallest image")]
    for layer in found.layers:
        shape = "(" + ", ".join(str(extent) for extent in layer.output_shape) + ")"
        smallest = (
            "none: too deep" if layer.min_image_size is None else f"{layer.min_image_size} px"
        )
        rows.append((layer.name, layer.layer_type, str(layer.channels), shape, smallest))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    table = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([f"{path}: takes {sizes}; {len(found.layers)} layers to visualise", *table])
