"""Errors the engine raises before or instead of computing."""

from __future__ import annotations


class EngineError(Exception):
    """Base class of the engine's errors."""


class SpecError(EngineError, ValueError):
    """A render spec field is invalid; raised before any compute.

    Attributes
    ----------
    field
        The spec field at fault, as named in job specs (``filters``, ``snapshots``...).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class WeightsUnavailableError(EngineError):
    """Pretrained weights could not be loaded (offline machine, missing cache file)."""


class Interrupted(EngineError):  # noqa: N818 - names the outcome, as Python's KeyboardInterrupt does
    """The optimisation stopped early.

    Attributes
    ----------
    reason
        ``canceled`` (the stop hook asked for it), another reason the stop hook gave (``drain``:
        the worker is stopping and hands the job back) or ``time_budget`` (the budget ran out).
    iteration
        The last iteration that completed, or -1 when none did.
    """

    def __init__(self, reason: str, iteration: int) -> None:
        super().__init__(f"optimisation stopped ({reason}) after iteration {iteration}")
        self.reason = reason
        self.iteration = iteration
