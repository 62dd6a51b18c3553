"""Running a step on untrusted input in a child process under memory, CPU-time and disk limits,
so that whatever the input makes it do, the calling process (a worker) is not hurt.

``run_limited`` starts ``python -m featviz.sandbox`` with a request: the step
(``module:function``), its JSON arguments and the limits. The child sets the limits on itself
before it imports the step's module, so the step's libraries (TensorFlow) and the input are
only touched under them; it runs the step and writes a report. The parent meanwhile watches the
clock and the disk use of the work folder, kills the child when either passes its limit, and
tells from how the child ended which limit stopped it:

- the step refused the input (``RefusedError``): that refusal;
- ``MemoryError`` (an allocation past ``RLIMIT_DATA``): the memory limit;
- ``EFBIG`` writing a file (``RLIMIT_FSIZE``; Python ignores ``SIGXFSZ``) or ``SIGXFSZ``: the disk
  limit, as is the folder growing past it (the parent kills the child);
- ``SIGXCPU`` (``RLIMIT_CPU``'s soft limit), or ``SIGKILL`` with its CPU time at the hard one:
  the CPU-time limit; the wall clock past its limit (the parent kills it): the timeout;
- another ``SIGKILL`` (the kernel's out-of-memory killer, where the machine or its cgroup has
  less memory than the limit) or another signal (``SIGSEGV``, ``SIGABRT``: native code that
  cannot allocate): a refusal saying so, with the memory in use;
- anything else (an exception that is not the input's fault): ``ChildFailedError``.

Memory is limited with ``RLIMIT_DATA``, not ``RLIMIT_AS``. ``RLIMIT_DATA`` (Linux 4.7 and later)
counts private writable memory: the heap and anonymous mappings, where numpy, TensorFlow's
allocator and h5py put what an input makes them allocate. ``RLIMIT_AS`` counts address space,
which TensorFlow reserves far beyond what it uses (over 1 GiB after ``import keras`` on two
cores, more per thread for glibc's 64 MiB malloc arenas, and tens of GiB where CUDA maps the
GPU), so any bound low enough to protect a worker would stop TensorFlow from starting.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import importlib
import json
import logging
import os
import re
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from featviz.limits import (
    Exceeded,
    Limit,
    LimitExceededError,
    RefusedError,
    exceeded,
    format_bytes,
    setting_limit,
)

if TYPE_CHECKING:  # the child needs no settings
    from featviz.settings import Settings

logger = logging.getLogger(__name__)

REPORT = "sandbox-report.json"
LOG = "sandbox.log"
POLL_S = 0.05
LOG_TAIL_BYTES = 2000
_PR_SET_PDEATHSIG = 1
OOM_SCORE_ADJ = 1000
"""The most a process may raise its own out-of-memory score: killed first."""

CHILD_ENVIRONMENT = {
    # A step needs no GPU; TensorFlow would otherwise claim the GPU's memory beside the worker's.
    "CUDA_VISIBLE_DEVICES": "-1",
    # RLIMIT_CPU sums every thread's time: one thread each makes the limit mean the same work on
    # two cores as on sixty-four.
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    # oneDNN's CPU allocator retries a refused allocation for 10 s before it gives up.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


class ChildLimits(BaseModel, frozen=True):
    """What the child process may use."""

    memory: Limit
    """Bytes of private writable memory (``RLIMIT_DATA``)."""
    cpu: Limit
    """Seconds of CPU time, all threads together (``RLIMIT_CPU``)."""
    disk: Limit
    """Bytes of each file it writes (``RLIMIT_FSIZE``) and of all its work folder's growth."""
    wall: Limit
    """Seconds on the clock."""

    def apply(self) -> None:
        """Set the limits on this process (the child's first act)."""
        memory, disk, cpu = int(self.memory.value), int(self.disk.value), int(self.cpu.value)
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
        # Past the soft limit the kernel sends SIGXCPU; one second on, SIGKILL.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk, disk))
        # SIGXCPU and SIGSEGV dump core by default: a core of a large process would fill the disk.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        # Where the machine or its cgroup runs out of memory before the limit does, the kernel's
        # out-of-memory killer takes the largest process: make that this one, not the worker.
        with contextlib.suppress(OSError):
            Path("/proc/self/oom_score_adj").write_text(str(OOM_SCORE_ADJ))


