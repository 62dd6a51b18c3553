"""A bounded HTTP load generator: N concurrent connections sending one request over and over.

    .venv/bin/python benchmarks/http_load.py --url http://127.0.0.1:8000/healthz \
        [--method GET] [--header 'Authorization: Bearer KEY'] [--body '{"json": 1}'] \
        [--connections 64] [--requests 2000] [--max-seconds 10]

Prints one JSON object: requests sent, errors (transport failures and non-2xx answers), p50 and
p99 latency in ms, and requests per second. It stops at ``--requests`` or ``--max-seconds``,
whichever comes first, and only talks to loopback addresses. ``measure_http`` runs it as a
separate process, so that the load generator and the server under test do not share a GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from timing import percentile


@dataclass(frozen=True)
class LoadResult:
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    requests_per_s: float


@dataclass(frozen=True)
class LoadPlan:
    url: str
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    connections: int = 64
    requests: int = 2000
    max_seconds: float = 10.0

    def command(self) -> list[str]:
        """This plan as the command line of this script."""
        arguments = [
            "benchmarks/http_load.py",
            "--url", self.url,
            "--method", self.method,
            "--connections", str(self.connections),
            "--requests", str(self.requests),
            "--max-seconds", f"{self.max_seconds:g}",
        ]  # fmt: skip
        for name, value in self.headers:
            arguments += ["--header", f"{name}: {value}"]
        if self.body is not None:
            arguments += ["--body", self.body]
        return arguments


def require_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"http_load: {url} is not a loopback address; refusing to load it")


async def generate(plan: LoadPlan) -> LoadResult:
    limits = httpx.Limits(
        max_connections=plan.connections, max_keepalive_connections=plan.connections
    )
    headers = dict(plan.headers)
    content = plan.body.encode() if plan.body is not None else None
    if content is not None:
        headers.setdefault("Content-Type", "application/json")
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + plan.max_seconds

    async def connection(client: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        while sent < plan.requests and time.perf_counter() < deadline:
            sent += 1
            started = time.perf_counter()
            try:
                response = await client.request(
                    plan.method, plan.url, headers=headers, content=content
                )
                ok = response.is_success
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        began = time.perf_counter()
        await asyncio.gather(*(connection(client) for _ in range(plan.connections)))
        elapsed = time.perf_counter() - began
    return LoadResult(
        requests=len(latencies),
        errors=errors,
        p50_ms=1000 * percentile(latencies, 0.50),
        p99_ms=1000 * percentile(latencies, 0.99),
        requests_per_s=len(latencies) / elapsed,
    )


def measure_http(plan: LoadPlan) -> LoadResult:
    """Run ``plan`` in a child process of this script and read its result."""
    script = Path(__file__).with_name("http_load.py")
    command = [sys.executable, str(script), *plan.command()[1:]]
    timeout_s = plan.max_seconds + 60  # start-up and the last requests in flight
    finished = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout_s, check=True
    )
    return LoadResult(**json.loads(finished.stdout))


def parse_header(text: str) -> tuple[str, str]:
    name, separator, value = text.partition(":")
    if not separator:
        raise argparse.ArgumentTypeError(f"a header is 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", type=parse_header, action="append", default=[])
    parser.add_argument("--body", help="JSON request body")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--requests", type=int, default=2000, help="at most this many")
    parser.add_argument("--max-seconds", type=float, default=10.0, help="at most this long")
    args = parser.parse_args()
    require_loopback(args.url)
    plan = LoadPlan(
        url=args.url,
        method=args.method,
        headers=tuple(args.header),
        body=args.body,
        connections=args.connections,
        requests=args.requests,
        max_seconds=args.max_seconds,
    )
    result = asyncio.run(generate(plan))
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
