"""Start, check and stop the servers under test, each a subprocess on a loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from benchmarks import BenchError
from punchclock.config import RATE_LIMIT_VARIABLES

ROOT = Path(__file__).resolve().parent.parent  # the repository
PORTS = range(19100, 20000)
STARTUP_TIMEOUT = 60.0  # seconds for a server to answer its first request
SHUTDOWN_TIMEOUT = 10.0  # seconds to exit after SIGTERM before it is killed
BASELINE_APP = "benchmarks.raw_asgi:app"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # per second, the unit of /proc/<pid>/stat's times


@dataclass
class Server:
    """A running server: where to reach it, its process and its output."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    workers: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(
                f"the {self.name} server exited with {self.process.returncode}:\n{self.tail()}"
            )

    def worker_pids(self) -> list[int]:
        """Return the pids that serve requests: the workers a server started, or the
        process itself when it serves alone (uvicorn with one worker).

        `punchclock serve` (granian) forks its workers, even one: they run the parent's
        command line. uvicorn spawns its workers (`spawn_main`) when it has several. Other
        children (a resource tracker) do not serve; hash workers are grandchildren."""
        own = _read(f"/proc/{self.process.pid}/cmdline")
        workers = [
            pid
            for pid in _children(self.process.pid)
            if (cmdline := _read(f"/proc/{pid}/cmdline")) == own or b"spawn_main" in cmdline
        ]
        return workers or [self.process.pid]

    def cpu_seconds(self) -> float:
        """Return the CPU time (user + system) the serving processes have used so far."""
        total = 0
        for pid in self.worker_pids():
            stat = _read(f"/proc/{pid}/stat")
            if stat:
                fields = stat[stat.rindex(b")") + 2 :].split()  # state is fields[0]
                total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / CLOCK_TICKS

    def memory_mb(self) -> dict[int, tuple[float, float]]:
        """Return each worker's resident set size now and at its peak (VmRSS, VmHWM), in MB."""
        sizes = {}
        for pid in self.worker_pids():
            status = dict(
                line.split(":", 1) for line in _read(f"/proc/{pid}/status").decode().splitlines()
            )
            if "VmRSS" in status and "VmHWM" in status:
                sizes[pid] = (_mb(status["VmRSS"]), _mb(status["VmHWM"]))
        return sizes

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def tracebacks(self) -> bool:
        return self.log.exists() and "Traceback" in self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM the process group, wait, then SIGKILL whatever is left."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        with contextlib.suppress(ProcessLookupError):  # workers the supervisor left behind
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """Return this environment without PUNCHCLOCK_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUNCHCLOCK_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return {**env, **extra}


def database_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {"PUNCHCLOCK_DATA_DIR": str(data_dir)}
    if database_url:
        env["PUNCHCLOCK_DATABASE_URL"] = database_url
    return env


def migrate(data_dir: Path, database_url: str | None = None) -> None:
    """Run `punchclock migrate`: the data dir, keys and schema, as `serve` makes them."""
    done = subprocess.run(
        [sys.executable, "-m", "punchclock", "migrate"],
        env=clean_env(database_env(data_dir, database_url)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"punchclock migrate failed:\n{done.stdout}{done.stderr}")


def start_punchclock(
    name: str,
    data_dir: Path,
    log: Path,
    workers: int,
    database_url: str | None = None,
    settings: dict[str, str] | None = None,
) -> Server:
    """Start `punchclock serve` on a free port, with the data dir already migrated; its
    defaults (access log on) unless `settings` (PUNCHCLOCK_* variables) say otherwise."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "punchclock",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]

    def env(port: int) -> dict[str, str]:
        return clean_env(
            {
                **database_env(data_dir, database_url),
                "PUNCHCLOCK_PUBLIC_URL": f"http://127.0.0.1:{port}",
                # the log-in scenarios measure hashing capacity: one caller logs in to one
                # account hundreds of times at once, which the limits rightly refuse
                **{name: "off" for name in RATE_LIMIT_VARIABLES.values()},
                **(settings or {}),
            }
        )

    return _start(name, command, env, log, workers)


