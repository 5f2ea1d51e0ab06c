"""The targets of the issue, judged on a run's figures; the table and the JSON file."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import forward_auth

ORDER = (  # rows of the table, in the order the scenarios are told
    "baseline",
    "baseline_old",
    "me_token",
    "me_cookie",
    "login_page",
    "me_password",
    "me_wrong_token",
    "me_token_access_log_on",
    "me_token_access_log_off",
    "logins",
    "hash_alone",
    "me_token_idle",
    "bare_probe_idle",
    "me_token_during_logins",
    "bare_probe_during_logins",
    "bare_granian_probe_during_logins",
    "me_token_small_db",
    "me_token_large_db",
    "logins_large_db",
    "me_token_postgres",
    *forward_auth.KEYS,
    "baseline_end",
)


@dataclass(frozen=True, slots=True)
class Target:
    key: str  # the scenario judged, or "rss"
    name: str  # as the issue words it
    value: float
    shown: str  # the judged figure, e.g. "41.2 % of baseline"
    threshold: float
    wanted: str  # e.g. ">= 40 % of baseline"
    met: bool | None  # None when the run does not judge targets

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def targets(results: Mapping[str, Any]) -> list[Target]:
    """Return the issue's targets that this run's figures can speak to."""
    judged = bool(results["targets_judged"])
    scenarios: Mapping[str, Mapping[str, Any]] = results["scenarios"]
    base = results.get("baseline_rps") or 0.0
    found: list[Target] = []

    def add(
        key: str,
        name: str,
        value: float,
        shown: str,
        op: Callable[[float, float], bool],
        threshold: float,
        wanted: str,
    ) -> None:
        met = op(value, threshold) if judged else None
        found.append(Target(key, name, round(value, 4), shown, threshold, wanted, met))

    for key, name, threshold in (
        ("me_token", "/me by API token", 0.40),
        ("me_cookie", "/me by session cookie", 0.35),
        ("me_password", "/me by email:password, repeat caller", 0.30),
        ("me_wrong_token", "403 on a wrong token", 0.50),
        ("login_page", "GET /login, a server-rendered page", 0.25),
        ("me_token_postgres", "/me by API token on PostgreSQL", 0.20),
    ):
        if key in scenarios and base:
            ratio = scenarios[key]["rps"] / base
            add(
                key,
                name,
                ratio,
                f"{ratio:.1%} of baseline",
                operator.ge,
                threshold,
                f">= {threshold:.0%} of baseline",
            )
    hash_limit = results.get("hash", {}).get("logins_per_second_limit")
    if "logins" in scenarios and hash_limit:
        ratio = scenarios["logins"]["rps"] / hash_limit
        alone = scenarios.get("hash_alone", {}).get("vs_hash_limit")
        add(
            "logins",
            "log-ins per second",
            ratio,
            f"{ratio:.1%} of {hash_limit:g}/s"
            + (f" (argon2 alone: {alone:.1%})" if alone is not None else ""),
            operator.ge,
            0.85,
            ">= 85% of hash limit",
        )
    if "me_token_access_log_on" in scenarios and "me_token_access_log_off" in scenarios:
        # The server's own CPU time a request, on minus off: what the log costs the worker,
        # and far steadier than the difference of two throughputs on a shared machine.
        on = scenarios["me_token_access_log_on"]["server_cpu_us_per_request"]
        off = scenarios["me_token_access_log_off"]["server_cpu_us_per_request"]
        cost = on - off
        add(
            "me_token_access_log_on",
            "cost of the access log per request",
            cost,
            f"{cost:+.1f} us CPU a request ({off:.1f} -> {on:.1f})",
            operator.le,
            5.0,
            "<= 5 us (on vs off)",
        )
    if "me_token_during_logins" in scenarios and "bare_probe_during_logins" in scenarios:
        control = scenarios["bare_probe_during_logins"]["p99_ms"]
        ratio = scenarios["me_token_during_logins"]["p99_ms"] / control if control else float("inf")
        granian = scenarios.get("bare_granian_probe_during_logins", {}).get("p99_ms")
        add(
            "me_token_during_logins",
            "/me p99 during a log-in flood",
            ratio,
            f"p99 {ratio:.2f} x the bare server's"
            + (f" (bare granian: {granian / control:.2f} x)" if granian and control else ""),
            operator.le,
            1.5,
            "<= 1.5 x bare p99, same flood",
        )
    if "me_token_large_db" in scenarios and "me_token_small_db" in scenarios:
        small = scenarios["me_token_small_db"]
        large = scenarios["me_token_large_db"]
        ratio = large["rps"] / small["rps"]
        add(
            "me_token_large_db",
            f"/me by token at {large['accounts']:,} accounts",
            ratio,
            f"{ratio:.1%} of {small['accounts']:,}",
            operator.ge,
            0.90,
            f">= 90% of {small['accounts']:,}",
        )
    rss = results.get("rss", {}).get("large_db")
    if rss:
        add(
            "rss",
            f"RSS per worker at {rss['accounts']:,} accounts",
            rss["max_mb"],
            f"{rss['max_mb']:.1f} MB",
            operator.le,
            100.0,
            "<= 100 MB",
        )
    found += forward_auth.targets(scenarios, base, judged)
    return found


def table(results: Mapping[str, Any]) -> str:
    """Return the figures as a plain-text table, one row per scenario and per RSS reading."""
    by_key = {t["key"]: Target(**t) for t in results["targets"]}
    headers = (
        "scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "vs baseline",
        "vs old",
        "judged figure",
        "target",
        "met",
    )
    rows: list[tuple[str, ...]] = []
    base = results.get("baseline_rps") or 0.0
    old = results.get("baseline_old_rps") or 0.0

    def verdict(target: Target | None) -> tuple[str, str, str]:
        if target is None:
            return ("", "", "")
        met = "-" if target.met is None else ("yes" if target.met else "NO")
        return (target.shown, target.wanted, met)

    scenarios: Mapping[str, Mapping[str, Any]] = results["scenarios"]
    for key in [k for k in ORDER if k in scenarios] + [k for k in scenarios if k not in ORDER]:
        s = scenarios[key]
        rows.append(
            (
                s["label"],
                f"{s['rps']:,.1f}",
                f"{s['p50_ms']:.2f}",
                f"{s['p99_ms']:.2f}",
                f"{s['rps'] / base:.1%}" if base else "",
                f"{s['rps'] / old:.1%}" if old else "",
                *verdict(by_key.get(key)),
            )
        )
    for key, rss in results.get("rss", {}).items():
        label = f"RSS per worker, {rss['accounts']:,} accounts"
        target = by_key.get("rss") if key == "large_db" else None
        shown = verdict(target) if target else (f"{rss['max_mb']:.1f} MB", "", "")
        shown = (f"{shown[0]} (peak {max(rss['peak_mb']):.1f})", *shown[1:])
        rows.append((label, "", "", "", "", "", *shown))
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    numeric = {1, 2, 3, 4, 5}

    def line(row: tuple[str, ...]) -> str:
        cells = (
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    out = [line(headers), line(tuple("-" * w for w in widths)), *(line(r) for r in rows)]
    return "\n".join(out)
