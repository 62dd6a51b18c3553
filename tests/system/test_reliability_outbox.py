"""A task recorded but never sent (its sender died in between) is sent by a reaper: nothing is
left queued forever."""

from __future__ import annotations

import time

from api.submit import plan_jobs
from featviz import outbox
from featviz.records import WorkerInfo
from featviz.settings import hash_api_key
from featviz.specs import JobSpec
from featviz.store import JobStore, NewJob, new_job_id
from featviz.user_models import ModelStore
from tests.helpers.reliability_stack import SHORT_JOB, ReliabilityStack
from tests.helpers.service_stack import API_KEY


def test_a_job_whose_api_died_before_sending_it_still_runs(
    breakable_stack: ReliabilityStack,
) -> None:
    stack = breakable_stack
    stack.workers_ready()
    jobs = plan_jobs(
        "job", JobSpec.model_validate(SHORT_JOB), hash_api_key(API_KEY), stack.settings
    )
    recorded_at = time.monotonic()
    job_id = stack.store.create(jobs)  # what the API records; it "dies" before enqueueing
    assert outbox.entry("run", job_id) in outbox.due(stack.store.redis, -60)
    job = stack.wait(job_id, timeout_s=90)
    assert job["status"] == "succeeded", job["error"]
    assert job["attempts"] == 1
    assert time.monotonic() - recorded_at >= stack.settings.outbox_grace_s
    assert outbox.entry("run", job_id) not in outbox.due(stack.store.redis, -60)


def test_the_last_pack_and_an_upload_record_their_tasks(clean_redis: str) -> None:
    store = JobStore.from_url(clean_redis)
    parent = NewJob(new_job_id(), "layer_job", "alice", {}, filters=2, packs=2)
    packs = [
        NewJob(new_job_id(), "pack", "alice", {"filters": [i]}, parent=parent.id) for i in range(2)
    ]
    store.create([parent, *packs])
    recorded = set(outbox.due(store.redis, -60))
    assert recorded == {outbox.entry("run", pack.id) for pack in packs}  # not the parent's

    for pack in packs:
        store.claim(pack.id, parent.id, WorkerInfo(host="test", pid=1), 3, lease_s=60)
    store.transition(packs[0].id, ["running"], "succeeded")
    assert outbox.entry("finish", parent.id) not in outbox.due(store.redis, -60)
    store.transition(packs[1].id, ["running"], "succeeded")
    assert outbox.entry("finish", parent.id) in outbox.due(store.redis, -60)

    ModelStore(store.redis).create("mdl_" + "0" * 28, "alice", "tiny", "[0,1]", 10)
    assert outbox.entry("validate", "mdl_" + "0" * 28) in outbox.due(store.redis, -60)
    outbox.sent(store.redis, outbox.due(store.redis, -60))
    assert outbox.due(store.redis, -60) == []
