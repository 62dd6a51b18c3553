"""The drain's decision, as pure arithmetic: when a stopping worker finishes its job and when it
hands it back."""

from __future__ import annotations

from worker.drain import Drain, seconds_left


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_worker_not_draining_hands_nothing_back() -> None:
    drain = Drain(grace_s=10, clock=Clock())
    assert not drain.draining
    assert not drain.hands_back(None)
    assert not drain.hands_back(1e9)


def test_a_job_that_ends_within_the_grace_is_finished_and_any_other_handed_back() -> None:
    clock = Clock()
    drain = Drain(grace_s=10, clock=clock)
    drain.begin()
    assert drain.draining
    assert not drain.hands_back(9.5)
    assert drain.hands_back(10.5)
    assert drain.hands_back(None), "no pace yet: no promise it ends in time"


def test_the_grace_counts_from_the_first_signal() -> None:
    clock = Clock()
    drain = Drain(grace_s=10, clock=clock)
    drain.begin()
    clock.now += 6
    drain.begin()  # Kubernetes' SIGTERM after the preStop hook's
    assert not drain.hands_back(3.5)
    assert drain.hands_back(4.5), "a job that slowed down is handed back before the grace ends"


def test_the_time_left_follows_the_pace_so_far() -> None:
    assert seconds_left(done=0, total=100, elapsed_s=5) is None
    assert seconds_left(done=25, total=100, elapsed_s=5) == 15
    assert seconds_left(done=100, total=100, elapsed_s=5) == 0
