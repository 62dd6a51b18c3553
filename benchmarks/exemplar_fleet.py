"""An exemplar job over 10,000 generated images on 2 workers: its top-k against a single-process
reference, and each worker's resident memory after every shard it ran.

    python benchmarks/exemplar_fleet.py [--images 10000] [--workers 2] [--image-size 32]
        [--shard-images 256]

The service is ``benchmarks/local_service.py``'s (redis-server, ``featviz api``, worker
processes, storage in a temporary directory). The images are random 8x8 colour blocks scaled
up to ``--image-size`` (so that filters find distinct peaks), uploaded as one dataset; the job
ranks all of VGG16 ``block2_conv1``'s 128 filters (random weights) with k = 9. As each shard is
counted done, the benchmark reads the resident memory (VmRSS in ``/proc``) of the worker that
ran it. The reference is the same images through ``PeakFinder`` in this process
(``tests/helpers/exemplar_reference.py``, which the service tests also check against).

Target (issue 18): the job's top-k is the reference's (images, peaks and scores), and every
worker's memory after its last shard is within 5% of that after its second.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The reference ranking and the zip writer are the service tests' own.
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from local_service import API_KEYS, LocalService, local_service  # noqa: E402
from machine import machine_line  # noqa: E402
from worker_memory import resident_mib  # noqa: E402

from featviz.store import JobStore  # noqa: E402
from featviz.store.keys import counted_packs_key  # noqa: E402
from featviz_engine.models import load_network  # noqa: E402
from tests.helpers.dataset_files import image_zip  # noqa: E402
from tests.helpers.exemplar_reference import assert_same_ranking, reference  # noqa: E402

MODEL, WEIGHTS, LAYER, FILTERS, K = "vgg16", "random", "block2_conv1", 128, 9
GROWTH_LIMIT = 0.05
REFERENCE_BATCH = 64
HEADERS = {"Authorization": f"Bearer {API_KEYS[0]}"}


@dataclass
class WorkerReadings:
    """One worker's resident memory after each shard it ran, in the order they were counted."""

    pid: int
    mib: list[float] = field(default_factory=list)

    @property
    def growth(self) -> float:
        """From after its second shard to after its last."""
        return self.mib[-1] / self.mib[1] - 1


