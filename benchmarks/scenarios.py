"""The benchmark's scenarios, in the order they run, against servers this module starts.

To add a scenario: a method on Bench that starts what it needs (`self.started(...)`),
calls `self.measure(server, key, label, load, credential=...)` for each figure, and is
called from `run()` under a group of GROUPS; give its key a place in report.ORDER and, if
the issue sets it a target, a line in report.targets().
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import itertools
import json
import secrets
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import BenchError, forward_auth, hashing, seeding, servers, wrk
from benchmarks.servers import Server

# what --scenarios may choose; the baseline always runs; postgres needs a --postgres-url
GROUPS = ("me", "logins", "scale", "postgres", "pages", forward_auth.GROUP)
COOKIE = "__Secure-accounts-session"


@dataclass(frozen=True, slots=True)
class Options:
    quick: bool
    duration: int  # seconds per measured run
    connections: int  # for /me and the baseline
    probe_connections: int  # /me during the log-in flood, and its idle twin
    flood_connections: int  # log-ins in flight
    login_duration: int  # seconds per log-in run
    warmup: int  # seconds of unmeasured load on a fresh server
    timeout: int  # seconds before wrk counts a request as timed out
    workers: int
    small_accounts: int
    large_accounts: int
    verify_samples: int
    groups: frozenset[str]
    postgres_url: str | None = None  # a server the postgres scenario may make a schema on


def basic(username: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def me(headers: dict[str, str]) -> wrk.Load:
    return wrk.Load(path="/api/v9/me", headers=headers)


def log_in_load(email: str) -> wrk.Load:
    body = json.dumps({"email": email, "password": seeding.PASSWORD, "remember_me": False})
    return wrk.Load(
        method="POST",
        path="/api/sessions",
        headers={"Content-Type": "application/json"},
        body=body,
    )


class Bench:
    """Runs the scenarios and keeps every figure they produce."""

    def __init__(self, options: Options, workdir: Path, stack: contextlib.ExitStack) -> None:
        self.options = options
        self.workdir = workdir
        self._stack = stack
        self._runs = itertools.count(1)
        self.scenarios: dict[str, dict[str, Any]] = {}
        self.seeding: dict[str, dict[str, Any]] = {}
        self.rss: dict[str, dict[str, Any]] = {}
        self.hash_limit: hashing.HashLimit | None = None  # timed right before the log-ins
        self.hash_at_start: hashing.HashLimit | None = None  # timed first, if timed again
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self._password_hash = ""

    # -- the plan -----------------------------------------------------------------------------

    def run(self) -> None:
        o = self.options
        # First, while nothing else runs: the time one argon2 verify takes here.
        self.say(f"timing {o.verify_samples} argon2id verifies")
        self.hash_limit = hashing.measure(o.verify_samples)
        self._password_hash = hashing.hash_password(seeding.PASSWORD, self.hash_limit.params)
        self.say(
            f"  verify {self.hash_limit.verify_seconds * 1000:.1f} ms median, "
            f"{self.hash_limit.cores} cores: hash limit {self.hash_limit.per_second:.1f} log-ins/s"
        )

        self.baseline("baseline")
        self.old_baseline()

        small, seeded = self.punchclock("small", o.small_accounts)
        if "me" in o.groups:
            self.me_scenarios(small)
            self.access_log_cost(small)
        if "scale" in o.groups:
            self.by_rotating_tokens(small, "me_token_small_db", seeded)
        if "logins" in o.groups:
            self.log_in_scenarios(small)
        if "pages" in o.groups:
            self.page_scenario(small)
        if forward_auth.GROUP in o.groups:
            forward_auth.run(self, small)
        if "scale" in o.groups:
            self.rss["small_db"] = self.rss_of(small, seeded.count)
        self.stop(small)

        if "scale" in o.groups:
            large, seeded = self.punchclock("large", o.large_accounts)
            self.by_rotating_tokens(large, "me_token_large_db", seeded)
            # Log-ins too before RSS is read: argon2's memory is part of a worker's size.
            logins = self.measure(
                large,
                "logins_large_db",
                f"log-ins, {seeded.count:,} accounts",
                log_in_load(seeding.email_of(seeded.count)),
                credential="email:password (JSON)",
                connections=o.flood_connections,
                warm=False,
                accounts=seeded.count,
            )
            self.check_hashing(logins)
            self.rss["large_db"] = self.rss_of(large, seeded.count)
            self.stop(large)

        if "postgres" in o.groups:
            self.postgres_scenario()

        if not o.quick:  # a second baseline shows how much the machine drifted meanwhile
            self.baseline("baseline_end")

    def baseline(self, key: str) -> None:
        """The yardstick: the bare server (raw ASGI on uvicorn, httptools, uvloop, no log)."""
        self.say("starting the bare server")
        server = self.started(servers.start_bare("bare", self.log(), self.options.workers))
        label = "baseline: bare uvicorn, raw ASGI, no access log" + (
            ", again at the end" if key != "baseline" else ""
        )
        self.measure(server, key, label, wrk.Load(path="/"), credential="none")
        self.stop(server)

    def old_baseline(self) -> None:
        """The hot-path issue's yardstick, shown beside the new one: the raw ASGI app served
        through uvicorn's access log, as punchclock was served then."""
        self.say("starting the old baseline")
        server = self.started(
            servers.start_old_baseline("old-baseline", self.log(), self.options.workers)
        )
        label = "old baseline: raw ASGI with uvicorn's access log"
        self.measure(server, "baseline_old", label, wrk.Load(path="/"), credential="none")
        self.stop(server)

    def punchclock(self, name: str, accounts: int) -> tuple[Server, seeding.Seeded]:
        data_dir = self.workdir / f"data-{name}"
        servers.migrate(data_dir)
        self.say(f"seeding {accounts:,} accounts into the {name} database")
        seeded = seeding.seed_accounts(
            data_dir / "punchclock.sqlite3", data_dir, accounts, self._password_hash
        )
        size = (data_dir / "punchclock.sqlite3").stat().st_size
        self.seeding[f"{name}_db"] = {
            "accounts": accounts,
            "seconds": round(seeded.seconds, 2),
            "database_mb": round(size / 1e6, 1),
        }
        self.say(f"  {seeded.seconds:.1f} s, {size / 1e6:.0f} MB")
        self.say(f"starting punchclock on the {name} database")
        server = self.started(
            servers.start_punchclock(
                f"punchclock-{name}", data_dir, self.log(), self.options.workers
            )
        )
        return server, seeded

    def me_scenarios(self, server: Server) -> None:
        token = seeding.token_of(1)
        by_token = me(basic(token, "api_token"))
        self.measure(server, "me_token", "/me by API token", by_token, credential="api token")
        session = log_in(server, seeding.email_of(2))
        self.measure(
            server,
            "me_cookie",
            "/me by session cookie",
            me({"Cookie": f"{COOKIE}={session}"}),
            credential="session cookie",
        )
        self.measure(
            server,
            "me_password",
            "/me by email:password, repeat caller",
            me(basic(seeding.email_of(3), seeding.PASSWORD)),
            credential="email:password",
        )
        self.measure(
            server,
            "me_wrong_token",
            "403 on a wrong token",
            me(basic(secrets.token_hex(16), "api_token")),
            credential="wrong api token",
            expect_status=403,
        )

    def page_scenario(self, server: Server) -> None:
        """GET /login as a first visit: a form token, a browser cookie and a rendered page."""
        self.measure(
            server, "login_page", "GET /login (a page)", wrk.Load(path="/login"), credential="none"
        )

    def access_log_cost(self, logged: Server) -> None:
        """/me by token with the access log on (as served by default) and off, in turns on
        two servers of one database, so that both halves meet the same machine."""
        data_dir = self.workdir / "data-small"
        quiet = self.started(
            servers.start_punchclock(
                "punchclock-no-access-log",
                data_dir,
                self.log(),
                self.options.workers,
                settings={"PUNCHCLOCK_ACCESS_LOG": "off"},
            )
        )
        load = me(basic(seeding.token_of(1), "api_token"))
        rounds = 1 if self.options.quick else 3
        duration = max(1, self.options.duration // rounds)
        runs: dict[str, list[wrk.Result]] = {"on": [], "off": []}
        cpu = {"on": 0.0, "off": 0.0}  # seconds the server itself spent, steadier than req/s
        for _ in range(rounds):
            for state, server in (("on", logged), ("off", quiet)):
                self.warm_up(server, load, self.options.connections, 200)
                self.say(f"  /me by token, access log {state} ({duration} s)")
                before = server.cpu_seconds()
                result = wrk.run(
                    server.base_url, load, self.settings(duration=duration), self.script(state)
                )
                cpu[state] += server.cpu_seconds() - before
                self.check(server, f"access log {state}", result, 200)
                runs[state].append(result)
        for state, server in (("on", logged), ("off", quiet)):
            combined = wrk.combined(runs[state])
            self.record(
                server,
                f"me_token_access_log_{state}",
                f"/me by token, access log {state} (in turns)",
                load,
                combined,
                credential="api token",
                server_cpu_us_per_request=round(cpu[state] / combined.requests * 1e6, 2),
            )
        self.stop(quiet)

    def by_rotating_tokens(self, server: Server, key: str, seeded: seeding.Seeded) -> None:
        load = wrk.Load(
            path="/api/v9/me",
            rotate=[basic(token, "api_token") for token in seeded.known_tokens],
        )
        self.measure(
            server,
            key,
            f"/me by token, {seeded.count:,} accounts",
            load,
            credential=f"{len(seeded.known_tokens)} api tokens in turn",
            accounts=seeded.count,
        )

    def log_in_scenarios(self, server: Server) -> None:
        """Log-ins at the hash limit, and /me's tail during them beside the bare server's
        tail during the very same flood: the flood costs every server on these cores
        something, and what punchclock must not do is add a tail of its own."""
        o = self.options
        timed = [self.time_hashing()]
        bare = self.started(servers.start_bare("bare-control", self.log(), o.workers))
        granian = self.started(
            servers.start_bare_granian("bare-granian-control", self.log(), o.workers)
        )
        probe = me(basic(seeding.token_of(1), "api_token"))
        bare_probe = wrk.Load(path="/")
        logins = log_in_load(seeding.email_of(4))
        self.measure(
            server,
            "me_token_idle",
            "/me by token, idle (probe)",
            probe,
            credential="api token",
            connections=o.probe_connections,
        )
        self.measure(
            bare,
            "bare_probe_idle",
            "control: bare server probe, idle",
            bare_probe,
            credential="none",
            connections=o.probe_connections,
        )
        result = self.measure(
            server,
            "logins",
            "log-ins, POST /api/sessions",
            logins,
            credential="email:password (JSON)",
            connections=o.flood_connections,
            duration=o.login_duration,
            warm=False,
        )
        timed.append(self.time_hashing())
        self.judge_hashing_by(*timed)
        self.check_hashing(result)
        # One flood; the two probes take turns during it, so both meet the same load.
        lead = 1  # second: the flood is under way before a probe starts, ends after both
        rounds = 1 if o.quick else 2
        half = max(1, o.duration // rounds)
        self.say("  /me and the bare server, probed in turns during a log-in flood")
        flood = wrk.Run(
            server.base_url,
            logins,
            self.settings(o.flood_connections, 3 * rounds * half + 2 * lead),
            self.script("flood"),
        )
        probed: dict[str, list[wrk.Result]] = {"punchclock": [], "bare": [], "granian": []}
        try:
            time.sleep(lead)
            for _ in range(rounds):
                for name, target, load in (
                    ("punchclock", server, probe),
                    ("bare", bare, bare_probe),
                    ("granian", granian, bare_probe),
                ):
                    probed[name].append(
                        wrk.run(
                            target.base_url,
                            load,
                            self.settings(o.probe_connections, half),
                            self.script(f"probe-{name}"),
                        )
                    )
            flooded = flood.result()
        finally:
            flood.kill()
        self.check(server, "logins during the probes", flooded, 200)
        for name, target in (("punchclock", server), ("bare", bare), ("granian", granian)):
            self.check(
                target, f"{name} probe during a log-in flood", wrk.combined(probed[name]), 200
            )
        self.record(
            server,
            "me_token_during_logins",
            "/me by token, during a log-in flood",
            probe,
            wrk.combined(probed["punchclock"]),
            credential="api token",
            flood=flooded.as_json(),
        )
        self.record(
            bare,
            "bare_probe_during_logins",
            "control: bare server probe, same flood",
            bare_probe,
            wrk.combined(probed["bare"]),
            credential="none",
        )
        # what the server punchclock runs on does under the same flood, serving nothing
        self.record(
            granian,
            "bare_granian_probe_during_logins",
            "control: bare granian probe, same flood",
            bare_probe,
            wrk.combined(probed["granian"]),
            credential="none",
        )
        self.stop(granian)
        self.stop(bare)

    def time_hashing(self) -> tuple[hashing.HashLimit, hashing.HashingAlone]:
        """Time one argon2 verify, then run the control: one process per core doing
        nothing but verify, all at once."""
        samples = self.options.verify_samples
        self.say(f"timing {samples} argon2id verifies, then the same on every core at once")
        limit = hashing.measure(samples)
        alone = hashing.measure_alone(samples)
        self.say(
            f"  verify {limit.verify_seconds * 1000:.1f} ms median: hash limit "
            f"{limit.per_second:.1f}/s; argon2 alone on {limit.cores} cores at once: "
            f"{alone.verifies_per_second:.1f}/s"
        )
        return limit, alone

    def judge_hashing_by(self, *timed: tuple[hashing.HashLimit, hashing.HashingAlone]) -> None:
        """Judge the log-ins by the hash limit timed right before and right after them.

        A shared machine's speed drifts within a run by more than the margin judged (one
        verify took 25 ms at a run's start and 21 ms minutes later), so the limit is timed
        beside the log-ins, on both sides, rather than once at the start."""
        self.hash_at_start = self.hash_limit
        self.hash_limit = limit = hashing.HashLimit.of([limit for limit, _ in timed])
        alone = hashing.HashingAlone.of([alone for _, alone in timed])
        share = alone.verifies_per_second / limit.per_second
        verifies = sorted(alone.verify_seconds)
        self.scenarios["hash_alone"] = {
            "label": "control: argon2 alone, a process per core, no server",
            "server": "none",
            "request": "argon2id verify",
            "credential": "none",
            "requests": len(verifies),
            "rps": round(alone.verifies_per_second, 1),
            "p50_ms": round(statistics.median(verifies) * 1000, 3),
            "p99_ms": round(verifies[min(len(verifies) - 1, int(len(verifies) * 0.99))] * 1000, 3),
            "vs_hash_limit": round(share, 4),
        }
        self.say(
            f"  hash limit {limit.per_second:.1f}/s (before and after the log-ins); "
            f"argon2 alone {alone.verifies_per_second:.1f}/s, {share:.1%} of it"
        )

    def postgres_scenario(self) -> None:
        """/me by token on PostgreSQL, in a schema of its own that is dropped afterwards."""
        url = self.options.postgres_url
        if not url:
            self.warnings.append("postgres scenario skipped: no --postgres-url")
            self.say("skipping PostgreSQL: no --postgres-url (or PUNCHCLOCK_TEST_POSTGRES_URL)")
            return
        with servers.postgres_schema(url) as schema_url:
            data_dir = self.workdir / "data-postgres"
            servers.migrate(data_dir, database_url=schema_url)
            self.say("starting punchclock on PostgreSQL")
            server = self.started(
                servers.start_punchclock(
                    "punchclock-postgres",
                    data_dir,
                    self.log(),
                    self.options.workers,
                    database_url=schema_url,
                )
            )
            try:
                token = sign_up(server, seeding.email_of(1))
                self.measure(
                    server,
                    "me_token_postgres",
                    "/me by API token, PostgreSQL",
                    me(basic(token, "api_token")),
                    credential="api token",
                )
            finally:
                self.stop(server)

    # -- the steps ------------------------------------------------------------------------------

    def started(self, server: Server) -> Server:
        """Have `server` stopped however the run ends."""
        self._stack.callback(server.stop)
        return server

    def log(self) -> Path:
        return self.workdir / f"server-{next(self._runs):02d}.log"

    def stop(self, server: Server) -> None:
        server.check_alive()
        server.stop()
        if server.tracebacks():
            self.errors.append(f"the {server.name} server logged an error:\n{server.tail()}")

    def settings(self, connections: int | None = None, duration: int | None = None) -> wrk.Settings:
        o = self.options
        return wrk.Settings(
            connections=connections or o.connections,
            duration=duration or o.duration,
            timeout=o.timeout,
        )

    def script(self, name: str) -> Path:
        folder = self.workdir / "wrk"
        folder.mkdir(exist_ok=True)
        return folder / f"{next(self._runs):02d}-{name}.lua"

    def warm_up(self, server: Server, load: wrk.Load, connections: int, expect_status: int) -> None:
        """Send `load` unmeasured for a moment: caches fill, connections open, code warms."""
        if self.options.warmup > 0:
            settings = self.settings(connections, self.options.warmup)
            result = wrk.run(server.base_url, load, settings, self.script("warm-up"))
            self.check(server, "warm-up", result, expect_status)

    def measure(
        self,
        server: Server,
        key: str,
        label: str,
        load: wrk.Load,
        *,
        credential: str,
        expect_status: int = 200,
        connections: int | None = None,
        duration: int | None = None,
        warm: bool = True,
        **extra: Any,
    ) -> wrk.Result:
        settings = self.settings(connections, duration)
        if warm:
            self.warm_up(server, load, settings.connections, expect_status)
        self.say(f"  {label} ({settings.duration:g} s, {settings.connections} connections)")
        result = wrk.run(server.base_url, load, settings, self.script(key))
        self.check(server, label, result, expect_status)
        self.record(server, key, label, load, result, credential=credential, **extra)
        return result

    def record(
        self,
        server: Server,
        key: str,
        label: str,
        load: wrk.Load,
        result: wrk.Result,
        *,
        credential: str,
        **extra: Any,
    ) -> None:
        self.scenarios[key] = {
            "label": label,
            "server": server.name,
            "request": f"{load.method} {load.path}",
            "credential": credential,
            **result.as_json(),
            **extra,
        }
        self.say(
            f"    {result.rps:,.1f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
        )

    def check(self, server: Server, label: str, result: wrk.Result, expect_status: int) -> None:
        """Raise BenchError unless every answer had the status the scenario expects."""
        server.check_alive()
        errors = result.errors
        if result.requests == 0:
            raise BenchError(f"{label}: no request completed ({errors})\n{server.tail()}")
        if errors["connect"]:
            raise BenchError(f"{label}: {errors['connect']} connections failed\n{server.tail()}")
        if expect_status < 400 and errors["status"]:
            raise BenchError(
                f"{label}: {errors['status']} of {result.requests} answers had a status of 400 "
                f"or more where {expect_status} was expected\n{server.tail()}"
            )
        if expect_status >= 400 and errors["status"] != result.requests:
            raise BenchError(
                f"{label}: {result.requests - errors['status']} of {result.requests} answers "
                f"were not {expect_status}"
            )
        if errors["timeout"] or errors["read"] or errors["write"]:
            self.warnings.append(f"{label}: wrk counted {errors}")

    def check_hashing(self, logins: wrk.Result) -> None:
        """Warn when log-ins outrun what argon2 allows: then some were not hashed."""
        assert self.hash_limit is not None
        if logins.rps > 1.2 * self.hash_limit.per_second:
            self.warnings.append(
                f"log-ins ran at {logins.rps:,.0f}/s, above the hash limit of "
                f"{self.hash_limit.per_second:.0f}/s: does every log-in verify its password?"
            )

    def rss_of(self, server: Server, accounts: int) -> dict[str, Any]:
        sizes = server.memory_mb()
        if not sizes:
            raise BenchError(f"no worker process found for the {server.name} server")
        rss = max(now for now, _ in sizes.values())
        peak = max(peak for _, peak in sizes.values())
        self.say(f"  RSS per worker at {accounts:,} accounts: {rss:.1f} MB (peak {peak:.1f} MB)")
        return {
            "accounts": accounts,
            "workers": len(sizes),
            "rss_mb": [now for now, _ in sizes.values()],
            "peak_mb": [peak for _, peak in sizes.values()],
            "max_mb": rss,
        }

    def baseline_rps(self) -> float:
        runs = [
            self.scenarios[k]["rps"] for k in ("baseline", "baseline_end") if k in self.scenarios
        ]
        return float(statistics.mean(runs))

    @staticmethod
    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def sign_up(server: Server, email: str) -> str:
    """Make an account by POST /api/signup and return its API token."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        body = json.dumps({"email": email, "password": seeding.PASSWORD, "timezone": "UTC"})
        connection.request("POST", "/api/signup", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise BenchError(f"sign-up as {email} gave {response.status}: {answer[:200]!r}")
        token: str = json.loads(answer)["api_token"]
        return token
    finally:
        connection.close()


def log_in(server: Server, email: str) -> str:
    """Log in by POST /api/sessions and return the session cookie's value."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        body = json.dumps({"email": email, "password": seeding.PASSWORD})
        connection.request(
            "POST", "/api/sessions", body, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie" and value.startswith(f"{COOKIE}="):
                return value.partition("=")[2].partition(";")[0]
        raise BenchError(f"log-in as {email} gave {response.status} and no session cookie")
    finally:
        connection.close()
