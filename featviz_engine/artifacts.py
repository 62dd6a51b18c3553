"""The files one visualisation produces, by name, whatever stores them (a folder, S3)."""

from __future__ import annotations

from featviz_engine.images import contact_sheet, encode_gif, encode_png
from featviz_engine.render import FilterResult, Snapshot

SHEET_NAME = "sheet.png"
GIF_NAME = "progress.gif"
RESULT_NAME = "result.json"


def snapshot_name(iteration: int) -> str:
    return f"iter_{iteration:04d}.png"


def filter_folder(filter_index: int) -> str:
    return f"filter_{filter_index:04d}"


def snapshot_record(snapshot: Snapshot) -> dict[str, object]:
    """What result files and job records say about one snapshot."""
    return {
        "iteration": snapshot.iteration,
        "file": snapshot_name(snapshot.iteration),
        **snapshot.metrics,
    }


def progression_sheet(result: FilterResult) -> bytes:
    """The seed's figure: every frame of one filter, titled with its iteration."""
    frames = result.frames
    sheet = contact_sheet(
        [frame.rgb for frame in frames], [f"iter: {frame.iteration}" for frame in frames]
    )
    return encode_png(sheet)


def progression_gif(result: FilterResult) -> bytes:
    return encode_gif([frame.rgb for frame in result.frames])


def filter_artifacts(result: FilterResult) -> dict[str, bytes]:
    """Every file of one filter: its snapshot PNGs, the final image, a contact sheet and a GIF."""
    files = {snapshot_name(frame.iteration): encode_png(frame.rgb) for frame in result.frames}
    files[SHEET_NAME] = progression_sheet(result)
    files[GIF_NAME] = progression_gif(result)
    return files
