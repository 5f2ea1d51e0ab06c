"""Command line: `punchclock serve` and friends. A composition root, like web/app.py."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import errno
import ipaddress
import logging
import os
import re
import socket
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from punchclock import __version__
from punchclock.config import Settings, unknown_variables
from punchclock.errors import ConfigError, StoreError, StoreUnavailable
from punchclock.models import AccountOverview, AuditEvent, MailRecord, Session
from punchclock.serving import serve_http

if TYPE_CHECKING:
    from punchclock.keys import KeyRing
    from punchclock.store import Store
    from punchclock.store.keyrows import StoredKeys
    from punchclock.store.postgres import PostgresStore

log = logging.getLogger("punchclock")


def build_parser() -> argparse.ArgumentParser:
    """Return the command line's parser: every command, option and help text."""
    parser = argparse.ArgumentParser(
        prog="punchclock", description="Accounts and authentication speaking Toggl's API."
    )
    parser.add_argument("--version", action="version", version=f"punchclock {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the HTTP service",
        description="Create the data directory, keys and schema if missing, then serve HTTP.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8080, help="port to bind, 1-65535 (8080)")
    serve.add_argument("--workers", type=_positive, default=1, help="worker processes (1)")
    commands.add_parser(
        "migrate",
        help="create or upgrade the database schema, then exit",
        description="Create the data directory and database if missing, or upgrade the "
        "schema, then exit.",
    )
    keys = commands.add_parser(
        "keys",
        help="the keys that sign session cookies",
        description="The keys that sign session cookies; running servers follow a change "
        "without a restart.",
    )
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    key_commands.add_parser(
        "list",
        help="list the keys; the newest signs new sessions",
        description="List the keys with the number of live sessions each signed; the newest "
        "signs new sessions.",
    )
    key_commands.add_parser(
        "rotate",
        help="add a key that signs every session from now on",
        description="Add a key, named by today's date, that signs every session from now on; "
        "older keys still verify.",
    )
    retire = key_commands.add_parser(
        "retire",
        help="destroy an older key: the sessions it signed end at once",
        description="Destroy a key that no longer signs: the sessions it signed end at once.",
    )
    retire.add_argument("kid", help="the key's id, as `keys list` shows it")
    mail = commands.add_parser(
        "mail",
        help="the outbox: mail waiting to be sent, sent or dead",
        description="The outbox: mail waiting to be sent, sent or dead.",
    )
    mail_commands = mail.add_subparsers(dest="mail_command", required=True, metavar="ACTION")
    listing = mail_commands.add_parser(
        "list",
        help="list messages, newest first",
        description="List the outbox's messages, newest first: id, state, attempts, times, "
        "recipient, subject.",
    )
    listing.add_argument(
        "--failed", action="store_true", help="only dead letters and messages being retried"
    )
    listing.add_argument(
        "--limit", type=_positive, default=100, help="at most this many, 1 or more (100)"
    )
    retry = mail_commands.add_parser(
        "retry", help="queue a dead letter again", description="Queue a dead letter again."
    )
    retry.add_argument("id", help="the message's id, as `mail list` shows it")
    mail_commands.add_parser(
        "send",
        help="send every message that is due, once, then exit (serve does it all along)",
        description="Send every message that is due, once, then exit; exit status 1 if one "
        "failed. A running server does this all along.",
    )
    audit = commands.add_parser(
        "audit",
        help="the audit trail of security events, newest first",
        description="The audit trail of security events, newest first, one a line: time "
        "(UTC), event, account id, client address, user agent.",
    )
    audit.add_argument("--account", metavar="EMAIL", help="only this account's events")
    audit.add_argument(
        "--since",
        type=_since,
        default=0,
        help="only events from then on: an ISO 8601 date or time (UTC unless it says), "
        "or an age such as 7d, 12h or 30m",
    )
    audit.add_argument(
        "--limit", type=_positive, default=100, help="at most this many, 1 or more (100)"
    )
    _add_accounts(commands)
    backup = commands.add_parser(
        "backup",
        help="copy the database and its keys into one file, while servers run",
        description="Copy the SQLite database (one consistent snapshot, even while servers "
        "write), the server key and the signing keys into FILE, a new file readable by its "
        "owner only. It holds every secret of the deployment: keep it as safe. For "
        "PostgreSQL, see the README (pg_dump and the server key).",
    )
    backup.add_argument("file", help="the backup to write; it must not exist")
    restore = commands.add_parser(
        "restore",
        help="restore a backup into an empty data directory",
        description="Restore a backup made by `punchclock backup` into an empty or new data "
        "directory (PUNCHCLOCK_DATA_DIR); a backup without its keys is refused.",
    )
    restore.add_argument("file", help="the backup to read")
    return parser


def _add_accounts(commands: Any) -> None:
    accounts = commands.add_parser(
        "accounts",
        help="create, find, disable, enable and delete accounts",
        description="Account administration. Exit status 0 when done, 1 when no account has "
        "the email (or, for create, one already has), 2 for a usage error; messages go to "
        "stderr.",
    )
    actions = accounts.add_subparsers(dest="accounts_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create",
        help="create an account; without a password, mail its owner a reset code",
        description="Create an account and its workspace. The password policy applies; "
        "without --password-stdin the account gets a password nobody knows and its owner "
        "is mailed a reset code to set one.",
    )
    create.add_argument("email", help="the new account's email")
    create.add_argument("--name", help="the display name (the email's local part)")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (never from the command line)",
    )
    listing = actions.add_parser(
        "list",
        help="list accounts, oldest first",
        description="List accounts, oldest first: email, name, created, last log-in, live "
        "sessions, disabled or not.",
    )
    listing.add_argument("--search", metavar="TEXT", help="only emails or names holding TEXT")
    listing.add_argument(
        "--limit", type=_positive, default=100, help="at most this many, 1 or more (100)"
    )
    listing.add_argument("--json", action="store_true", help="one JSON array")
    show = actions.add_parser(
        "show",
        help="one account: created, last log-in, sessions, disabled or not",
        description="One account: created, last log-in, its live sessions, disabled or not.",
    )
    show.add_argument("email", help="the account's email")
    show.add_argument("--json", action="store_true", help="one JSON object")
    for name, text in (
        (
            "disable",
            "refuse every credential of the account at once, end its sessions; its email "
            "stays taken",
        ),
        ("enable", "let a disabled account's password and API token work again"),
        ("end-sessions", "end every session of the account"),
        ("send-reset", "mail the account's owner a password reset code"),
        (
            "remove-2fa",
            "turn two-factor authentication off for an owner who lost both device and "
            "recovery codes; the audit trail and a mail to the account say so",
        ),
    ):
        action = actions.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        action.add_argument("email", help="the account's email")
    delete = actions.add_parser(
        "delete",
        help="close the account and erase its data, as its owner closing it does",
        description="Close the account and erase its data, as its owner closing it does; "
        "asks first unless --yes.",
    )
    delete.add_argument("email", help="the account's email")
    delete.add_argument("--yes", action="store_true", help="do not ask")


