"""Settings from the environment (PUNCHCLOCK_*), validated once at startup."""

from __future__ import annotations

import base64
import binascii
import difflib
import email.policy
import ipaddress
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import limits

from punchclock.errors import ConfigError

DAY = 24 * 3600  # seconds
SESSION_LIFETIME = 28 * DAY  # in seconds: the JWT's exp - iat


@dataclass(frozen=True, slots=True)
class Argon2Params:
    time_cost: int = 2
    memory_cost: int = 19456  # KiB = 19 MiB: OWASP Password Storage Cheat Sheet minimum
    parallelism: int = 1


@dataclass(frozen=True, slots=True)
class RateLimits:
    """How many attempts of each kind are allowed, as `limits` strings ("" = no limit).

    Each is one or more moving windows, "10/minute;30/hour;100/day": an attempt is refused
    while any window is full. Failed log-ins are counted per account and client address
    (one attacker is slowed down at once), and per account from clients that have not
    logged in to it before (ASVS 4.0.3 V2.2.1: at most 100 an hour). That account-wide
    lock grows step by step and never lasts more than its longest window, at most an hour
    (30 minutes by default): someone who knows only the email cannot keep the owner out
    for long, and a client that logged in before (a device cookie, or an address whose
    log-in succeeded lately) is judged by its own failures only (OWASP, "Slow Down Online
    Guessing Attacks with Device Cookies").
    """

    log_in_per_account: str = "10/minute;20/10 minutes;30/30 minutes"
    log_in_per_account_and_ip: str = "5/minute;15/hour;50/day"
    sign_up_per_ip: str = "10/hour;50/day"
    reset_request_per_email: str = "3/hour"  # mails sent; beyond it, requests send nothing
    reset_request_per_ip: str = "10/hour;50/day"
    reset_confirm_per_ip: str = "10/hour;50/day"
    email_change_per_account: str = "3/hour;10/day"
    api_per_user_and_ip: str = ""  # off: Toggl's clients make several calls as they start


# the variable that sets each field of RateLimits
RATE_LIMIT_VARIABLES = {
    "log_in_per_account": "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT",
    "log_in_per_account_and_ip": "PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT_AND_IP",
    "sign_up_per_ip": "PUNCHCLOCK_SIGNUP_LIMIT_PER_IP",
    "reset_request_per_email": "PUNCHCLOCK_RESET_REQUEST_LIMIT_PER_EMAIL",
    "reset_request_per_ip": "PUNCHCLOCK_RESET_REQUEST_LIMIT_PER_IP",
    "reset_confirm_per_ip": "PUNCHCLOCK_RESET_CONFIRM_LIMIT_PER_IP",
    "email_change_per_account": "PUNCHCLOCK_EMAIL_CHANGE_LIMIT_PER_ACCOUNT",
    "api_per_user_and_ip": "PUNCHCLOCK_API_RATE_LIMIT",
}


