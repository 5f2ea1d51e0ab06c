"""Backups of a SQLite data directory: the database and the keys that make it usable.

A backup is one gzip'd tar file, created with mode 0600, holding:

- `punchclock-backup.json`: what it is (format, version, schema version, when);
- `punchclock.sqlite3`: the database, copied with SQLite's online backup API in one step,
  so it is one consistent snapshot even while servers write (in WAL mode readers never
  block writers, and a one-step copy is never restarted by them);
- `secret.key`: the server key the API tokens, the mail and (on PostgreSQL) the signing
  keys are sealed under; without it the database's tokens are useless;
- `keys/<kid>.pem`: the session signing keys; without them every session cookie is refused.

The backup therefore holds every secret of the deployment: keep it as safe as the data
directory itself. Restoring writes into an empty data directory only, and reads only the
entries above (never a path the archive chooses).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from punchclock.errors import ConfigError
from punchclock.keys import key_from_pem
from punchclock.store.sqlite import migrations, prepare_database

FORMAT = "punchclock-backup"
VERSION = 1
MANIFEST = "punchclock-backup.json"
DATABASE = "punchclock.sqlite3"
SERVER_KEY_ENTRY = "secret.key"
_KEY = re.compile(r"keys/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\.pem")
MAX_SMALL_ENTRY = 64 * 1024  # bytes: the manifest and every key are far smaller


@dataclass(frozen=True, slots=True)
class BackupSummary:
    """What a backup holds, for the operator's message."""

    accounts: int
    schema_version: int
    signing_keys: int


def write_backup(database: Path, secret: bytes, keys_dir: Path, target: Path) -> BackupSummary:
    """Write a backup of the database and the key material to `target`, a new file (0600).

    Raise ConfigError if `target` exists (a backup never overwrites a file) or the
    database or keys cannot be read.
    """
    keys = sorted(keys_dir.glob("*.pem")) if keys_dir.is_dir() else []
    if not keys:
        raise ConfigError(f"no signing keys in {keys_dir}: is PUNCHCLOCK_DATA_DIR the server's?")
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{target} exists: a backup never overwrites a file") from None
    try:
        with tempfile.TemporaryDirectory(prefix="punchclock-backup-") as scratch:  # 0700
            copy = Path(scratch) / DATABASE
            summary = _snapshot(database, copy, len(keys))
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "schema_version": summary.schema_version,
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
            with os.fdopen(fd, "wb") as out:
                fd = -1
                with tarfile.open(fileobj=out, mode="w:gz") as archive:
                    _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode())
                    archive.add(copy, DATABASE, recursive=False, filter=_private)
                    _add_bytes(archive, SERVER_KEY_ENTRY, secret)
                    for key in keys:
                        _add_bytes(archive, f"keys/{key.name}", key.read_bytes())
                out.flush()
                os.fsync(out.fileno())
    except BaseException:
        if fd >= 0:
            os.close(fd)
        target.unlink(missing_ok=True)
        raise
    return summary


