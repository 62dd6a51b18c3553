"""Limits on untrusted input, each named after the setting that sets it, and the refusals that
name them.

An upload that breaks a limit is refused with a reason that says which setting to raise, e.g.
"uncompressed size 2.9 GiB exceeds FEATVIZ_MODEL_MAX_UNCOMPRESSED_BYTES (1.0 GiB)".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

if TYPE_CHECKING:  # a sandbox's child imports this first thing: it needs no settings
    from featviz.settings import Settings

Unit = Literal["bytes", "s", "count"]


def format_bytes(size: float) -> str:
    """``size`` bytes in binary units, as limits and measurements are shown: ``3.1 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(size) < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable: GiB ends the loop")


class Limit(BaseModel, frozen=True):
    """One limit: its value and the ``FEATVIZ_*`` setting it comes from."""

    value: float
    setting: str
    unit: Unit

    def amount(self, value: float) -> str:
        """``value`` in this limit's unit."""
        if self.unit == "bytes":
            return format_bytes(value)
        if self.unit == "s":
            return f"{value:.0f} s" if float(value).is_integer() else f"{value:.1f} s"
        return f"{value:.0f}" if value >= 100 or float(value).is_integer() else f"{value:.1f}"

    def __str__(self) -> str:
        return f"{self.setting} ({self.amount(self.value)})"


def setting_limit(settings: Settings, field: str, unit: Unit) -> Limit:
    """The limit that the settings' ``field`` sets, named by its environment variable."""
    return Limit(value=getattr(settings, field), setting=f"FEATVIZ_{field.upper()}", unit=unit)


class RefusedError(Exception):
    """Untrusted input that featviz will not use; the message is the reason users see."""


class LimitExceededError(RefusedError):
    """Input refused because it breaks a limit; the message names the limit's setting.

    Attributes
    ----------
    exceeded
        Which limit, and what broke it.
    """

    def __init__(self, exceeded: Exceeded) -> None:
        super().__init__(str(exceeded))
        self.exceeded = exceeded

    @property
    def limit(self) -> Limit:
        return self.exceeded.limit


class Exceeded(BaseModel, frozen=True):
    """A limit broken: ``{what} {measured} exceeds {limit}: {detail}``."""

    limit: Limit
    what: str
    measured: float | None = None
    detail: str = ""

    def __str__(self) -> str:
        found = "" if self.measured is None else f" {self.limit.amount(self.measured)}"
        tail = f": {self.detail}" if self.detail else ""
        return f"{self.what}{found} exceeds {self.limit}{tail}"


def exceeded(
    limit: Limit, what: str, measured: float | None = None, detail: str = ""
) -> LimitExceededError:
    """The refusal for ``what`` (``measured``, when known) breaking ``limit``."""
    return LimitExceededError(Exceeded(limit=limit, what=what, measured=measured, detail=detail))