# The account-wide log-in limit holds everyone but known clients back for as long as its
# longest window: at most an hour (issue 11).
LOCKOUT_CAPPED = frozenset({"PUNCHCLOCK_LOGIN_LIMIT_PER_ACCOUNT"})
MAX_ACCOUNT_LOCK = 3600  # seconds


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_path: Path  # the SQLite file, unless postgres_url is set
    public_url: str
    postgres_url: str | None = None  # postgresql://...: the production store
    smtp_url: str | None = None
    mail_from: str = "punchclock <no-reply@localhost>"
    mail_max_age: int = DAY  # seconds a message is tried before it becomes a dead letter
    mail_retention: int = 30 * DAY  # seconds sent and dead messages stay listed
    reset_code_ttl: int = 3600  # seconds
    argon2: Argon2Params = Argon2Params()
    hash_workers: int = 0  # 0 = one per CPU core
    hash_queue: int = 256  # password hashes allowed to wait before log-ins get 503
    hash_processes: bool = True  # False: hash on threads (tests; see hashworkers.py)
    secret_key: bytes | None = None  # None = keep it in <data_dir>/secret.key
    session_idle_timeout: int = 0  # seconds without use after which a session ends; 0: never
    password_min_length: int = 8  # NIST SP 800-63B rev. 4 asks 15 where a password is alone
    totp_issuer: str = "punchclock"  # the name authenticator apps show for two-factor codes
    audit_retention_days: int = 90  # days security events are kept in the audit trail
    allowed_origins: frozenset[str] = frozenset()  # besides PUBLIC_URL's, for cookie writes
    rate_limits: RateLimits = RateLimits()
    redis_url: str | None = None  # None: throttling counters are kept in each process
    redis_key_prefix: str = "punchclock"
    # proxies whose X-Forwarded-For is believed; none: the socket's peer is the client
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    forward_auth_token: bool = False  # /api/auth/verify adds a signed X-Punchclock-Identity
    access_log: bool = True  # a line on stdout for every answer, as uvicorn's access log
    log_format: str = "text"  # "json": one JSON object a line, access and application logs
    # where Prometheus metrics are served (host, port); None: not on an address of their own
    metrics_addr: tuple[str, int] | None = None
    # GET /metrics on the main port answers who sends it as a bearer token; None: no /metrics
    metrics_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and validate PUNCHCLOCK_* variables; raise ConfigError naming the bad one."""
        env = os.environ if environ is None else environ
        data_dir = Path(env.get("PUNCHCLOCK_DATA_DIR") or "./data").expanduser().absolute()
        database_path, postgres_url = _database(env.get("PUNCHCLOCK_DATABASE_URL"), data_dir)
        public_url = _public_url(env.get("PUNCHCLOCK_PUBLIC_URL") or "http://127.0.0.1:8080")
        smtp_url = env.get("PUNCHCLOCK_SMTP_URL") or None
        if smtp_url is not None:
            _smtp_url(smtp_url)
        host = urlsplit(public_url).hostname or "localhost"
        if ":" in host:  # an IPv6 address is no mail domain
            host = "localhost"
        mail_from = env.get("PUNCHCLOCK_MAIL_FROM") or f"punchclock <no-reply@{host}>"
        _mail_from(mail_from)
        return cls(
            data_dir=data_dir,
            database_path=database_path,
            postgres_url=postgres_url,
            public_url=public_url,
            smtp_url=smtp_url,
            mail_from=mail_from,
            mail_max_age=_int(
                env, "PUNCHCLOCK_MAIL_MAX_AGE", _default("mail_max_age"), 60, 30 * DAY
            ),
            mail_retention=_int(
                env, "PUNCHCLOCK_MAIL_RETENTION", _default("mail_retention"), 3600, 365 * DAY
            ),
            reset_code_ttl=_int(
                env, "PUNCHCLOCK_RESET_CODE_TTL", _default("reset_code_ttl"), 60, 7 * DAY
            ),
            argon2=Argon2Params(
                time_cost=_int(env, "PUNCHCLOCK_ARGON2_TIME_COST", ARGON2.time_cost, 1, 100),
                memory_cost=_int(
                    env, "PUNCHCLOCK_ARGON2_MEMORY_KIB", ARGON2.memory_cost, 8, 4 * 1024 * 1024
                ),
                parallelism=_int(env, "PUNCHCLOCK_ARGON2_PARALLELISM", ARGON2.parallelism, 1, 64),
            ),
            hash_workers=_int(env, "PUNCHCLOCK_HASH_WORKERS", _default("hash_workers"), 0, 256),
            hash_queue=_int(env, "PUNCHCLOCK_HASH_QUEUE", _default("hash_queue"), 1, 100_000),
            hash_processes=_choice(env, "PUNCHCLOCK_HASH_POOL", ("processes", "threads"))
            == "processes",
            secret_key=_secret_key(env.get("PUNCHCLOCK_SECRET_KEY")),
            session_idle_timeout=_int(
                env,
                "PUNCHCLOCK_SESSION_IDLE_TIMEOUT",
                _default("session_idle_timeout"),
                0,
                SESSION_LIFETIME,
            ),
            allowed_origins=_origins(env.get("PUNCHCLOCK_ALLOWED_ORIGINS", "")),
            # NIST SP 800-63B 5.1.1.2: never fewer than 8 characters; 15 where a password is alone
            password_min_length=_int(
                env, "PUNCHCLOCK_PASSWORD_MIN_LENGTH", _default("password_min_length"), 8, 15
            ),
            totp_issuer=_totp_issuer(env.get("PUNCHCLOCK_TOTP_ISSUER") or _default("totp_issuer")),
            audit_retention_days=_int(
                env, "PUNCHCLOCK_AUDIT_RETENTION_DAYS", _default("audit_retention_days"), 1, 3650
            ),
            rate_limits=RateLimits(
                **{
                    field: _rate_limit(env, name, getattr(RateLimits(), field))
                    for field, name in RATE_LIMIT_VARIABLES.items()
                }
            ),
            redis_url=_redis_url(env.get("PUNCHCLOCK_REDIS_URL") or None),
            redis_key_prefix=_key_prefix(
                env.get("PUNCHCLOCK_REDIS_KEY_PREFIX") or _default("redis_key_prefix")
            ),
            trusted_proxies=_networks(env.get("PUNCHCLOCK_TRUSTED_PROXIES", "")),
            forward_auth_token=_choice(env, "PUNCHCLOCK_FORWARD_AUTH_TOKEN", ("off", "on")) == "on",
            access_log=_choice(env, "PUNCHCLOCK_ACCESS_LOG", ("on", "off")) == "on",
            log_format=_choice(env, "PUNCHCLOCK_LOG_FORMAT", ("text", "json")),
            metrics_addr=_listen_address(env.get("PUNCHCLOCK_METRICS_ADDR") or None),
            metrics_token=_metrics_token(env.get("PUNCHCLOCK_METRICS_TOKEN") or None),
        )

    @property
    def metrics(self) -> bool:
        """Tell whether Prometheus metrics are kept: on their own address, or on /metrics."""
        return self.metrics_addr is not None or self.metrics_token is not None

    @property
    def public_origin(self) -> str:
        """Return scheme://host[:port] of PUBLIC_URL: the origin of punchclock's own pages."""
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"


