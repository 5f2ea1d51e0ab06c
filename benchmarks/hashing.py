"""The hash limit: how many log-ins per second the machine's cores can verify at most."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from dataclasses import dataclass
from typing import Any

import argon2

from punchclock.config import Argon2Params, Settings
from punchclock.passwords import normalize


@dataclass(frozen=True, slots=True)
class HashLimit:
    params: Argon2Params
    verify_seconds: float  # median of `samples` verifies on one thread
    samples: list[float]
    cores: int

    @classmethod
    def of(cls, timings: list[HashLimit]) -> HashLimit:
        """Return the limit of several timings' samples taken together."""
        samples = [t for timing in timings for t in timing.samples]
        return cls(timings[0].params, statistics.median(samples), samples, timings[0].cores)

    @property
    def per_second(self) -> float:
        """Return cores ÷ verify time: log-ins per second if hashing were all there is."""
        return self.cores / self.verify_seconds

    def as_json(self) -> dict[str, Any]:
        return {
            "argon2": {
                "type": "argon2id",
                "time_cost": self.params.time_cost,
                "memory_kib": self.params.memory_cost,
                "parallelism": self.params.parallelism,
            },
            "verify_ms_median": round(self.verify_seconds * 1000, 2),
            "verify_ms_samples": [round(s * 1000, 2) for s in self.samples],
            "cores": self.cores,
            "logins_per_second_limit": round(self.per_second, 1),
        }


@dataclass(frozen=True, slots=True)
class HashingAlone:
    """The control: one process per core doing nothing but verify, all at once."""

    verifies_per_second: float
    verify_seconds: list[float]  # every verify of every process, as it took

    @classmethod
    def of(cls, runs: list[HashingAlone]) -> HashingAlone:
        """Return several runs taken together: their mean rate, all their verifies."""
        return cls(
            statistics.mean(run.verifies_per_second for run in runs),
            [t for run in runs for t in run.verify_seconds],
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "verifies_per_second": round(self.verifies_per_second, 1),
            "verify_ms_median": round(statistics.median(self.verify_seconds) * 1000, 2),
        }


def default_params() -> Argon2Params:
    """Return the argon2 parameters punchclock uses when nothing is configured."""
    return Settings.from_env({}).argon2


def hasher(params: Argon2Params) -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        type=argon2.Type.ID,
    )


def hash_password(password: str, params: Argon2Params) -> str:
    """Return the hash punchclock would store for `password`."""
    return hasher(params).hash(normalize(password))


def measure(samples: int) -> HashLimit:
    """Time `samples` verifies of a correct password with the default parameters."""
    params = default_params()
    argon = hasher(params)
    password = normalize("bench-password-1")
    password_hash = argon.hash(password)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        argon.verify(password_hash, password)
        times.append(time.perf_counter() - started)
    return HashLimit(
        params=params,
        verify_seconds=statistics.median(times),
        samples=times,
        cores=os.cpu_count() or 1,
    )


def measure_alone(samples: int, cores: int | None = None) -> HashingAlone:
    """Time `samples` verifies in each of one process per core, started together.

    What the cores give when they do nothing but hash: memory-hard hashes running side by
    side share the caches and the memory bus, and two hardware threads may share a core,
    so this is below cores ÷ one verify, and no server's log-ins can beat it."""
    cores = cores or os.cpu_count() or 1
    start_at = time.monotonic() + 1.0  # every process is up and hashing from the same moment
    context = multiprocessing.get_context("spawn")
    with context.Pool(cores) as pool:
        runs = pool.starmap(_verify_from, [(start_at, samples)] * cores)
    return HashingAlone(
        verifies_per_second=sum(len(times) / sum(times) for times in runs),
        verify_seconds=[t for times in runs for t in times],
    )


def _verify_from(start_at: float, samples: int) -> list[float]:
    argon = hasher(default_params())
    password = normalize("bench-password-1")
    password_hash = argon.hash(password)
    time.sleep(max(0.0, start_at - time.monotonic()))
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        argon.verify(password_hash, password)
        times.append(time.perf_counter() - started)
    return times
