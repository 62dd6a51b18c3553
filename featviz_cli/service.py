"""``featviz up``, ``featviz api`` and ``featviz worker``: the service, whole or in parts.

``up`` runs everything on one machine with embedded defaults: a ``redis-server`` (the system
binary) with its own data directory, the API, one worker and storage in a local directory. The
parts read the same ``FEATVIZ_*`` settings, which ``up`` passes to them through the environment.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STOP_TIMEOUT_S = 15.0
HAND_BACK_S = 30.0
"""How long a stopping worker may take beyond the drain's grace: its hand-back's Redis writes, an
upload retrying, its exit."""
# A process that dies this soon after starting, this many times in a row, is failing to start
# (a bad setting, a missing package): restarting it again would only hide that.
QUICK_EXIT_S = 10.0
MAX_QUICK_EXITS = 3


def register(commands: Any) -> None:
    up = commands.add_parser(
        "up",
        help="run the whole service here: redis-server, the API and a worker (Ctrl-C stops)",
        description="Run redis-server, the API and one worker, with storage in --data-dir.",
    )
    up.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8000, help="API port (default 8000)")
    up.add_argument("--data-dir", type=Path, default=Path("featviz-data"), help="Redis and files")
    up.add_argument("--api-key", help="the API key to accept (default: a generated one)")
    up.add_argument("--redis-port", type=int, default=0, help="default: a free port")
    up.set_defaults(run=run_up)

    api = commands.add_parser("api", help="run the HTTP API (settings from FEATVIZ_*)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.set_defaults(run=run_api)

    worker = commands.add_parser("worker", help="run a worker (settings from FEATVIZ_*)")
    worker.add_argument("--loglevel", default="INFO")
    worker.set_defaults(run=run_worker)


def run_api(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import uvicorn

    from api.main import create_app

    uvicorn.run(create_app(), host=args.host, port=args.port)
    return 0


def run_worker(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from worker.app import app

    queue = app.conf.task_default_queue
    # One process, one job at a time: the engine uses every core (or the GPU) for one batch.
    app.worker_main(
        ["worker", "--pool=solo", "--concurrency=1", "-Q", queue, f"--loglevel={args.loglevel}"]
    )
    return 0


@dataclass
class Restartable:
    """How to start a process again, and how often it died right after starting."""

    command: list[str]
    env: dict[str, str]
    started_at: float = field(default_factory=time.monotonic)
    quick_exits: int = 0


@dataclass
class Supervisor:
    """The processes of the stack, stopped together (last started, first stopped). The API and
    the worker are restarted when they die; Redis is not (its data would need checking)."""

    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restartable: dict[str, Restartable] = field(default_factory=dict)

    def start(self, name: str, command: list[str], env: dict[str, str]) -> None:
        # Its own process group, as Redis has: a Ctrl-C reaches only `up`, which stops the
        # processes in order, so the worker's drain still has Redis.
        self.processes[name] = subprocess.Popen(command, env=env, process_group=0)
        self.restartable[name] = Restartable(command, env)

    def _restart(self, name: str) -> bool:
        """Start a dead process again, unless it keeps dying as soon as it starts."""
        plan = self.restartable[name]
        lived_s = time.monotonic() - plan.started_at
        plan.quick_exits = plan.quick_exits + 1 if lived_s < QUICK_EXIT_S else 0
        if plan.quick_exits >= MAX_QUICK_EXITS:
            return False
        code = self.processes[name].returncode
        print(f"featviz up: {name} exited with {code}; restarting it", file=sys.stderr)
        plan.started_at = time.monotonic()
        self.processes[name] = subprocess.Popen(plan.command, env=plan.env, process_group=0)
        return True

    def wait_for_exit(self) -> str:
        """Restart the API or the worker when it dies; block until a process exits for good
        (Redis, or one that dies right after each start); returns its name."""
        while True:
            for name, process in self.processes.items():
                if process.poll() is None:
                    continue
                if name not in self.restartable or not self._restart(name):
                    return name
            time.sleep(0.5)

    def stop(self, timeouts_s: dict[str, float]) -> None:
        """Stop the processes one at a time with SIGTERM, last started first, so that the worker
        drains (finishes or hands back its job) while Redis still runs; each is killed after its
        timeout in ``timeouts_s``, or ``STOP_TIMEOUT_S``."""
        for name, process in reversed(self.processes.items()):
            if process.poll() is None:
                process.terminate()
            try:
                process.wait(timeout=timeouts_s.get(name, STOP_TIMEOUT_S))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_up(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from pydantic import SecretStr

    from featviz.settings import Settings, hash_api_key
    from featviz_cli.local_stack import RedisServerError, free_port, start_redis

    data_dir: Path = args.data_dir.resolve()
    api_key = args.api_key or f"fv-dev-{secrets.token_urlsafe(24)}"
    redis_port = args.redis_port or free_port()
    env = os.environ | {
        "FEATVIZ_DEV_MODE": "true",
        "FEATVIZ_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "FEATVIZ_STORAGE_URL": str(data_dir / "storage"),
        "FEATVIZ_API_KEY_HASHES": hash_api_key(api_key),
        "FEATVIZ_SIGNING_SECRET": secrets.token_urlsafe(32),
    }
    # The worker's view of the drain's grace: the same environment and .env file.
    secret = SecretStr(env["FEATVIZ_SIGNING_SECRET"])
    drain_s = Settings(dev_mode=True, signing_secret=secret).drain_grace_s
    supervisor = Supervisor()
    try:
        try:
            redis = start_redis(redis_port, data_dir / "redis", append_only=True)
        except RedisServerError as error:
            raise SystemExit(f"featviz up: {error}") from error
        supervisor.processes["redis"] = redis
        featviz = [sys.executable, "-m", "featviz_cli"]
        api_command = [*featviz, "api", "--host", args.host, "--port", str(args.port)]
        supervisor.start("api", api_command, env)
        supervisor.start("worker", [*featviz, "worker"], env)
        url = f"http://{args.host}:{args.port}"
        key_note = "" if args.api_key else "  (generated; pass --api-key to choose one)"
        print(
            f"featviz is up at {url} (docs: {url}/docs); data in {data_dir}\n"
            f"API key: {api_key}{key_note}\n"
            f"try: curl -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' "
            f'-d \'{{"weights": "random", "layer": "conv3_block1_out", "iterations": 60, '
            f'"snapshots": [5, 10, 50], "image_size": 64}}\' {url}/v1/jobs\n'
            "Ctrl-C stops everything.",
            flush=True,
        )
        stopped = supervisor.wait_for_exit()
        print(f"featviz up: {stopped} exited; stopping", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("featviz up: stopping", file=sys.stderr)
        return 0
    finally:
        # A second Ctrl-C would cut the worker's drain short and leave Redis running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        supervisor.stop({"worker": drain_s + HAND_BACK_S})