def upload_child_limits(settings: Settings) -> ChildLimits:
    """The limits the ``FEATVIZ_UPLOAD_*`` settings set on the child that checks an upload, a
    ``.keras`` file or a dataset alike."""
    return ChildLimits(
        memory=setting_limit(settings, "upload_memory_bytes", "bytes"),
        cpu=setting_limit(settings, "upload_cpu_s", "s"),
        disk=setting_limit(settings, "upload_disk_bytes", "bytes"),
        wall=setting_limit(settings, "upload_timeout_s", "s"),
    )


class ChildFailedError(Exception):
    """The child process failed for a reason that is not its input's (a bug, a broken install)."""


class _Request(BaseModel):
    step: str
    args: dict[str, Any]
    limits: ChildLimits
    parent: int


class _Report(BaseModel):
    result: Any = None
    refused: str | None = None
    exceeded: Exceeded | None = None


def _disk_use(folder: Path) -> int:
    """Bytes the files under ``folder`` take on disk (allocated blocks, so sparse files count
    what they hold)."""
    used = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                used += os.lstat(os.path.join(root, name)).st_blocks * 512
            except FileNotFoundError:
                continue  # removed while we walked
    return used


def _log_tail(path: Path) -> str:
    with path.open("rb") as log:
        size = log.seek(0, 2)
        log.seek(max(0, size - LOG_TAIL_BYTES))
        lines = log.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no output)"


