"""How filters are split into packs, the batches of images optimised together: a layer job's
packs (api/submit.py) and the batches of ``featviz render`` (featviz_engine/render.py). Imports
nothing, so that the engine and the API share it."""

from __future__ import annotations

from collections.abc import Sequence


def pack_filters(filters: Sequence[int], size: int) -> list[list[int]]:
    """``filters`` in order, in consecutive packs of ``size`` (the last one may be smaller)."""
    return [list(filters[start : start + size]) for start in range(0, len(filters), size)]