# Commands that may create a data directory and a database; the others only use them.
CREATING_COMMANDS = frozenset({"serve", "migrate"})


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    if os.environ.get("PUNCHCLOCK_LOG_FORMAT") == "json":  # before Settings check it: its warnings
        from punchclock.web.logs import JsonFormatter

        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
    for name, closest in unknown_variables(os.environ):
        hint = f"; did you mean {closest}?" if closest else ""
        log.warning("%s is not a punchclock setting, so it is ignored%s", name, hint)
    if args.command == "restore":
        return restore(args.file)
    derived_url = None
    if args.command == "serve":
        derived_url = _derive_public_url(args.host, args.port)
    try:
        settings = Settings.from_env()
        if args.command == "serve":
            _check_port(args.host, args.port)
            if settings.metrics_addr is not None:
                _check_port(*settings.metrics_addr)
        version = prepare(settings, create=args.command in CREATING_COMMANDS)
    except (ConfigError, StoreError) as e:
        print(f"punchclock: {e.message}", file=sys.stderr)
        return 2
    except StoreUnavailable as e:
        print(f"punchclock: cannot reach the database: {e.__cause__!r}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"punchclock: cannot use the data directory: {e}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        print(
            f"punchclock: the database ({_database(settings)}) is up to date "
            f"at schema version {version}"
        )
        return 0
    if args.command == "keys":
        return asyncio.run(manage_keys(settings, args.keys_command, getattr(args, "kid", None)))
    if args.command == "mail":
        return asyncio.run(manage_mail(settings, args))
    if args.command == "audit":
        return asyncio.run(show_audit(settings, args.account, args.since, args.limit))
    if args.command == "accounts":
        return administer(settings, args)
    if args.command == "backup":
        return back_up(settings, args.file)
    if args.workers > 1 and not os.environ.get("PUNCHCLOCK_HASH_WORKERS"):
        # each server worker has its own hash workers: share the cores out among them
        cores = os.cpu_count() or 1
        os.environ["PUNCHCLOCK_HASH_WORKERS"] = str(max(1, cores // args.workers))
    summarise(settings, args.host, args.port, args.workers, derived_url is not None)
    if settings.metrics:
        from punchclock.metrics import prepare_directory, serve_metrics

        prepare_directory(settings.data_dir)  # before any worker, or prometheus_client, starts
        if settings.metrics_addr is not None:
            serve_metrics(*settings.metrics_addr)
    return serve_http(args.host, args.port, args.workers, json_logs=settings.log_format == "json")


def _port(value: str) -> int:
    number = _integer(value)
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r}: a port is 1 to 65535")
    return number


def _positive(value: str) -> int:
    number = _integer(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: give 1 or more")
    return number


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None


def _derive_public_url(host: str, port: int) -> str | None:
    """Without PUNCHCLOCK_PUBLIC_URL, make it the address actually served, for the workers
    too (they read the environment): reset links and the origin check then match it.
    Return the URL when it was derived."""
    if os.environ.get("PUNCHCLOCK_PUBLIC_URL"):
        return None
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None  # a name, such as localhost
    if address is not None and address.is_unspecified:  # 0.0.0.0 or ::: any, so this machine
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    name = host if address is None else str(address)
    if address is not None and address.version == 6:
        name = f"[{name}]"
    url = f"http://{name}:{port}"
    os.environ["PUNCHCLOCK_PUBLIC_URL"] = url
    return url


def _check_port(host: str, port: int) -> None:
    """Bind the address once, as the server is about to, so that a port in use stops the
    start here, with one line, rather than after the workers have started."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as e:
        raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as e:
            hint = ""
            if e.errno == errno.EADDRINUSE:
                hint = ": another process listens there; choose another port with --port"
            raise ConfigError(f"cannot listen on {host}:{port}: {e.strerror}{hint}") from None


def summarise(settings: Settings, host: str, port: int, workers: int, derived: bool) -> None:
    """Log what this server is about to run with, once, and what in it needs attention."""
    origin = "from --host and --port; set PUNCHCLOCK_PUBLIC_URL to the address clients use"
    if settings.smtp_url:
        smtp = urlsplit(settings.smtp_url)
        mail = f"SMTP {smtp.hostname}:{smtp.port or '(default port)'} ({smtp.scheme})"
    else:
        mail = f"written to {settings.data_dir / 'outbox'} (PUNCHCLOCK_SMTP_URL is not set)"
    if settings.redis_url:
        throttling = f"Redis {_without_password(settings.redis_url)}"
    else:
        throttling = "in each worker's memory (PUNCHCLOCK_REDIS_URL is not set)"
    lines = [
        f"punchclock {__version__} on {host}:{port}",
        f"  data directory  {settings.data_dir}",
        f"  database        {_database(settings)}",
        f"  public URL      {settings.public_url}" + (f" ({origin})" if derived else ""),
        f"  mail            {mail}",
        f"  throttling      {throttling}",
        f"  workers         {workers}",
        "  metrics         " + _metrics_summary(settings, host, port),
    ]
    log.info("\n".join(lines))
    if workers > 1 and not settings.redis_url:
        log.warning(
            "--workers %d without PUNCHCLOCK_REDIS_URL: each worker counts failed log-ins, "
            "sign-ups and reset requests on its own, so every limit is up to %d times looser; "
            "set PUNCHCLOCK_REDIS_URL to share the counts",
            workers,
            workers,
        )
    if not _is_loopback(host) and settings.public_url.startswith("http://"):
        log.warning(
            "--host %s with the public URL %s: the session cookie is Secure, so browsers "
            "send it back only over HTTPS. A TLS proxy in front is expected: set "
            "PUNCHCLOCK_PUBLIC_URL to its https:// address",
            host,
            settings.public_url,
        )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_password(url: str) -> str:
    """Return the URL without its password or query (which may hold one)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _database(settings: Settings) -> str:
    """Name the database in use, as a message to the operator may: never its password."""
    if settings.postgres_url:
        return f"PostgreSQL {_without_password(settings.postgres_url)}"
    return f"SQLite {settings.database_path}"


def prepare(settings: Settings, *, create: bool = True) -> int:
    """Make sure the data dir, keys and schema are there, before any worker starts; return
    the schema version. Only `create` makes what is missing: the other commands refuse a
    data directory or database that is not there rather than start an empty one."""
    from punchclock.store.keyfiles import load_secret_key, load_signing_keys
    from punchclock.store.sqlite import prepare_database

    if create:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    else:
        _refuse_missing(settings)
    secret = settings.secret_key or load_secret_key(settings.data_dir)
    if settings.postgres_url:
        if settings.secret_key is None:
            log.warning(
                "PUNCHCLOCK_SECRET_KEY is not set, so the server key is %s: every other "
                "host on this database must be given the same key",
                settings.data_dir / "secret.key",
            )
        return asyncio.run(_prepare_postgres(settings))
    load_signing_keys(settings.data_dir, dt.datetime.now(dt.UTC).date())
    version = prepare_database(settings.database_path)
    _check_server_key(settings, secret)
    return version


def _refuse_missing(settings: Settings) -> None:
    """Raise ConfigError, naming the path, when what a command reads is not there."""
    create = "`punchclock serve` or `punchclock migrate` creates it"
    needs_dir = settings.secret_key is None or not settings.postgres_url
    if needs_dir and not settings.data_dir.is_dir():
        raise ConfigError(
            f"no data directory at {settings.data_dir} ({create}); "
            "is PUNCHCLOCK_DATA_DIR the server's?"
        )
    if not settings.postgres_url and not settings.database_path.is_file():
        raise ConfigError(
            f"no database at {settings.database_path} ({create}); "
            "are PUNCHCLOCK_DATA_DIR and PUNCHCLOCK_DATABASE_URL the server's?"
        )
    if settings.secret_key is None and not (settings.data_dir / "secret.key").is_file():
        raise ConfigError(
            f"no server key at {settings.data_dir / 'secret.key'} and PUNCHCLOCK_SECRET_KEY "
            "is not set; is PUNCHCLOCK_DATA_DIR the server's?"
        )


def _check_server_key(settings: Settings, secret: bytes) -> None:
    """Refuse a server key that cannot open the API tokens already in the database: with
    it, every /me by email and password would fail and every API token be refused."""
    from punchclock.store.sqlite import newest_sealed_token
    from punchclock.tokens import SecretBox

    sealed = newest_sealed_token(settings.database_path)
    if sealed is None:
        return
    try:
        SecretBox(secret).open_token(*sealed)
    except ValueError:
        source = (
            "PUNCHCLOCK_SECRET_KEY"
            if settings.secret_key is not None
            else str(settings.data_dir / "secret.key")
        )
        raise ConfigError(
            f"the server key ({source}) is not the one the database at "
            f"{settings.database_path} was made with: its API tokens cannot be opened. "
            "Start with the original key"
        ) from None


async def _prepare_postgres(settings: Settings) -> int:
    store, keys = _postgres(settings)
    try:
        version = await store.migrate()
        await keys.load(dt.datetime.now(dt.UTC).date())
        return version
    finally:
        await store.close()


def _postgres(settings: Settings) -> tuple[PostgresStore, StoredKeys]:
    from punchclock.store.keyfiles import load_secret_key
    from punchclock.store.keyrows import StoredKeys
    from punchclock.store.postgres import PostgresStore
    from punchclock.tokens import SecretBox

    assert settings.postgres_url is not None
    store = PostgresStore(settings.postgres_url, max_connections=2)
    secret = settings.secret_key or load_secret_key(settings.data_dir)
    return store, StoredKeys(store, SecretBox(secret))


def _metrics_summary(settings: Settings, host: str, port: int) -> str:
    where = []
    if settings.metrics_addr:
        where.append(f"http://{_host_port(*settings.metrics_addr)}/metrics")
    if settings.metrics_token:
        where.append(f"http://{_host_port(host, port)}/metrics (PUNCHCLOCK_METRICS_TOKEN)")
    if not where:
        return "off (PUNCHCLOCK_METRICS_ADDR and _TOKEN are not set)"
    return ", ".join(where)


async def manage_keys(settings: Settings, command: str, kid: str | None) -> int:
    """List, rotate or retire the session signing keys; running workers follow at once."""
    if settings.postgres_url:
        return await _manage_stored_keys(settings, command, kid)
    from punchclock.store.keyfiles import (
        load_signing_keys,
        remove_signing_key,
        rotate_signing_key,
    )
    from punchclock.store.sqlite import SQLiteStore

    today = dt.datetime.now(dt.UTC).date()
    if command == "rotate":
        key = rotate_signing_key(settings.data_dir, today)
        print(f"{key.kid}: signs every new session from now on; older keys still verify")
        return 0
    ring = load_signing_keys(settings.data_dir, today)
    store = SQLiteStore(settings.database_path)
    try:
        if command == "list":
            _list_keys(ring, await store.sessions_by_key())
            return 0
        assert kid is not None
        if not _may_retire(ring, kid):
            return 2
        # The sessions go first: once the file is gone no worker verifies with the key,
        # and from this moment none of its sessions is live either.
        ended = await store.delete_sessions_signed_by(kid)
        remove_signing_key(settings.data_dir, kid)
        print(f"{kid}: retired; {ended} sessions it signed have ended")
        return 0
    finally:
        await store.close()


async def _manage_stored_keys(settings: Settings, command: str, kid: str | None) -> int:
    """The same, for keys kept in PostgreSQL (shared by every host)."""
    today = dt.datetime.now(dt.UTC).date()
    store, keys = _postgres(settings)
    try:
        if command == "rotate":
            key, signs_from = await keys.rotate(today)
            when = dt.datetime.fromtimestamp(signs_from / 1e6, dt.UTC).isoformat(timespec="seconds")
            print(
                f"{key.kid}: every host signs new sessions with it from {when} (once all have "
                "read it); older keys still verify"
            )
            return 0
        ring = await keys.load(today)
        if command == "list":
            _list_keys(ring, await store.sessions_by_key())
            return 0
        assert kid is not None
        if not _may_retire(ring, kid):
            return 2
        ended = await keys.retire(kid)  # its sessions and the key go in one transaction
        print(f"{kid}: retired; {ended} sessions it signed have ended")
        return 0
    finally:
        await store.close()


async def manage_mail(settings: Settings, args: argparse.Namespace) -> int:
    """List the outbox, queue a dead letter again, or send what is due."""
    from punchclock.mail import mailer_for
    from punchclock.outbox import OutboxSender
    from punchclock.store.keyfiles import load_secret_key
    from punchclock.tokens import SecretBox

    store = _open_store(settings)
    try:
        if args.mail_command == "list":
            records = await store.list_mail(failed_only=args.failed, limit=args.limit)
            for record in records:
                print(_mail_line(record))
            if not records:
                what = "no dead or retried messages" if args.failed else "no messages"
                _nothing(f"{what} in the outbox", settings)
            return 0
        if args.mail_command == "retry":
            now = dt.datetime.now(dt.UTC)
            if not await store.retry_mail(args.id, int(now.timestamp() * 1_000_000)):
                print(
                    f"punchclock: no dead message {args.id!r}; "
                    "`punchclock mail list --failed` shows them",
                    file=sys.stderr,
                )
                return 2
            print(f"{args.id}: queued again; a running server or `punchclock mail send` sends it")
            return 0
        secrets = SecretBox(settings.secret_key or load_secret_key(settings.data_dir))
        sender = OutboxSender(
            store,
            mailer_for(settings),
            secrets,
            sender=settings.mail_from,
            max_age=settings.mail_max_age,
            keep=settings.mail_retention,
        )
        tally = await sender.send_due()
        print(f"sent {tally.sent}, to be retried {tally.retrying}, dead {tally.dead}")
        return 1 if tally.retrying or tally.dead else 0
    finally:
        await store.close()


async def show_audit(settings: Settings, email: str | None, since: int, limit: int) -> int:
    """Print security events, newest first, one a line."""
    store = _open_store(settings)
    try:
        account_id = None
        if email is not None:
            account = await store.account_by_email(email)
            if account is None:  # the operator's own tool: no need to hide who has an account
                _nothing(f"no events for {email}: no account has that email", settings)
                return 0
            account_id = account.id
        events = await store.events(account_id, since, limit)
        for event in events:
            print(_audit_line(event))
        if not events:
            period = " in that period" if since else ""
            _nothing(f"no events{'' if email is None else f' for {email}'}{period}", settings)
        return 0
    finally:
        await store.close()


def back_up(settings: Settings, file: str) -> int:
    """Write a backup of a SQLite deployment: the database, the server key, the signing keys."""
    from punchclock.store.backup import write_backup
    from punchclock.store.keyfiles import load_secret_key

    if settings.postgres_url:
        print(
            "punchclock: `punchclock backup` copies SQLite; back up PostgreSQL with pg_dump "
            "and keep PUNCHCLOCK_SECRET_KEY with it (README: Backup and restore)",
            file=sys.stderr,
        )
        return 2
    secret = settings.secret_key or load_secret_key(settings.data_dir)
    target = Path(file).absolute()
    try:
        summary = write_backup(settings.database_path, secret, settings.data_dir / "keys", target)
    except ConfigError as e:
        print(f"punchclock: {e.message}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as e:
        print(f"punchclock: cannot write the backup {target}: {e}", file=sys.stderr)
        return 2
    print(
        f"punchclock: wrote {target}: {summary.accounts} accounts at schema version "
        f"{summary.schema_version}, the server key and {summary.signing_keys} signing keys. "
        "It holds every secret of this deployment: keep it as safe",
        file=sys.stderr,
    )
    return 0


def restore(file: str) -> int:
    """Restore a backup into the (empty) data directory the settings name."""
    from punchclock.store.backup import restore_backup

    try:
        settings = Settings.from_env()
        if settings.postgres_url:
            raise ConfigError(
                "`punchclock restore` restores SQLite backups; restore PostgreSQL with psql "
                "or pg_restore (README: Backup and restore)"
            )
        summary = restore_backup(
            Path(file).absolute(), settings.data_dir, settings.database_path, settings.secret_key
        )
        prepare(settings, create=False)  # the server key opens the restored API tokens
    except (ConfigError, StoreError) as e:
        print(f"punchclock: {e.message}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as e:
        print(f"punchclock: cannot restore {file}: {e}", file=sys.stderr)
        return 2
    print(
        f"punchclock: restored {summary.accounts} accounts (schema version "
        f"{summary.schema_version}), the server key and {summary.signing_keys} signing keys "
        f"into {settings.data_dir}; `punchclock serve` serves them",
        file=sys.stderr,
    )
    return 0


def administer(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `punchclock accounts` action through the services; return the exit status."""
    from punchclock.errors import (
        AccountDisabled,
        AccountNotFound,
        EmailTaken,
        InvalidInput,
        PasswordRejected,
        TwoFactorNotEnabled,
    )

    password = None
    if getattr(args, "password_stdin", False):
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            print("punchclock: --password-stdin read no password", file=sys.stderr)
            return 2
    try:
        return asyncio.run(_administer(settings, args, password))
    except AccountNotFound:
        _nothing(f"no account has the email {args.email}", settings)
        return 1
    except EmailTaken:
        print(f"punchclock: an account already has the email {args.email}", file=sys.stderr)
        return 1
    except (AccountDisabled, TwoFactorNotEnabled) as e:
        print(f"punchclock: {args.email}: {e.message}", file=sys.stderr)
        return 1
    except (InvalidInput, PasswordRejected) as e:
        print(f"punchclock: {e.message}", file=sys.stderr)
        return 2


async def _administer(settings: Settings, args: argparse.Namespace, password: str | None) -> int:
    import dataclasses

    from punchclock.web.app import build_services

    # one hash worker: a command hashes at most one password
    parts = build_services(dataclasses.replace(settings, hash_workers=1))
    admin = parts.services.administration
    command = args.accounts_command
    try:
        if command == "create":
            made = await admin.create_account(args.email, args.name, password)
            how = (
                "with the password given"
                if password is not None
                else "its owner is mailed a reset code to set a password (a running server "
                "or `punchclock mail send` sends it)"
            )
            print(f"{made.email}: created, account {made.id}; {how}", file=sys.stderr)
        elif command == "list":
            found = await admin.list_accounts(args.search, args.limit)
            if args.json:
                print(msgspec.json.encode([_overview_json(o) for o in found]).decode())
            else:
                for overview in found:
                    print(_overview_line(overview))
            if not found:
                what = "no accounts" + (f" matching {args.search!r}" if args.search else "")
                _nothing(what, settings)
        elif command == "show":
            details = await admin.show_account(args.email)
            if args.json:
                shown = _overview_json(details.overview)
                shown["sessions"] = [_session_json(s) for s in details.sessions]
                print(msgspec.json.encode(shown).decode())
            else:
                print(_overview_line(details.overview))
                for session in details.sessions:
                    print(_session_line(session))
        elif command == "disable":
            done = await admin.disable_account(args.email)
            print(
                f"{done.email}: disabled; every credential is refused and its sessions have ended",
                file=sys.stderr,
            )
        elif command == "enable":
            done = await admin.enable_account(args.email)
            print(f"{done.email}: enabled", file=sys.stderr)
        elif command == "end-sessions":
            ended = await admin.end_sessions(args.email)
            print(f"{args.email}: {ended} sessions ended", file=sys.stderr)
        elif command == "remove-2fa":
            removed = await parts.services.two_factor.remove(args.email)
            print(
                f"{removed.email}: two-factor authentication removed; its owner is mailed a "
                "notice (a running server or `punchclock mail send` sends it)",
                file=sys.stderr,
            )
        elif command == "send-reset":
            await admin.send_password_reset(args.email)
            print(
                f"{args.email}: a reset code is queued (a running server or "
                "`punchclock mail send` sends it)",
                file=sys.stderr,
            )
        else:
            assert command == "delete"
            await admin.show_account(args.email)  # AccountNotFound before asking
            if not args.yes and not _confirmed(args.email):
                print(f"punchclock: {args.email} was not deleted", file=sys.stderr)
                return 2
            await admin.delete_account(args.email)
            print(f"{args.email}: deleted; its data is erased", file=sys.stderr)
        return 0
    finally:
        await parts.services.background.drain()  # the audit events
        await parts.store.close()
        await parts.hasher.close()
        await parts.throttle.close()


def _confirmed(email: str) -> bool:
    print(
        f"Delete {email} and erase its data? This cannot be undone. Type yes to delete: ",
        end="",
        file=sys.stderr,
        flush=True,
    )
    return sys.stdin.readline().strip().lower() == "yes"


def _when(microseconds: int | None) -> str | None:
    if microseconds is None:
        return None
    moment = dt.datetime.fromtimestamp(microseconds / 1_000_000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _overview_json(overview: AccountOverview) -> dict[str, Any]:
    return {
        "id": overview.id,
        "email": overview.email,
        "name": overview.fullname,
        "created_at": _when(overview.created_at),
        "last_log_in_at": _when(overview.last_log_in_at),
        "live_sessions": overview.sessions,
        "disabled": overview.disabled_at is not None,
        "disabled_at": _when(overview.disabled_at),
        "two_factor": overview.two_factor,
    }


def _overview_line(overview: AccountOverview) -> str:
    """One account as `accounts list` prints it; the name quoted, as the owner wrote it."""
    line = (
        f"{overview.id}  {overview.email}  {overview.fullname!r}  "
        f"created {_when(overview.created_at)}  "
        f"last log-in {_when(overview.last_log_in_at) or 'never'}  "
        f"sessions {overview.sessions}  "
        f"2fa {'on' if overview.two_factor else 'off'}"
    )
    if overview.disabled_at is not None:
        line += f"  disabled since {_when(overview.disabled_at)}"
    return line


def _session_json(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "created_at": _when(session.created_at),
        "last_used_at": _when(session.last_used_at),
        "expires_at": _when(session.expires_at),
        "ip": session.ip,
        "user_agent": session.user_agent,
    }


def _session_line(session: Session) -> str:
    return (
        f"  session {session.id}  created {_when(session.created_at)}  "
        f"last used {_when(session.last_used_at)}  {session.ip or '-'}  {session.user_agent!r}"
    )


def _nothing(what: str, settings: Settings) -> None:
    """Say that a listing is empty, and where it looked: an empty answer from the wrong
    data directory must not pass for an empty one from the right directory."""
    print(
        f"punchclock: {what} (data directory {settings.data_dir}, database {_database(settings)})",
        file=sys.stderr,
    )


_AGE = re.compile(r"(\d+)([dhm])")
_AGE_UNITS = {"d": 86400, "h": 3600, "m": 60}  # seconds


def _since(value: str) -> int:
    """Parse --since (an ISO 8601 date/time, or an age like 7d) to microseconds since the epoch."""
    age = _AGE.fullmatch(value)
    if age is not None:
        seconds = int(age.group(1)) * _AGE_UNITS[age.group(2)]
        return int(dt.datetime.now(dt.UTC).timestamp() - seconds) * 1_000_000
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r}: give an ISO 8601 date or time (2026-01-31, 2026-01-31T12:00) "
            "or an age (7d, 12h, 30m)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000)


def _audit_line(event: AuditEvent) -> str:
    """One event as `audit` prints it: when, what, whose, from where, with what agent.

    The user agent is quoted with repr(): the client wrote it, and it must not be able to
    forge lines or send escape sequences to the operator's terminal.
    """
    moment = dt.datetime.fromtimestamp(event.at / 1_000_000, dt.UTC)
    account = "-" if event.account_id is None else str(event.account_id)
    line = (
        f"{moment:%Y-%m-%dT%H:%M:%S.%fZ}  {event.event:<15}  account {account}  "
        f"{event.ip or '-'}  {event.user_agent!r}"
    )
    if event.detail:
        line += f"  ({event.detail})"
    if event.request_id:  # the access log's line of the same request carries it too
        line += f"  request_id={event.request_id}"
    return line


def _open_store(settings: Settings) -> Store:
    """Return the configured store, its schema already brought up to date by prepare()."""
    if settings.postgres_url:
        from punchclock.store.postgres import PostgresStore

        return PostgresStore(settings.postgres_url, max_connections=2)
    from punchclock.store.sqlite import SQLiteStore

    return SQLiteStore(settings.database_path)


def _list_keys(ring: KeyRing, counts: dict[str, int]) -> None:
    for name in ring.verifying:
        role = "signs new sessions" if name == ring.current.kid else "verifies only"
        print(f"{name}  {role}, {counts.get(name, 0)} sessions")


def _may_retire(ring: KeyRing, kid: str) -> bool:
    if kid not in ring.verifying:
        print(f"punchclock: no key {kid!r}; `punchclock keys list` shows them", file=sys.stderr)
        return False
    if kid == ring.current.kid:
        message = f"punchclock: {kid} signs new sessions; `punchclock keys rotate` first"
        print(message, file=sys.stderr)
        return False
    return True


def _mail_line(record: MailRecord) -> str:
    """One message as `mail list` prints it: id, state, attempts, when, to whom, why not."""

    def when(microseconds: int) -> str:
        moment = dt.datetime.fromtimestamp(microseconds / 1_000_000, dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    if record.state == "sent" and record.sent_at is not None:
        status = f"sent {when(record.sent_at)}"
    elif record.state == "queued":
        status = f"next attempt {when(record.next_attempt_at)}"
    else:
        status = "dead"
    line = (
        f"{record.id}  {record.state:<6}  attempts {record.attempts}  "
        f"created {when(record.created_at)}  {status}  to {record.recipient}  "
        f"{record.subject!r}"
    )
    if record.last_error and record.state != "sent":
        line += f"  last error: {record.last_error}"
    return line
