"""argon2 in worker processes that hand results straight to the event loop.

Why not threads: argon2-cffi releases the GIL while it hashes, but a hash thread must
take the GIL again before and after every hash. Under a log-in flood that happens a
hundred times a second, and each time the event loop may wait for a thread the kernel
has not scheduled yet: /me answers stalled for 4-5 ms (one scheduler tick) at the 99th
percentile, whatever the threads' priority. Worker processes hold no lock the loop
needs, and their pipes are read by the loop itself, so no other thread of the server
runs Python while it serves requests.

Run as `python -m punchclock.hashworkers TIME_COST MEMORY_KIB PARALLELISM`, a worker reads
one JSON request per line on stdin and writes one JSON answer per line on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys

import argon2
import msgspec
from argon2.exceptions import InvalidHashError, VerificationError

Params = tuple[int, int, int]  # time cost, memory in KiB, parallelism


def new_hasher(params: Params) -> argon2.PasswordHasher:
    time_cost, memory_cost, parallelism = params
    return argon2.PasswordHasher(
        time_cost=time_cost,
        memory_cost=memory_cost,
        parallelism=parallelism,
        type=argon2.Type.ID,
    )


def compute(hasher: argon2.PasswordHasher, op: str, args: list[str]) -> str | bool:
    """Do one request: ("hash", password) -> hash, ("verify", hash, password) -> bool."""
    if op == "hash":
        return hasher.hash(args[0])
    try:
        return hasher.verify(args[0], args[1])
    except (VerificationError, InvalidHashError):
        return False


def yield_cpu() -> None:
    """Let every request-serving thread on the machine go first (SCHED_IDLE, Linux only).

    Hashing still gets every cycle nobody else wants, so log-ins run at the hash limit.
    """
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


class WorkerDied(Exception):
    """A hash worker process exited; the request that was using it fails."""


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def call(self, request: bytes) -> str | bool:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        try:
            stdin.write(request)
            await stdin.drain()
        except ConnectionError:  # its end of the pipe is closed: it has exited
            raise WorkerDied("a hash worker process exited") from None
        line = await stdout.readline()
        if not line:
            raise WorkerDied("a hash worker process exited")
        result: str | bool = msgspec.json.decode(line)
        return result


class HashWorkers:
    """A fixed number of hash worker processes, started at first use, one request each."""

    def __init__(self, params: Params, count: int) -> None:
        self._params = params
        self._count = count
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: list[_Worker] = []
        self._starting = asyncio.Lock()
        self._replacing: set[asyncio.Task[None]] = set()
        self._closed = False

    async def run(self, op: str, *args: str) -> str | bool:
        """Run one request on an idle worker; wait for one when all are busy."""
        idle = await self._started()
        worker = await idle.get()
        request = msgspec.json.encode([op, *args]) + b"\n"
        # Shielded: a caller that goes away must not leave an unread answer in the pipe
        # for the next caller to take as its own.
        call = asyncio.ensure_future(worker.call(request))
        call.add_done_callback(lambda done: self._release(worker, done))
        return await asyncio.shield(call)

    def _release(self, worker: _Worker, done: asyncio.Future[str | bool]) -> None:
        assert self._idle is not None
        if done.cancelled() or done.exception() is not None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
            self._workers.remove(worker)
            self._replace()
        else:
            self._idle.put_nowait(worker)

    def _replace(self) -> None:
        if self._closed:
            return

        async def spawn() -> None:
            worker = await self._spawn()
            assert self._idle is not None
            self._idle.put_nowait(worker)

        task = asyncio.ensure_future(spawn())
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _started(self) -> asyncio.Queue[_Worker]:
        if self._idle is None:
            async with self._starting:
                if self._idle is None:
                    idle: asyncio.Queue[_Worker] = asyncio.Queue()
                    for worker in await asyncio.gather(
                        *(self._spawn() for _ in range(self._count))
                    ):
                        idle.put_nowait(worker)
                    self._idle = idle
        return self._idle

    async def _spawn(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "punchclock.hashworkers",
            *(str(p) for p in self._params),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # Out of the server's process group: Ctrl-C or a SIGTERM to the group must not
            # kill a worker under a request the server is still finishing. A worker ends
            # when its stdin closes, which also happens if the server itself is killed.
            start_new_session=True,
        )
        worker = _Worker(process)
        self._workers.append(worker)
        return worker

    async def close(self) -> None:
        """Stop every worker: closing its stdin ends it; a stuck one is killed."""
        self._closed = True
        await asyncio.gather(*self._replacing, return_exceptions=True)
        for worker in self._workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in self._workers:
            try:
                await asyncio.wait_for(worker.process.wait(), timeout=5)
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
        self._workers.clear()

    def alive(self) -> bool:
        """Tell whether a worker can take a request: one runs, or they start at first use.

        Workers found dead while idle are replaced here, so that a pool killed from
        outside heals without waiting for a request to find out (a readiness probe that
        takes the server out of rotation would otherwise keep it out for good).
        """
        if self._closed:
            return False
        if self._idle is None:
            return True
        running = sum(1 for worker in self._workers if worker.process.returncode is None)
        if running < len(self._workers) and not self._replacing:
            self._replace_dead_idle(self._idle)
        return running > 0

    def _replace_dead_idle(self, idle: asyncio.Queue[_Worker]) -> None:
        waiting = [idle.get_nowait() for _ in range(idle.qsize())]
        for worker in waiting:
            if worker.process.returncode is None:
                idle.put_nowait(worker)
            else:
                self._workers.remove(worker)
                self._replace()

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]


def main(argv: list[str]) -> int:
    """Serve hash requests on stdin until it closes."""
    params = (int(argv[0]), int(argv[1]), int(argv[2]))
    for ending in (signal.SIGINT, signal.SIGTERM):  # the server ends us by closing stdin
        signal.signal(ending, signal.SIG_IGN)
    yield_cpu()
    hasher = new_hasher(params)
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        op, *args = msgspec.json.decode(line)
        out.write(msgspec.json.encode(compute(hasher, op, args)) + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
