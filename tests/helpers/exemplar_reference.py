"""The ranking a service's exemplar job must match: the same images through the engine in this
process, all in one batch."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from featviz.limits import Limit
from featviz_engine.dataset_images import decode, square
from featviz_engine.exemplars import PeakFinder, TopK
from featviz_engine.models import Network

ANY_SIZE = Limit(value=10**6, setting="FEATVIZ_DATASET_MAX_IMAGE_PIXELS", unit="count")
"""The reference decodes the test's own small images: the service's cap is not what it checks."""


def reference(
    archive: Path,
    network: Network,
    layer: str,
    filters: list[int],
    k: int,
    size: int,
    batch: int | None = None,
) -> tuple[list[str], TopK]:
    """Image ids in order and the top-k of the whole archive, ``batch`` images at a time
    (default: all at once)."""
    finder = PeakFinder(network, layer, filters)
    top = TopK(len(filters), k)
    with zipfile.ZipFile(archive) as opened:
        names = sorted(opened.namelist())
        step = batch or len(names)
        for start in range(0, len(names), step):
            chosen = names[start : start + step]
            pixels = np.stack([square(decode(opened.read(n), ANY_SIZE), size) for n in chosen])
            top.add(np.arange(start, start + len(chosen)), *finder(pixels))
    return names, top


def assert_same_ranking(result: dict[str, Any], names: list[str], expected: TopK) -> None:
    """A job's ``result.json`` lists, per filter, the reference's images, peaks and scores."""
    for position, found in enumerate(result["filters"]):
        best = expected.best(position)
        assert [e["image"] for e in found["exemplars"]] == [names[b.index] for b in best]
        peaks = [(e["row"], e["column"]) for e in found["exemplars"]]
        assert peaks == [(b.row, b.column) for b in best]
        scores = [e["score"] for e in found["exemplars"]]
        np.testing.assert_allclose(scores, [b.score for b in best], rtol=1e-4)
