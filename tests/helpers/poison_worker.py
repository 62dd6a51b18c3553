"""A worker process for the reliability tests, with a test-only poison: a job whose spec has
``seed == POISON_SEED`` kills the process running it with SIGKILL as soon as that process holds
the job, every time, as a job that overflows memory or crashes a native library would.

Run as ``python -m tests.helpers.poison_worker [featviz worker arguments]``. The poison lives
only here: the service has no switch for it, and only a process started from this module carries it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from typing import Any

from celery.signals import task_prerun

from featviz.queue import RUN_JOB_TASK
from featviz.records import TERMINAL_STATUSES
from featviz.settings import get_settings
from featviz.store import JobStore
from featviz_cli import main

POISON_SEED = 66_600_666


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
    if record is not None and record.spec.get("seed") == POISON_SEED:
        threading.Thread(target=die_once_holding, args=(job_id,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main(["worker", *sys.argv[1:]]))