def _kill(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (its session: the child and anything it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)


def _resident_peak(pid: int) -> int:
    """The most resident memory the process has had (``VmHWM``), in bytes; 0 once it is gone.

    Not ``ru_maxrss`` of ``wait4``: Linux carries the peak over ``exec``, so a child's would be
    the worker's own size.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else 0


@dataclass
class _Ended:
    """How the child ended."""

    status: int
    cpu_s: float
    took_s: float
    peak_bytes: int
    """Its resident peak at the last look, up to ``POLL_S`` before it ended."""
    stopped: LimitExceededError | None
    """The limit the parent killed it for, if it did."""


def _watch(child: subprocess.Popen[bytes], limits: ChildLimits, folder: Path) -> _Ended:
    """Wait for the child, killing it past the wall-clock or disk limit."""
    started, disk_at_start, peak = time.monotonic(), _disk_use(folder), 0
    stopped: LimitExceededError | None = None
    while True:
        peak = max(peak, _resident_peak(child.pid))
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            cpu_s = usage.ru_utime + usage.ru_stime
            return _Ended(status, cpu_s, time.monotonic() - started, peak, stopped)
        if stopped is None:
            elapsed = time.monotonic() - started
            grown = _disk_use(folder) - disk_at_start
            if elapsed > limits.wall.value:
                stopped = exceeded(limits.wall, "time taken", elapsed)
            elif grown > limits.disk.value:
                stopped = exceeded(limits.disk, "disk written", grown)
            if stopped is not None:
                _kill(child)
        time.sleep(POLL_S)


def _outcome(ended: _Ended, limits: ChildLimits, folder: Path) -> _Report:
    """The child's report, or the limit or failure its end shows."""
    peak = format_bytes(ended.peak_bytes)
    if os.WIFSIGNALED(ended.status):
        number = signal.Signals(os.WTERMSIG(ended.status))
        at_cpu_limit = ended.cpu_s >= limits.cpu.value
        if number == signal.SIGXCPU or (number == signal.SIGKILL and at_cpu_limit):
            raise exceeded(limits.cpu, "CPU time")  # the kernel says so; its clock ticks coarsely
        if number == signal.SIGXFSZ:
            raise exceeded(limits.disk, "a file written")
        if number == signal.SIGKILL:
            raise RefusedError(
                f"the process checking it was killed (SIGKILL) with {peak} resident, as the "
                f"kernel's out-of-memory killer does: the machine has less memory free than "
                f"{limits.memory}"
            )
        raise RefusedError(
            f"the process checking it crashed ({number.name}) with {peak} resident, as native "
            f"code does when an allocation fails under {limits.memory}"
        )
    report = folder / REPORT
    if os.WEXITSTATUS(ended.status) != 0 or not report.exists():
        code = os.WEXITSTATUS(ended.status)
        raise ChildFailedError(
            f"the checking process exited with {code}: {_log_tail(folder / LOG)}"
        )
    return _Report.model_validate_json(report.read_bytes())


def run_limited(step: str, args: dict[str, Any], limits: ChildLimits, folder: Path) -> Any:
    """Run ``step`` (``module:function``, called with ``args`` as keywords) in a child process
    under ``limits``; its temporary files go under ``folder``, whose growth counts as its disk.

    Returns
    -------
    Any
        What the step returned (JSON: dicts, lists, strings, numbers).

    Raises
    ------
    LimitExceededError
        When a limit stopped it; the message names the limit's setting.
    RefusedError
        When the step refused its input, or the input crashed the child.
    ChildFailedError
        When the child failed for another reason.
    """
    temporary = folder / "tmp"
    temporary.mkdir(exist_ok=True)
    request = _Request(step=step, args=args, limits=limits, parent=os.getpid())
    environment = os.environ | CHILD_ENVIRONMENT | {"TMPDIR": str(temporary)}
    with (folder / LOG).open("wb") as log:
        child = subprocess.Popen(
            # -P: the work folder, its current directory, is not on its import path.
            [sys.executable, "-P", "-m", "featviz.sandbox", request.model_dump_json()],
            cwd=folder,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            # Its own session: a Ctrl-C meant for the worker's terminal does not reach it, and
            # the kill reaches anything it started.
            start_new_session=True,
        )
    try:
        ended = _watch(child, limits, folder)
    except BaseException:
        _kill(child)  # the caller was interrupted: leave nothing running
        child.wait()
        raise
    logger.info(
        "%s in a child: %.1f s, %.1f s of CPU, %s resident at most",
        step,
        ended.took_s,
        ended.cpu_s,
        format_bytes(ended.peak_bytes),
    )
    if ended.stopped is not None:
        raise ended.stopped
    report = _outcome(ended, limits, folder)
    if report.exceeded is not None:
        raise LimitExceededError(report.exceeded)
    if report.refused is not None:
        raise RefusedError(report.refused)
    return report.result


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux's PR_SET_PDEATHSIG), so a
    worker killed mid-check leaves nothing running."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the call
        os._exit(1)


def _run_step(request: _Request) -> _Report:
    module, function = request.step.split(":")
    try:
        step = getattr(importlib.import_module(module), function)
        return _Report(result=step(**request.args))
    except LimitExceededError as refusal:
        return _Report(exceeded=refusal.exceeded)
    except RefusedError as refusal:
        return _Report(refused=str(refusal))
    except MemoryError as error:
        memory = request.limits.memory
        return _Report(
            exceeded=Exceeded(limit=memory, what="the memory it needs", detail=str(error))
        )
    except OSError as error:
        if error.errno != errno.EFBIG:
            raise
        return _Report(exceeded=Exceeded(limit=request.limits.disk, what="a file written"))


def main(argv: list[str]) -> int:
    """The child: limits first, then the step; the report goes to ``REPORT`` in its folder."""
    request = _Request.model_validate(json.loads(argv[0]))
    _die_with_parent(request.parent)
    request.limits.apply()
    Path(REPORT).write_text(_run_step(request).model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
