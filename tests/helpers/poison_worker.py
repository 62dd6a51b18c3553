"""A worker process for the reliability tests, with test-only poisons: a job whose spec has
``seed == POISON_SEED`` kills the process running it with SIGKILL as soon as that process holds
the job, every time, as a job that overflows memory or crashes a native library would; one with
``seed == DIES_HANDING_BACK_SEED`` kills a stopping worker right after it handed the job back,
before it sends the job's task again (as a SIGKILL at the end of a grace period could); the
first shard of an exemplar job with ``k == DIES_ONCE_K`` kills the process running it on its
first attempt only, as a worker lost mid-shard.

Run as ``python -m tests.helpers.poison_worker [--fleet] [featviz worker arguments]``. With
``--fleet`` (the fleet chaos run) the worker runs the cheap engine (``tests.helpers.cheap_engine``)
instead of TensorFlow, logs how long each of its reaper's passes took (``REAPER_PASS_LOG``), and
once ready writes a file named after its pid in the folder ``READY_DIR_VARIABLE`` names.
The poison lives only here: the service has no switch for it, and only a process started from this
module carries it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from celery.signals import task_prerun, worker_ready

from featviz import outbox
from featviz.queue import RUN_JOB_TASK, JobQueue
from featviz.records import TERMINAL_STATUSES
from featviz.settings import get_settings
from featviz.store import JobStore
from featviz_cli import main

POISON_SEED = 66_600_666
DIES_HANDING_BACK_SEED = 66_600_667
DIES_ONCE_K = 63
FLEET_FLAG = "--fleet"
REAPER_PASS_LOG = "reaper pass took %.3f ms"
READY_DIR_VARIABLE = "FLEET_READY_DIR"

logger = logging.getLogger(__name__)


def die_once_holding(job_id: str) -> None:
    """SIGKILL this process once the job's record shows it running here."""
    store = JobStore.from_url(get_settings().redis_url)
    while (record := store.get(job_id)) is not None and record.status not in TERMINAL_STATUSES:
        if record.status == "running" and record.worker and record.worker.pid == os.getpid():
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(0.02)


@task_prerun.connect
def poison(task: Any = None, args: Any = None, **_: Any) -> None:
    if task is None or task.name != RUN_JOB_TASK:
        return
    job_id = args[0]
    record = JobStore.from_url(get_settings().redis_url).get(job_id)
    if record is None:
        return
    first_shard_once = (
        record.kind == "shard"
        and record.spec.get("k") == DIES_ONCE_K
        and record.spec["images"]["start"] == 0
        and record.attempts == 0
    )
    if record.spec.get("seed") == POISON_SEED or first_shard_once:
        threading.Thread(target=die_once_holding, args=(job_id,), daemon=True).start()


def dies_sending_a_hand_back(dispatch: Any) -> Any:
    """``JobQueue.dispatch``, but a draining worker sending the run task of a job with
    ``DIES_HANDING_BACK_SEED`` dies first."""
    from worker.context import worker_context

    def dispatch_or_die(self: JobQueue, client: Any, entries: Any, *args: Any) -> None:
        context = worker_context()
        for task, ident in map(outbox.parse, entries):
            record = context.store.get(ident) if task == "run" else None
            seeded = record is not None and record.spec.get("seed") == DIES_HANDING_BACK_SEED
            if seeded and context.drain.draining:
                os.kill(os.getpid(), signal.SIGKILL)
        dispatch(self, client, entries, *args)

    return dispatch_or_die


def timed(sweep: Any) -> Any:
    """``Reaper.sweep``, logging how long each pass took."""

    def timed_sweep(self: Any) -> None:
        started = time.perf_counter()
        sweep(self)
        logger.info(REAPER_PASS_LOG, (time.perf_counter() - started) * 1000)

    return timed_sweep


def mark_ready(**_: Any) -> None:
    """Tell the fleet's chaos that this worker takes jobs (Celery's ``worker_ready``)."""
    (Path(os.environ[READY_DIR_VARIABLE]) / str(os.getpid())).touch()


def become_a_fleet_worker() -> None:
    """The cheap engine in place of TensorFlow, the reaper's passes timed, readiness marked."""
    from tests.helpers import cheap_engine

    cheap_engine.install()
    from worker import tasks  # noqa: F401 - imported now to check what it brings in
    from worker.reaper import Reaper

    assert "tensorflow" not in sys.modules, "a fleet worker runs without TensorFlow"
    Reaper.sweep = timed(Reaper.sweep)  # type: ignore[method-assign]
    worker_ready.connect(mark_ready, weak=False)


if __name__ == "__main__":
    # Only in the worker process: the tests import this module for its seeds.
    arguments = sys.argv[1:]
    if FLEET_FLAG in arguments:
        arguments.remove(FLEET_FLAG)
        become_a_fleet_worker()
    JobQueue.dispatch = dies_sending_a_hand_back(JobQueue.dispatch)  # type: ignore[method-assign]
    sys.exit(main(["worker", *arguments]))
