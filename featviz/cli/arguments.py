"""Argument types shared by the sub-commands."""

from __future__ import annotations

import argparse
import math


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