ARGON2 = Argon2Params()  # the defaults, from the fields above


def _default(field: str) -> Any:
    """Return the default of a Settings field: each default is written once, on its field."""
    return Settings.__dataclass_fields__[field].default


def _totp_issuer(issuer: str) -> str:
    """Check the issuer authenticator apps show: it is part of the otpauth:// label, where a
    colon separates it from the email."""
    if ":" in issuer or len(issuer) > 64 or not issuer.isprintable() or not issuer.strip():
        raise ConfigError(
            "PUNCHCLOCK_TOTP_ISSUER must be 1 to 64 printable characters without a colon"
        )
    return issuer


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """Return a `limits` string such as "10/minute;100/day"; "off" (or "") is no limit."""
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip()
    if value.lower() in ("", "off"):
        return ""
    try:
        windows = limits.parse_many(value)
    except ValueError:
        windows = []
    if not windows or any(window.amount < 1 for window in windows):
        raise ConfigError(f"{name} must be limits such as 10/minute;100/day (or off), got {raw!r}")
    if name in LOCKOUT_CAPPED and any(w.get_expiry() > MAX_ACCOUNT_LOCK for w in windows):
        # someone who knows only the email must not keep the owner out for longer
        raise ConfigError(f"{name} must have no window longer than 1 hour, got {raw!r}")
    return value


def _redis_url(url: str | None) -> str | None:
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix") or not (parts.hostname or parts.path):
        raise ConfigError(
            "PUNCHCLOCK_REDIS_URL must look like redis://host:6379/0, "
            f"rediss://user:pass@host:6380/0 or unix:///path/to/redis.sock; got {url!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"PUNCHCLOCK_REDIS_URL has an invalid port: {url!r}") from None
    return url


def _listen_address(value: str | None) -> tuple[str, int] | None:
    """Parse host:port ([::1]:9464 for IPv6) for PUNCHCLOCK_METRICS_ADDR."""
    if value is None:
        return None
    host, colon, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port.isascii() or not port.isdigit():
        raise ConfigError(
            f"PUNCHCLOCK_METRICS_ADDR must be host:port, such as 127.0.0.1:9464 or "
            f"[::1]:9464; got {value!r}"
        )
    if not 1 <= int(port) <= 65535:
        raise ConfigError(f"PUNCHCLOCK_METRICS_ADDR has an invalid port: {value!r}")
    return host, int(port)


def _key_prefix(prefix: str) -> str:
    if not all(c.isascii() and (c.isalnum() or c in "-_.:") for c in prefix) or len(prefix) > 64:
        raise ConfigError(
            f"PUNCHCLOCK_REDIS_KEY_PREFIX must be up to 64 letters, digits and -_.: got {prefix!r}"
        )
    return prefix


def _networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(
                "PUNCHCLOCK_TRUSTED_PROXIES must be IP addresses or networks "
                f"(10.0.0.1, 10.0.0.0/8, fd00::/8), comma-separated; got {item!r}"
            ) from None
    return tuple(networks)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """Return the variable's value, one of `choices`; the first is the default."""
    value = env.get(name) or choices[0]
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _database(url: str | None, data_dir: Path) -> tuple[Path, str | None]:
    """Return the SQLite file and, for a PostgreSQL URL, the URL."""
    sqlite_file = data_dir / "punchclock.sqlite3"
    if not url:
        return sqlite_file, None
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres") and sep:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            parts = None
        if parts is None or (not parts.hostname and "host=" not in parts.query):
            # the URL may hold a password: never repeat it
            raise ConfigError(
                "PUNCHCLOCK_DATABASE_URL must look like postgresql://user:password@host:5432/db"
            )
        return sqlite_file, url
    if scheme != "sqlite" or not sep or not rest.startswith("/") or rest == "/":
        raise ConfigError(
            "PUNCHCLOCK_DATABASE_URL must look like sqlite:///relative/or/absolute.sqlite3 "
            "or postgresql://user:password@host:5432/db"
        )
    # sqlite:///data/x.db is relative, sqlite:////var/x.db is absolute (as SQLAlchemy reads it)
    return Path(rest[1:]).expanduser().absolute(), None


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"PUNCHCLOCK_PUBLIC_URL must be an http(s) URL, got {url!r}")
    if parts.query or parts.fragment:
        raise ConfigError(f"PUNCHCLOCK_PUBLIC_URL must not have a query or fragment: {url!r}")
    return url.rstrip("/")


