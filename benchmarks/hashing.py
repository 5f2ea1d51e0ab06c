"""The hash limit: how many log-ins per second the machine's cores can verify at most."""

from __future__ import annotations

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
