from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

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


async def exited(pid: int) -> None:
    """Wait until the process has exited (a zombie not yet reaped counts)."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(500):
        try:
            state = stat.read_text().rpartition(")")[2].split()[0]  # noqa: ASYNC240 - /proc, no disk
            if state in ("Z", "X"):
                return
        except FileNotFoundError:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} did not exit")


async def test_a_dead_worker_fails_its_request_and_is_replaced() -> None:
    one = HashWorkers(PARAMS, 1)  # one worker: the next request is certain to meet the dead one
    try:
        await one.run("hash", "warm up")
        [victim] = one.pids()
        os.kill(victim, 9)
        await exited(victim)
        with pytest.raises(WorkerDied):
            await one.run("hash", "pw")
        assert isinstance(await one.run("hash", "after"), str)  # on its replacement
        [replacement] = one.pids()
        assert replacement != victim
    finally:
        await one.close()


async def test_a_caller_that_goes_away_does_not_leave_its_answer_to_the_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = HashWorkers((3, 65536, 1), 1)
    waiting = asyncio.Event()  # set once a request is written and its answer awaited
    readline = asyncio.StreamReader.readline

    async def awaited(reader: asyncio.StreamReader) -> bytes:
        waiting.set()
        return await readline(reader)

    try:
        await slow.run("hash", "warm up")
        monkeypatch.setattr(asyncio.StreamReader, "readline", awaited)
        first = asyncio.ensure_future(slow.run("hash", "first"))
        await waiting.wait()  # the worker is hashing "first"
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
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
