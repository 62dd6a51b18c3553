"""Argument types shared by the sub-commands, and the job spec's flags from featviz.fields."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from featviz.fields import JobField, Value
from featviz.model_files import MODEL_FILE_SUFFIX, NOT_A_MODEL_FILE


def index_list(text: str) -> list[int]:
    """``1,2,3`` or ranges ``0-15`` (inclusive), mixed: ``0-3,9``."""
    indices: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                first, last = part.split("-", 1)
                indices.extend(range(int(first), int(last) + 1))
            else:
                indices.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of integers such as 1,2,3 or 0-15"
        ) from None
    if not indices:
        raise argparse.ArgumentTypeError("needs at least one integer")
    return indices


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def float_list(text: str) -> list[float]:
    """``0,0.0005,0.001``: finite numbers."""
    try:
        values = [finite_float(part) for part in text.split(",") if part.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of numbers such as 0,0.0005,0.001"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("needs at least one number")
    return values


def model_file(text: str) -> Path:
    """A user's model file that exists and is named as uploads must be (``.keras``)."""
    path = Path(text)
    if path.suffix != MODEL_FILE_SUFFIX:
        raise argparse.ArgumentTypeError(f"{text}: {NOT_A_MODEL_FILE}")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def objective_terms(text: str) -> list[tuple[str, float]]:
    """``channel`` or weighted terms ``channel:1,neuron:0.5`` (a missing weight is 1)."""
    terms = []
    for part in text.split(","):
        kind, _, weight = part.strip().partition(":")
        if not kind:
            raise argparse.ArgumentTypeError(f"{text!r} has an empty term")
        terms.append((kind, finite_float(weight) if weight else 1.0))
    return terms


def choice_list(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """A parser of ``a,b``: names each one of ``choices``."""

    def parse(text: str) -> list[str]:
        names = [part.strip() for part in text.split(",") if part.strip()]
        if not names or any(name not in choices for name in names):
            raise argparse.ArgumentTypeError(f"{text!r}: name some of {', '.join(choices)}")
        return names

    return parse


_PARSERS: dict[Value, Callable[[str], Any]] = {
    "str": str,
    "int": int,
    "float": finite_float,
    "ints": index_list,
    "floats": float_list,
    "objective": objective_terms,
}


def _shown(value: Any) -> str:
    """A default as one would type it: ``5,10,50``, ``channel:1``."""
    if isinstance(value, Mapping):
        return ":".join(f"{part:g}" if isinstance(part, float) else part for part in value.values())
    if isinstance(value, tuple):
        return ",".join(_shown(item) for item in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def add_spec_arguments(parser: Any, fields: Iterable[JobField], *, engine: bool = False) -> None:
    """One flag per field of the table (``JobField.flag``), with its type, choices and default
    (the engine's, for ``engine``: ``featviz render`` runs it with no service).

    Unset flags are absent from the namespace (``argparse.SUPPRESS``), leaving the defaults;
    each flag's value lands under the field's name.
    """
    for job_field in fields:
        if not job_field.cli:
            continue
        value = job_field.default
        if engine and job_field.engine_default is not None:
            value = job_field.engine_default
        default = "" if value is None else f" (default: {_shown(value)})"
        typing: dict[str, Any]
        if job_field.value == "choice":
            typing = {"choices": job_field.choices}
        elif job_field.value == "choices":
            assert job_field.choices is not None, "a list of choices names them"
            typing = {"type": choice_list(job_field.choices)}
        else:
            typing = {"type": _PARSERS[job_field.value]}
        parser.add_argument(
            job_field.flag,
            dest=job_field.name,
            default=argparse.SUPPRESS,
            help=job_field.help.replace("%", "%%") + default,
            **typing,
        )


def spec_values(args: argparse.Namespace, fields: Iterable[JobField]) -> dict[str, Any]:
    """The fields given on the command line, by name."""
    return {f.name: getattr(args, f.name) for f in fields if hasattr(args, f.name)}
