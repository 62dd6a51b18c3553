"""Load: N jobs from C concurrent clients against the API and one worker on this machine.

Each submission must be accepted (202) or refused with 429 (rate limit or queued-job cap), and
every accepted job must reach a terminal state. Prints a table: submissions by answer, the API's
latency for submissions and status reads (p50/p99), and how the accepted jobs ended.

    python benchmarks/load.py [--jobs 500] [--clients 20]

The jobs are as small as the service allows on a CPU (1 iteration, 64 px), so the worker keeps
up; the API sees the same load as it would with bigger jobs.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from local_service import API_KEYS, local_service

JOB = {
    "weights": "random",
    "layer": "conv3_block1_out",
    "image_size": 64,
    "iterations": 1,
    "snapshots": [],
}
TERMINAL = ("succeeded", "failed", "canceled")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()

    with local_service(workers=1) as service:
        assert service.api_url is not None
        answers: Counter[str] = Counter()
        submit_ms: list[float] = []
        read_ms: list[float] = []
        accepted: list[tuple[str, str]] = []
        lock = threading.Lock()
        per_client = [args.jobs // args.clients] * args.clients
        per_client[0] += args.jobs - sum(per_client)

        def client(index: int) -> None:
            key = API_KEYS[index % len(API_KEYS)]
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=service.api_url, headers=headers, timeout=30) as http:
                for filter_index in range(per_client[index]):
                    started = time.perf_counter()
                    response = http.post("/v1/jobs", json=JOB | {"filter": filter_index})
                    elapsed_ms = (time.perf_counter() - started) * 1000
                    with lock:
                        submit_ms.append(elapsed_ms)
                        kind = str(response.status_code)
                        if response.status_code == 429:
                            kind += " " + response.json()["type"].rsplit(":", 1)[1]
                        answers[kind] += 1
                        if response.status_code == 202:
                            accepted.append((key, response.json()["id"]))

        began = time.monotonic()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client, range(args.clients)))
        submitted_s = time.monotonic() - began

        outcomes: Counter[str] = Counter()
        with httpx.Client(base_url=service.api_url, timeout=30) as http:
            for key, job_id in accepted:
                headers = {"Authorization": f"Bearer {key}"}
                while True:
                    started = time.perf_counter()
                    response = http.get(f"/v1/jobs/{job_id}", headers=headers)
                    if response.status_code == 429:
                        time.sleep(float(response.headers["retry-after"]))
                        continue
                    read_ms.append((time.perf_counter() - started) * 1000)
                    status = response.json()["status"]
                    if status in TERMINAL:
                        outcomes[status] += 1
                        break
                    time.sleep(0.2)
        finished_s = time.monotonic() - began

    unexpected = [kind for kind in answers if kind != "202" and not kind.startswith("429")]
    print(f"{args.jobs} jobs from {args.clients} clients ({len(API_KEYS)} keys), one worker\n")
    print("| measure | value |")
    print("| --- | --- |")
    for kind, count in sorted(answers.items()):
        print(f"| answers {kind} | {count} |")
    print(f"| submit latency p50 / p99 | {percentile(submit_ms, 0.5):.1f} / "
          f"{percentile(submit_ms, 0.99):.1f} ms |")  # fmt: skip
    print(f"| status read latency p50 / p99 | {percentile(read_ms, 0.5):.1f} / "
          f"{percentile(read_ms, 0.99):.1f} ms |")  # fmt: skip
    print(f"| submissions took | {submitted_s:.1f} s |")
    print(f"| accepted jobs finished | {sum(outcomes.values())} of {len(accepted)} "
          f"({dict(outcomes)}) after {finished_s:.1f} s |")  # fmt: skip
    if unexpected or sum(outcomes.values()) != len(accepted):
        raise SystemExit(f"unexpected answers {unexpected} or unfinished jobs")


if __name__ == "__main__":
    main()