def generated_images(count: int, size: int) -> dict[str, np.ndarray]:
    """``img_00042.png`` -> random 8x8 colour blocks scaled up to ``size``, uint8 RGB."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (count, 8, 8, 3), dtype=np.uint8)
    scale = -(-size // 8)
    pixels = blocks.repeat(scale, axis=1).repeat(scale, axis=2)[:, :size, :size]
    return {f"img_{n:05d}.png": pixels[n] for n in range(count)}


def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def upload_dataset(api: httpx.Client, archive: Path) -> str:
    with archive.open("rb") as file:
        response = api.post(
            "/v1/datasets", files={"file": (archive.name, file, "application/zip")},
            data={"name": "generated"},
        )  # fmt: skip
    response.raise_for_status()
    dataset_id: str = response.json()["id"]
    until(lambda: api.get(f"/v1/datasets/{dataset_id}").json()["status"] != "validating",
          600, "the dataset to be checked")  # fmt: skip
    dataset = api.get(f"/v1/datasets/{dataset_id}").json()
    if dataset["status"] != "ready":
        raise SystemExit(f"the dataset was not accepted: {dataset}")
    return dataset_id


def run_job(
    api: httpx.Client, store: JobStore, service: LocalService, body: dict[str, object]
) -> tuple[dict[str, object], dict[int, WorkerReadings], float]:
    """Submit the job and read each worker's memory as each shard is counted done."""
    readings = {p.pid: WorkerReadings(p.pid) for p in service.workers}
    started = time.monotonic()
    response = api.post("/v1/exemplar-jobs", json=body)
    response.raise_for_status()
    job_id = response.json()["id"]
    seen: set[str] = set()
    while True:
        for shard in store.redis.smembers(counted_packs_key(job_id)) - seen:
            seen.add(shard)
            record = store.get(shard)
            if record is not None and record.worker is not None:
                readings[record.worker.pid].mib.append(resident_mib(record.worker.pid))
        job = api.get(f"/v1/exemplar-jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job, readings, time.monotonic() - started
        time.sleep(0.1)


@dataclass(frozen=True)
class FleetRun:
    """What one run measured."""

    images: int
    shards: int
    seconds: float
    ranking: str
    """How the job's top-k compares with the single-process reference."""
    readings: list[WorkerReadings]

    @property
    def same_ranking(self) -> bool:
        return self.ranking.startswith("same")

    @property
    def largest_growth(self) -> float:
        """The largest worker's growth, shard 2 to last (infinite where a worker ran under 3)."""
        return max(
            (worker.growth if len(worker.mib) >= 3 else float("inf")) for worker in self.readings
        )


def measure_exemplar_fleet(
    images: int, workers: int, image_size: int, shard_images: int
) -> FleetRun:
    """Run the exemplar job over ``images`` generated images on ``workers`` workers."""
    os.environ["FEATVIZ_EXEMPLAR_SHARD_IMAGES"] = str(shard_images)
    with tempfile.TemporaryDirectory(prefix="featviz-exemplar-fleet-") as folder:
        archive = image_zip(Path(folder) / "generated.zip", generated_images(images, image_size))
        with local_service(workers=workers) as service:
            assert service.api_url is not None
            store = JobStore.from_url(service.redis_url)
            with httpx.Client(base_url=service.api_url, headers=HEADERS, timeout=60) as api:
                dataset_id = upload_dataset(api, archive)
                body = {"model": MODEL, "weights": WEIGHTS, "layer": LAYER, "k": K,
                        "dataset": dataset_id, "image_size": image_size}  # fmt: skip
                job, readings, seconds = run_job(api, store, service, body)
                if job["status"] != "succeeded":
                    raise SystemExit(f"the job did not succeed: {job}")
                result = api.get(job["files"]["result.json"]).json()  # type: ignore[index]
        network = load_network(MODEL, WEIGHTS)
        names, expected = reference(
            archive, network, LAYER, list(range(FILTERS)), K, image_size, REFERENCE_BATCH
        )
    try:
        assert_same_ranking(result, names, expected)
        ranking = "same as the single-process reference (images, peaks, scores)"
    except AssertionError as difference:
        ranking = f"DIFFERENT from the reference: {difference}"
    shards = sum(len(worker.mib) for worker in readings.values())
    return FleetRun(images, shards, seconds, ranking, list(readings.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--shard-images", type=int, default=256)
    args = parser.parse_args()
    run = measure_exemplar_fleet(args.images, args.workers, args.image_size, args.shard_images)
    print(machine_line())
    print(f"\n{args.images} generated images ({args.image_size} px) as {run.shards} shards of "
          f"{args.shard_images} on {args.workers} workers, {MODEL} {LAYER} ({WEIGHTS}), "
          f"{FILTERS} filters, k = {K}: {run.seconds:.0f} s, submit to succeeded\n")  # fmt: skip
    print("| worker | shards | resident after shard 1 | after shard 2 | after the last | growth, "
          "shard 2 to last | target (< 5%) |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    passed = run.same_ranking
    for number, worker in enumerate(run.readings, 1):
        if len(worker.mib) < 3:
            print(f"| {number} | {len(worker.mib)} | too few shards to measure growth |")
            passed = False
            continue
        flat = worker.growth < GROWTH_LIMIT
        passed &= flat
        print(f"| {number} | {len(worker.mib)} | {worker.mib[0]:.0f} MiB | {worker.mib[1]:.0f} MiB "
              f"| {worker.mib[-1]:.0f} MiB | {worker.growth:+.1%} | "
              f"{'PASS' if flat else 'MISS'} |")  # fmt: skip
    print(f"\ntop-k: {run.ranking}")
    print(f"overall: {'PASS' if passed else 'MISS'}")
    if not passed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
