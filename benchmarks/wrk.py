"""Drive a server with wrk and read its figures from a Lua `done()` hook, as JSON.

Every run has a duration and a per-request timeout, and the process is killed if it
outlives them, so a run always ends.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import BenchError

MARKER = "WRK_JSON "
GRACE = 15.0  # seconds wrk may run past its duration before it is killed

# Runs in wrk's main Lua state once every thread has finished; times are microseconds.
# errors.status counts answers with a status above 399.
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,'
    .. '"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\\n',
    MARKER, summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9)))
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    """What to send. With `rotate`, each request takes the next header set in turn."""

    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    rotate: Sequence[Mapping[str, str]] = ()


@dataclass(frozen=True, slots=True)
class Settings:
    connections: int
    duration: int  # seconds: wrk takes whole seconds only
    threads: int = 1
    timeout: int = 10  # seconds: slower answers count as timeouts


@dataclass(frozen=True, slots=True)
class Result:
    requests: int
    seconds: float
    rps: float
    latency_ms: dict[str, float]  # min, mean, stdev, max, p50, p90, p99, p999
    errors: dict[str, int]  # connect, read, write, status (>399), timeout
    connections: int

    @property
    def p50_ms(self) -> float:
        return self.latency_ms["p50"]

    @property
    def p99_ms(self) -> float:
        return self.latency_ms["p99"]

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "latency_ms": self.latency_ms,
            "errors": self.errors,
            "connections": self.connections,
        }


def executable() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise BenchError("wrk is not installed and cannot be installed here: apt-get install wrk")
    return path


def version() -> str:
    done = subprocess.run(  # noqa: S603 - our own arguments
        [executable(), "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return (done.stdout or done.stderr).splitlines()[0].strip()


class Run:
    """One wrk process; `result()` waits for it and reads its figures."""

    def __init__(self, base_url: str, load: Load, settings: Settings, script: Path) -> None:
        script.write_text(_script(load, base_url))
        self.settings = settings
        self.command = [
            executable(),
            f"-t{settings.threads}",
            f"-c{settings.connections}",
            f"-d{settings.duration}s",
            f"--timeout={settings.timeout}s",
            f"-s{script}",
            base_url + load.path,
        ]
        self._process = subprocess.Popen(  # noqa: S603 - our own arguments
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> Result:
        try:
            out, err = self._process.communicate(timeout=self.settings.duration + GRACE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise BenchError(f"wrk did not finish: {' '.join(self.command)}") from None
        lines = [line for line in out.splitlines() if line.startswith(MARKER)]
        if self._process.returncode != 0 or not lines:
            raise BenchError(
                f"wrk failed (exit {self._process.returncode}): {' '.join(self.command)}\n"
                f"{out}{err}"
            )
        raw = json.loads(lines[-1][len(MARKER) :])
        seconds = raw["duration_us"] / 1e6
        return Result(
            requests=raw["requests"],
            seconds=seconds,
            rps=raw["requests"] / seconds if seconds > 0 else 0.0,
            latency_ms={k: round(v / 1000, 3) for k, v in raw["latency_us"].items()},
            errors=raw["errors"],
            connections=self.settings.connections,
        )

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def run(base_url: str, load: Load, settings: Settings, script: Path) -> Result:
    run = Run(base_url, load, settings, script)
    try:
        return run.result()
    finally:
        run.kill()


def _lua(value: str) -> str:
    if not value.isascii() or not value.isprintable():
        raise ValueError(f"only printable ASCII goes into wrk scripts: {value!r}")
    return json.dumps(value)  # then a JSON string is a valid Lua string literal


def _lua_headers(headers: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"[{_lua(k)}] = {_lua(v)}" for k, v in headers.items()) + "}"


def _script(load: Load, base_url: str) -> str:
    host = base_url.split("://", 1)[1].rstrip("/")
    lines = [
        f"MARKER = {_lua(MARKER)}",
        f"wrk.method = {_lua(load.method)}",
        f"wrk.path = {_lua(load.path)}",
    ]
    for name, value in load.headers.items():
        lines.append(f"wrk.headers[{_lua(name)}] = {_lua(value)}")
    if load.body is not None:
        lines.append(f"wrk.body = {_lua(load.body)}")
    if load.rotate:
        variants = ",\n  ".join(_lua_headers(h) for h in load.rotate)
        lines += [
            f"local variants = {{\n  {variants}\n}}",
            "local requests = {}",
            "local next_request = 0",
            "init = function(args)",
            "  for i, extra in ipairs(variants) do",
            f'    local headers = {{["Host"] = {_lua(host)}}}',
            "    for k, v in pairs(wrk.headers) do headers[k] = v end",
            "    for k, v in pairs(extra) do headers[k] = v end",
            "    requests[i] = wrk.format(nil, nil, headers)",
            "  end",
            "  next_request = math.random(#requests) - 1",  # threads start apart
            "end",
            "request = function()",
            "  next_request = next_request % #requests + 1",
            "  return requests[next_request]",
            "end",
        ]
    return "\n".join(lines) + "\n" + _DONE


def combined(results: Sequence[Result]) -> Result:
    """Return several runs of one load as one: requests and time summed, latencies the
    request-weighted mean of each run's (percentiles of the runs' histograms would need
    the histograms; the runs are of equal length, so this is close)."""
    if len(results) == 1:
        return results[0]
    requests = sum(r.requests for r in results)
    seconds = sum(r.seconds for r in results)
    weights = [r.requests / requests if requests else 1 / len(results) for r in results]
    latency = {
        k: round(sum(w * r.latency_ms[k] for w, r in zip(weights, results, strict=True)), 3)
        for k in results[0].latency_ms
    }
    latency["min"] = min(r.latency_ms["min"] for r in results)
    latency["max"] = max(r.latency_ms["max"] for r in results)
    errors = {k: sum(r.errors[k] for r in results) for k in results[0].errors}
    return Result(
        requests=requests,
        seconds=seconds,
        rps=requests / seconds if seconds > 0 else 0.0,
        latency_ms=latency,
        errors=errors,
        connections=results[0].connections,
    )