def _snapshot(database: Path, copy: Path, keys: int) -> BackupSummary:
    """Copy the live database to `copy` in one step of the online backup API."""
    source = sqlite3.connect(database, timeout=30)
    try:
        os.close(os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # pages=-1: the whole database in one step, one snapshot
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            if target.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise ConfigError(f"the copy of {database} is damaged; nothing was written")
            accounts = target.execute(
                "SELECT count(*) FROM accounts WHERE closed_at IS NULL"
            ).fetchone()[0]
            version = target.execute("PRAGMA user_version").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    return BackupSummary(accounts=accounts, schema_version=version, signing_keys=keys)


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    return info


def _add_bytes(archive: tarfile.TarFile, name: str, content: bytes) -> None:
    info = _private(tarfile.TarInfo(name))
    info.size = len(content)
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    archive.addfile(info, io.BytesIO(content))


def restore_backup(
    source: Path, data_dir: Path, database: Path, secret_key: bytes | None
) -> BackupSummary:
    """Restore a backup into an empty (or missing) data directory; return what it held.

    Everything is checked before anything is written: the archive's entries, the key
    material (a backup without the server key or the signing keys is refused, saying
    so), and, when PUNCHCLOCK_SECRET_KEY is set, that it is the backup's key.
    """
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ConfigError(
            f"{data_dir} is not empty: restore only into an empty or new data directory"
        )
    if database.exists():
        raise ConfigError(f"{database} exists: restore only where there is no database yet")
    try:
        archive = tarfile.open(source, mode="r:*")  # noqa: SIM115 - closed below
    except (OSError, tarfile.TarError) as e:
        raise ConfigError(f"{source} is not a punchclock backup: {e}") from None
    with archive:
        entries = _entries(archive, source)
        secret, keys = _key_material(archive, entries, source, secret_key)
        written: list[Path] = []
        try:
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            (data_dir / "keys").mkdir(mode=0o700, exist_ok=True)
            written.append(data_dir / "keys")
            _write_private(data_dir / SERVER_KEY_ENTRY, secret, written)
            for kid, pem in keys.items():
                _write_private(data_dir / "keys" / f"{kid}.pem", pem, written)
            member = archive.extractfile(entries[DATABASE])
            assert member is not None  # a regular file: checked in _entries
            database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            written.append(database)
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(member, out)
                out.flush()
                os.fsync(out.fileno())
            version = prepare_database(database)  # a backup of an older punchclock: upgraded
            with contextlib.closing(sqlite3.connect(database)) as db:
                accounts = db.execute(
                    "SELECT count(*) FROM accounts WHERE closed_at IS NULL"
                ).fetchone()[0]
        except BaseException:
            for path in reversed(written):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            raise
    return BackupSummary(accounts=accounts, schema_version=version, signing_keys=len(keys))


def _entries(archive: tarfile.TarFile, source: Path) -> dict[str, tarfile.TarInfo]:
    """Return the archive's entries by name; refuse anything a backup does not hold."""
    entries: dict[str, tarfile.TarInfo] = {}
    for info in archive.getmembers():
        known = info.name in (MANIFEST, DATABASE, SERVER_KEY_ENTRY) or _KEY.fullmatch(info.name)
        if not known or not info.isreg() or info.name in entries:
            raise ConfigError(
                f"{source} is not a punchclock backup: it holds {info.name!r}, which a "
                "backup never does; nothing was restored"
            )
        entries[info.name] = info
    if MANIFEST not in entries or DATABASE not in entries:
        raise ConfigError(f"{source} is not a punchclock backup (made by `punchclock backup`)")
    manifest = _small(archive, entries[MANIFEST])
    try:
        described = json.loads(manifest)
    except ValueError:
        described = None
    if not isinstance(described, dict) or described.get("format") != FORMAT:
        raise ConfigError(f"{source} is not a punchclock backup: its manifest is not one")
    if described.get("version") != VERSION:
        raise ConfigError(
            f"{source} is a backup of format version {described.get('version')!r}; this "
            f"punchclock reads version {VERSION}"
        )
    schema = described.get("schema_version")
    if not isinstance(schema, int) or schema > len(migrations()):
        raise ConfigError(
            f"{source} holds a database at schema version {schema}, newer than this "
            f"punchclock knows ({len(migrations())}): restore it with a newer punchclock"
        )
    return entries


def _key_material(
    archive: tarfile.TarFile,
    entries: dict[str, tarfile.TarInfo],
    source: Path,
    secret_key: bytes | None,
) -> tuple[bytes, dict[str, bytes]]:
    """Return the server key and the signing keys the backup holds; refuse it without them."""
    if SERVER_KEY_ENTRY not in entries:
        raise ConfigError(
            f"{source} holds no server key (secret.key): without it the API tokens and the "
            "mail in the database cannot be opened, so it is not restored. Use a backup "
            "made by `punchclock backup`, which includes it"
        )
    secret = _small(archive, entries[SERVER_KEY_ENTRY])
    if len(secret) != 32:
        raise ConfigError(f"{source}: its server key is not 32 bytes; nothing was restored")
    if secret_key is not None and secret_key != secret:
        raise ConfigError(
            f"PUNCHCLOCK_SECRET_KEY is not the server key of {source}: a server with it "
            "could not open the restored API tokens. Unset it, or set it to the backup's key"
        )
    keys: dict[str, bytes] = {}
    for name, info in entries.items():
        match = _KEY.fullmatch(name)
        if match is None:
            continue
        pem = _small(archive, info)
        try:
            key_from_pem(match.group(1), pem)
        except ValueError as e:
            raise ConfigError(f"{source}: {name} is not a usable signing key: {e}") from None
        keys[match.group(1)] = pem
    if not keys:
        raise ConfigError(
            f"{source} holds no signing keys (keys/*.pem): without them every session "
            "cookie would be refused, so it is not restored. Use a backup made by "
            "`punchclock backup`, which includes them"
        )
    return secret, keys


def _small(archive: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    if info.size > MAX_SMALL_ENTRY:
        raise ConfigError(f"{info.name} in the backup is too large to be what it says")
    member = archive.extractfile(info)
    assert member is not None
    return member.read()


def _write_private(path: Path, content: bytes, written: list[Path]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written.append(path)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
