"""What an optimisation produces, as plain data: each snapshot and each image's result. No
TensorFlow here, so that what only encodes or stores results (the artifacts, the worker's
writer) does not need it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Snapshot:
    """One image of one filter at one iteration, ready to save."""

    filter: int
    tv_weight: float
    iteration: int
    rgb: np.ndarray
    metrics: dict[str, float]


@dataclass
class FilterResult:
    """Everything one optimised image produced: its snapshots and its final image.

    ``dead_at_start``: the start image gave the filter nothing to climb (``DeadStarts``);
    ``came_alive_at``: the iteration from which such an image, revived, took ordinary steps.
    """

    filter: int
    tv_weight: float
    snapshots: list[Snapshot] = field(default_factory=list)
    final: Snapshot | None = None
    dead_at_start: bool = False
    came_alive_at: int | None = None

    @property
    def never_alive(self) -> bool:
        """Dead at the start image and still dead at the end: a tile with nothing to show."""
        return self.dead_at_start and self.came_alive_at is None

    @property
    def frames(self) -> list[Snapshot]:
        """The snapshots, followed by the final image unless it is already the last snapshot."""
        frames = list(self.snapshots)
        if self.final is not None and (not frames or frames[-1].iteration != self.final.iteration):
            frames.append(self.final)
        return frames


def keep_snapshots(
    results: Sequence[FilterResult],
    snapshots: Sequence[Snapshot],
    requested: Collection[int],
    last: int,
    on_snapshot: Callable[[Snapshot], None] | None = None,
) -> None:
    """Give each image its snapshot of one iteration: kept, and delivered at once, when that
    iteration was asked for; its final image when it is the last iteration."""
    for result, snapshot in zip(results, snapshots, strict=True):
        if snapshot.iteration in requested:
            result.snapshots.append(snapshot)
            if on_snapshot is not None:
                on_snapshot(snapshot)
        if snapshot.iteration == last:
            result.final = snapshot