def _smtp_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+starttls") or not parts.hostname:
        raise ConfigError(
            "PUNCHCLOCK_SMTP_URL must look like smtp://host:25, smtp+starttls://user:pass@host:587"
            " or smtps://user:pass@host:465"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"PUNCHCLOCK_SMTP_URL has an invalid port: {url!r}") from None


def _mail_from(value: str) -> None:
    """Refuse anything but one address, `name <a@b.c>` or `a@b.c`, that parses cleanly."""
    problem = "\r" in value or "\n" in value
    if not problem:
        try:
            header = email.policy.default.header_factory("From", value)
        except (ValueError, IndexError):  # the parser raises IndexError on "x@"
            problem = True
        else:
            addresses = header.addresses
            problem = bool(header.defects) or len(addresses) != 1 or not addresses[0].domain
    if problem:
        raise ConfigError(
            f"PUNCHCLOCK_MAIL_FROM must be one email address, such as "
            f"'punchclock <no-reply@example.com>'; got {value!r}"
        )


def _origins(raw: str) -> frozenset[str]:
    origins = set()
    for origin in (o.strip() for o in raw.split(",")):
        if not origin:
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
            raise ConfigError(
                "PUNCHCLOCK_ALLOWED_ORIGINS must be origins like https://app.example.com, "
                f"comma-separated; got {origin!r}"
            )
        origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return frozenset(origins)


MIN_METRICS_TOKEN = 32  # characters: a guessable token would publish the metrics


def _metrics_token(raw: str | None) -> str | None:
    # ASVS 4.0.3 V2.10.4: a service's secret is long and random, never a guessable word;
    # it travels in a header, so it must be printable ASCII without spaces
    if raw is None:
        return None
    if len(raw) < MIN_METRICS_TOKEN or not (raw.isascii() and raw.isprintable()) or " " in raw:
        raise ConfigError(
            f"PUNCHCLOCK_METRICS_TOKEN must be at least {MIN_METRICS_TOKEN} printable ASCII "
            "characters without spaces (e.g. the output of `openssl rand -hex 32`)"
        )
    return raw


def _secret_key(raw: str | None) -> bytes | None:
    if not raw:
        return None
    try:
        key = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise ConfigError("PUNCHCLOCK_SECRET_KEY must be URL-safe base64") from None
    if len(key) != 32:
        raise ConfigError("PUNCHCLOCK_SECRET_KEY must encode exactly 32 bytes")
    return key


# Read by the test suite and the benchmark, or set by punchclock itself: not worth a warning.
TOOL_VARIABLES = frozenset(
    {
        "PUNCHCLOCK_TEST_POSTGRES_URL",
        "PUNCHCLOCK_TEST_REDIS_URL",
        "PUNCHCLOCK_FUZZ_EXAMPLES",
        "PUNCHCLOCK_CHROMIUM",  # the browser tests' Chromium (/usr/bin/chromium)
        "PUNCHCLOCK_SCREENSHOTS",  # where the browser tests write their screenshots
        # set by `punchclock serve` for the workers it forks (web/app.py), never by a user
        "PUNCHCLOCK_SERVER_PID",
    }
)


class _Reads(Mapping[str, str]):
    """An environment that remembers which names were asked for."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.names: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._env[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.names.add(name)
        return name in self._env

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def known_variables() -> frozenset[str]:
    """Return every PUNCHCLOCK_* name punchclock reads: those Settings.from_env asks for,
    found by asking it, so a setting added there is known here without a second list."""
    reads = _Reads({})
    Settings.from_env(reads)
    return frozenset(name for name in reads.names if name.startswith("PUNCHCLOCK_")) | (
        TOOL_VARIABLES
    )


def unknown_variables(env: Mapping[str, str]) -> list[tuple[str, str | None]]:
    """Return each PUNCHCLOCK_* variable of `env` that nothing reads, with the closest
    known name (None when nothing is close): a misspelt setting is otherwise ignored."""
    known = known_variables()
    unknown = sorted(name for name in env if name.startswith("PUNCHCLOCK_") and name not in known)
    return [
        (name, next(iter(difflib.get_close_matches(name, known, n=1, cutoff=0.75)), None))
        for name in unknown
    ]
