"""featviz.sandbox: real child processes under real limits, running steps that do on purpose
what hostile input makes a step do; each end is told apart and names the limit it hit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from featviz.limits import Limit, LimitExceededError, RefusedError
from featviz.sandbox import OOM_SCORE_ADJ, ChildFailedError, ChildLimits, run_limited
from featviz_cli.local_stack import eventually
from tests.helpers.paths import REPO_ROOT

STEPS = "tests.helpers.hostile_steps"
LIMITS = ChildLimits(
    memory=Limit(value=256 * 1024**2, setting="FEATVIZ_TEST_MEMORY", unit="bytes"),
    cpu=Limit(value=1, setting="FEATVIZ_TEST_CPU_S", unit="s"),
    disk=Limit(value=1024**2, setting="FEATVIZ_TEST_DISK", unit="bytes"),
    wall=Limit(value=15, setting="FEATVIZ_TEST_TIMEOUT_S", unit="s"),
)


@pytest.fixture(autouse=True)
def steps_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hostile steps live in the test tree, which a child started with ``-P`` from its work
    folder finds only on ``PYTHONPATH`` (it inherits the environment)."""
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))


def run(step: str, folder: Path, limits: ChildLimits = LIMITS, **args: object) -> object:
    return run_limited(f"{STEPS}:{step}", args, limits, folder)


def test_a_step_returns_its_result(tmp_path: Path) -> None:
    assert run("echo", tmp_path, size=3, name="x") == {"size": 3, "name": "x"}
    assert run("allocate", tmp_path, megabytes=64) == 64 * 1024**2
    assert run("oom_score_adj", tmp_path) == OOM_SCORE_ADJ, "the OOM killer takes it first"


@pytest.mark.parametrize(
    ("step", "args", "limit", "reason"),
    [
        # MemoryError: the allocation RLIMIT_DATA refuses.
        ("allocate", {"megabytes": 1024}, "memory", "the memory it needs exceeds"),
        # SIGXCPU from RLIMIT_CPU.
        ("spin", {}, "cpu", "CPU time exceeds"),
        # EFBIG from RLIMIT_FSIZE, on a file the folder's watch does not see.
        ("write_one_file", {"megabytes": 8}, "disk", "a file written exceeds"),
        # The parent's watch of the folder: each file under RLIMIT_FSIZE, together over it.
        ("write_many_files", {}, "disk", "disk written "),
    ],
)
def test_a_step_past_a_limit_is_refused_naming_it(
    step: str, args: dict[str, object], limit: str, reason: str, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    if step == "write_one_file":
        args = args | {"path": str(tmp_path / "elsewhere")}
    with pytest.raises(LimitExceededError) as refused:
        run(step, work, **args)
    broken = getattr(LIMITS, limit)
    assert refused.value.limit == broken
    assert reason in str(refused.value)
    assert str(refused.value).split(": ")[0].endswith(f"exceeds {broken}")


def test_a_hanging_step_is_stopped_at_the_wall_clock_limit(tmp_path: Path) -> None:
    short = LIMITS.model_copy(
        update={"wall": Limit(value=1, setting="FEATVIZ_TEST_TIMEOUT_S", unit="s")}
    )
    started = time.monotonic()
    with pytest.raises(
        LimitExceededError, match=r"time taken 1\.\d+ s exceeds FEATVIZ_TEST_TIMEOUT_S \(1 s\)"
    ):
        run("hang", tmp_path, short)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("SIGKILL", "was killed (SIGKILL)"),
        ("SIGSEGV", "crashed (SIGSEGV)"),
        ("SIGABRT", "crashed (SIGABRT)"),
    ],
)
def test_a_step_killed_by_a_signal_is_a_refusal_naming_the_memory_limit(
    name: str, reason: str, tmp_path: Path
) -> None:
    with pytest.raises(RefusedError) as refused:
        run("die", tmp_path, name=name)
    assert reason in str(refused.value)
    assert "FEATVIZ_TEST_MEMORY (256.0 MiB)" in str(refused.value)


def test_refusals_and_failures_are_told_apart(tmp_path: Path) -> None:
    with pytest.raises(RefusedError, match=r"^not for us$"):
        run("refuse", tmp_path, reason="not for us")
    with pytest.raises(ChildFailedError, match="RuntimeError: a bug in the step, not the input"):
        run("fail", tmp_path)


PARENT = """
import sys
from pathlib import Path
from featviz.sandbox import run_limited
from tests.test_sandbox_limits import LIMITS
run_limited("tests.helpers.hostile_steps:hang", {}, LIMITS, Path(sys.argv[1]))
"""


def test_a_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A worker killed mid-check leaves no check running (PR_SET_PDEATHSIG)."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            PARENT.replace("tests.test_sandbox_limits", __name__),
            str(tmp_path),
        ],
        env=os.environ | {"PYTHONPATH": os.getcwd()},
    )
    children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
    child = int(eventually(lambda: children.read_text().split() or None, 20, "the child")[0])
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    eventually(lambda: not Path(f"/proc/{child}").exists() or None, 10, "the child to die")