def start_bare(name: str, log: Path, workers: int) -> Server:
    """Start the yardstick: the raw ASGI app on uvicorn's own command line, with httptools
    and uvloop and no access log, nothing of punchclock's in the way."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            BASELINE_APP,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]

    return _start(name, command, lambda port: clean_env({}), log, workers)


def start_bare_granian(name: str, log: Path, workers: int) -> Server:
    """Start the raw ASGI app on granian as `punchclock serve` runs it (HTTP/1, one runtime
    thread, uvloop): the fastest Python server this machine has, doing nothing."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--http",
            "1",
            "--runtime-mode",
            "st",
            "--loop",
            "uvloop",
            "--no-ws",
            "--log-level",
            "warning",
            BASELINE_APP,
        ]

    return _start(name, command, lambda port: clean_env({}), log, workers)


def start_old_baseline(name: str, log: Path, workers: int) -> Server:
    """Start the yardstick of the hot-path issue: the raw ASGI app served as punchclock was
    served then, through uvicorn's own access log (benchmarks/serve.py)."""

    def command(port: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "benchmarks.serve",
            "--app",
            BASELINE_APP,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]

    return _start(name, command, lambda port: clean_env({}), log, workers)


def _start(
    name: str,
    command: Callable[[int], list[str]],
    env: Callable[[int], dict[str, str]],
    log: Path,
    workers: int,
) -> Server:
    for _attempt in range(3):  # another program may take the port between probe and bind
        port = free_port()
        with log.open("ab") as output:
            process = subprocess.Popen(  # noqa: S603 - our own arguments
                command(port),
                cwd=ROOT,
                env=env(port),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, stopped as one
            )
        server = Server(name=name, port=port, process=process, log=log, workers=workers)
        try:
            _wait_until_answering(server)
        except BenchError:
            server.stop()
            if "address already in use" in server.tail().lower():
                continue
            raise
        except BaseException:
            server.stop()
            raise
        return server
    raise BenchError(f"no free port for the {name} server in {PORTS.start}-{PORTS.stop - 1}")


@contextlib.contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """Yield `url` on a new schema of its own (its search_path); drop the schema afterwards."""
    schema = f"punchclock_bench_{secrets.token_hex(6)}"

    async def execute(sql: str) -> None:
        db = await asyncpg.connect(url, timeout=10)
        try:
            await db.execute(sql)
        finally:
            await db.close()

    try:
        asyncio.run(execute(f"CREATE SCHEMA {schema}"))
    except (OSError, asyncpg.PostgresError) as e:
        raise BenchError(f"cannot use PostgreSQL at the given URL: {e!r}") from None
    try:
        yield f"{url}{'&' if urlsplit(url).query else '?'}search_path={schema}"
    finally:
        asyncio.run(execute(f"DROP SCHEMA {schema} CASCADE"))


def free_port() -> int:
    """Return a port in PORTS that nothing listens on now, starting from a random one."""
    offset = random.randrange(len(PORTS))  # noqa: S311 - spreads concurrent runs apart
    for i in range(len(PORTS)):
        port = PORTS[(offset + i) % len(PORTS)]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise BenchError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def _wait_until_answering(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        server.check_alive()
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2.0)
        try:
            connection.request("GET", "/api/v9/me/logged")
            connection.getresponse().read()
        except OSError:
            time.sleep(0.05)
        else:
            return
        finally:
            connection.close()
    raise BenchError(
        f"the {server.name} server did not answer on {server.base_url} within "
        f"{STARTUP_TIMEOUT:.0f} s:\n{server.tail()}"
    )


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read(f"/proc/{entry.name}/stat")
            # the fields after the command name (in parentheses): state, ppid, ...
            if stat and int(stat[stat.rindex(b")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _mb(kib: str) -> float:
    return round(int(kib.split()[0]) * 1024 / 1e6, 1)  # "12345 kB" -> MB of 10^6 bytes


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""
