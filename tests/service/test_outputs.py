"""The output contract: one layout for a job's folder, keys that map back to paths, and one
``result.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from featviz.outputs import (
    ImageFile,
    ImageFolder,
    ImageResult,
    JobResult,
    path_in_job,
    storage_key,
)

METRICS = {
    "activation": 1.5,
    "displayed_activation": 1.25,
    "total_variation": 0.25,
    "high_frequency_fraction": 0.125,
}


@dataclass(frozen=True)
class Frame:
    filter: int
    tv_weight: float
    iteration: int
    metrics: dict[str, float] = field(default_factory=lambda: dict(METRICS))


@dataclass
class Optimised:
    filter: int
    tv_weight: float
    snapshots: list[Frame]
    final: Frame | None
    dead_at_start: bool = False
    came_alive_at: int | None = None


def test_folders_and_files_of_an_image() -> None:
    folder = ImageFolder.of(3)
    assert folder.snapshot(5) == "filter_0003/iter_0005.png"
    assert (folder.sheet, folder.gif) == ("filter_0003/sheet.png", "filter_0003/progress.gif")
    assert ImageFolder.of(3, tv_column=1).snapshot(10) == "filter_0003/tv_1/iter_0010.png"


def test_a_storage_key_is_the_path_under_the_job() -> None:
    key = storage_key("job123", "filter_0003/tv_1/iter_0005.png")
    assert key == "job123/filter_0003/tv_1/iter_0005.png"
    assert path_in_job(key) == "filter_0003/tv_1/iter_0005.png"


def test_an_image_record_and_its_file_convert_both_ways() -> None:
    file = ImageFile.of(Frame(3, 0.001, 5), ImageFolder.of(3, tv_column=2))
    entry = file.entry("job123")
    assert entry.key == "job123/filter_0003/tv_2/iter_0005.png"
    assert ImageFile.recorded(entry) == file


def test_result_json_lists_images_and_leaves_out_what_is_unknown() -> None:
    folder = ImageFolder.of(7)
    rendered = Optimised(7, 0.0, [Frame(7, 0.0, 5)], Frame(7, 0.0, 11))
    final_only = ImageResult.final_only(ImageFile.of(Frame(8, 0.0, 11), ImageFolder.of(8)))
    document = JobResult(
        spec={"time_budget_s": None},
        images=[ImageResult.of(rendered, folder), final_only],
        timings={"total_s": 1.0},
    )
    written = json.loads(document.encode())
    assert set(written) == {"spec", "images", "timings"}
    assert written["spec"] == {"time_budget_s": None}, "the spec as run, unset fields included"
    first, second = written["images"]
    assert first["folder"] == "filter_0007"
    assert [s["path"] for s in first["snapshots"]] == ["filter_0007/iter_0005.png"]
    assert first["final"] == {
        "filter": 7, "tv_weight": 0.0, "iteration": 11, "path": "filter_0007/iter_0011.png",
        **METRICS, "dead_at_start": False,
    }  # fmt: skip
    assert "dead_at_start" not in first["snapshots"][0], "known for final images only"
    assert second["folder"] == "filter_0008"
    assert "snapshots" not in second


def test_a_final_image_says_how_its_dead_start_went() -> None:
    revived = Optimised(2, 0.0, [], Frame(2, 0.0, 11), dead_at_start=True, came_alive_at=4)
    never = Optimised(3, 0.0, [], Frame(3, 0.0, 11), dead_at_start=True)
    revived_final = ImageFile.final_of(revived, ImageFolder.of(2))
    never_final = ImageFile.final_of(never, ImageFolder.of(3))
    assert (revived_final.dead_at_start, revived_final.came_alive_at) == (True, 4)
    assert not revived_final.never_alive
    assert never_final.never_alive
    assert ImageFile.recorded(never_final.entry("job123")) == never_final
