from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from punchclock.hashworkers import HashWorkers, WorkerDied

PARAMS = (1, 1024, 1)


@pytest.fixture
async def workers() -> AsyncIterator[HashWorkers]:
    pool = HashWorkers(PARAMS, 2)
    yield pool
    await pool.close()


async def test_workers_hash_and_verify_in_other_processes(workers: HashWorkers) -> None:
    digest = await workers.run("hash", "pässwörd 1")
    assert isinstance(digest, str)
    assert digest.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert await workers.run("verify", digest, "pässwörd 1") is True
    assert await workers.run("verify", digest, "pässwörd 2") is False
    assert await workers.run("verify", "not a hash", "x") is False
    assert os.getpid() not in workers.pids()
    assert len(workers.pids()) == 2


async def test_workers_yield_the_cpu_to_everything_else(workers: HashWorkers) -> None:
    await asyncio.gather(workers.run("hash", "one"), workers.run("hash", "two"))  # both ran
    for pid in workers.pids():
        assert os.sched_getscheduler(pid) == os.SCHED_IDLE
    assert os.sched_getscheduler(0) == os.SCHED_OTHER  # the server itself is left alone


async def test_many_requests_share_the_workers(workers: HashWorkers) -> None:
    results = await asyncio.gather(*(workers.run("hash", f"password {i}") for i in range(9)))
    assert len(set(results)) == 9
    assert len(workers.pids()) == 2


async def test_a_dead_worker_fails_its_request_and_is_replaced(workers: HashWorkers) -> None:
    await workers.run("hash", "warm up")
    victim = workers.pids()[0]
    os.kill(victim, 9)
    outcomes = await asyncio.gather(
        *(workers.run("hash", f"pw {i}") for i in range(4)), return_exceptions=True
    )
    assert any(isinstance(o, WorkerDied) for o in outcomes) or all(
        isinstance(o, str) for o in outcomes
    )
    for _ in range(100):  # the replacement starts in the background
        if len(workers.pids()) == 2 and victim not in workers.pids():
            break
        await asyncio.sleep(0.05)
    assert victim not in workers.pids()
    assert isinstance(await workers.run("hash", "after"), str)


async def test_a_caller_that_goes_away_does_not_leave_its_answer_to_the_next(
    workers: HashWorkers,
) -> None:
    slow = HashWorkers((3, 65536, 1), 1)
    try:
        first = asyncio.ensure_future(slow.run("hash", "first"))
        await asyncio.sleep(0.05)
        first.cancel()
        digest = await slow.run("hash", "second")
        assert isinstance(digest, str)
        assert await slow.run("verify", digest, "second") is True
    finally:
        await slow.close()


async def test_close_ends_every_worker(workers: HashWorkers) -> None:
    await workers.run("hash", "warm up")
    pids = workers.pids()
    await workers.close()
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
