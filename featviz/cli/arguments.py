"""Argument types shared by the sub-commands."""

from __future__ import annotations

import argparse
import math
from typing import Any


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


def objective_terms(text: str) -> list[tuple[str, float]]:
    """``channel`` or weighted terms ``channel:1,neuron:0.5`` (a missing weight is 1)."""
    terms = []
    for part in text.split(","):
        kind, _, weight = part.strip().partition(":")
        if not kind:
            raise argparse.ArgumentTypeError(f"{text!r} has an empty term")
        terms.append((kind, finite_float(weight) if weight else 1.0))
    return terms


# Kept in step with the engine's names by a test; the engine is not imported to build the parser.
PRECISIONS = ("float32", "bfloat16", "float16")
PARAMETERIZATIONS = ("pixel", "fourier", "magnitude_constrained")
OPTIMIZERS = ("normalized_gradient", "adam")
TRANSFORMS = ("none", "standard")


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags for what goes beyond the seed, shared by ``render`` and the job commands.

    Unset flags are absent from the namespace (``argparse.SUPPRESS``), leaving the defaults.
    """
    method = parser.add_argument_group(
        "method",
        "beyond the seed (defaults: the seed's pixel image, normalised gradient, no "
        "transforms, float32)",
    )

    def flag(name: str, **options: Any) -> None:
        method.add_argument(name, default=argparse.SUPPRESS, **options)

    flag("--precision", choices=PRECISIONS, help="the network's precision")
    flag("--parameterization", choices=PARAMETERIZATIONS)
    flag("--optimizer", choices=OPTIMIZERS)
    flag("--transforms", choices=TRANSFORMS, help="transformation robustness")
    flag("--transform-pad", type=int, help="pixels padded on each side")
    flag("--transform-jitter", type=int, help="largest random shift, pixels")
    flag("--transform-scale", type=finite_float, help="0.1: zoom 0.9x to 1.1x")
    flag("--transform-rotate", type=finite_float, help="largest rotation, degrees")
    flag(
        "--objective",
        type=objective_terms,
        help="channel | neuron | class_logit, or weighted: channel:1,neuron:0.5",
    )
    flag("--direction", type=float_list, help="one weight per channel of the layer")
    flag("--diversity-weight", type=finite_float, help="make a batch's images differ")
    flag("--l1-weight", type=finite_float, help="penalty on mean |pixel|")
    flag("--l2-weight", type=finite_float, help="penalty on mean pixel^2")
    flag("--blur-every", type=int, help="blur the image every N iterations (0: never)")
    flag("--blur-sigma", type=finite_float, help="the blur's Gaussian sigma, pixels")
    flag(
        "--relu-warmup",
        type=int,
        help="for the first N iterations, let gradient through ReLUs that are off (dead filters)",
    )
