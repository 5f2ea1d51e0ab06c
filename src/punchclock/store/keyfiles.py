"""Key files in the data directory: the server secret and the session signing keys.

Each is created at first start, readable by its owner only, and never overwritten:
a file is written under a temporary name and linked into place, so processes starting
together agree on one key.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
from pathlib import Path

from punchclock.errors import ConfigError
from punchclock.keys import (
    KeyRing,
    SigningKey,
    key_from_pem,
    key_to_pem,
    new_signing_key,
)


def load_secret_key(data_dir: Path) -> bytes:
    """Return the 32-byte server secret from <data_dir>/secret.key, creating it if missing."""
    path = data_dir / "secret.key"
    if not path.exists():
        _create_private_file(path, secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise ConfigError(f"{path} must hold exactly 32 bytes; it holds {len(key)}")
    return key


def load_signing_keys(data_dir: Path, today: dt.date) -> KeyRing:
    """Return the signing keys in <data_dir>/keys/, creating the first one if there is none."""
    folder = data_dir / "keys"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    keys = _read_keys(folder)
    if not keys:
        key = new_signing_key(today, set())
        _create_private_file(folder / f"{key.kid}.pem", key_to_pem(key))
        keys = _read_keys(folder)
    return KeyRing.of(keys)


def rotate_signing_key(data_dir: Path, today: dt.date) -> SigningKey:
    """Add a key named by today's date; it signs every session made from now on."""
    folder = data_dir / "keys"
    taken = {key.kid for key in _read_keys(folder)} if folder.exists() else set()
    key = new_signing_key(today, taken)
    _create_private_file(folder / f"{key.kid}.pem", key_to_pem(key))
    return key


def remove_signing_key(data_dir: Path, kid: str) -> None:
    """Destroy a key file: no worker loads or verifies with the key again."""
    (data_dir / "keys" / f"{kid}.pem").unlink()


class KeyDirectory:
    """The signing keys of <data_dir>/keys/, read again whenever the folder changes.

    Workers call ring() whenever they sign a session or check a signature they have not
    checked before, so a rotation or a retirement reaches every running worker without a
    restart; listing the folder is all it costs when nothing changed.
    """

    def __init__(self, data_dir: Path, today: dt.date) -> None:
        self._folder = data_dir / "keys"
        self._ring = load_signing_keys(data_dir, today)
        self._seen = self._stamp()

    def ring(self) -> KeyRing:
        stamp = self._stamp()
        if stamp != self._seen:
            keys = _read_keys(self._folder)
            if keys:  # an emptied folder keeps the last keys rather than failing every request
                self._ring = KeyRing.of(keys)
            self._seen = stamp
        return self._ring

    def _stamp(self) -> tuple[int, tuple[str, ...]]:
        # the names too: a folder's mtime may not move within one clock tick
        return self._folder.stat().st_mtime_ns, tuple(sorted(os.listdir(self._folder)))


def _read_keys(folder: Path) -> list[SigningKey]:
    keys = []
    for path in sorted(folder.glob("*.pem")):
        try:
            keys.append(key_from_pem(path.stem, path.read_bytes()))
        except ValueError as e:
            raise ConfigError(f"{path} is not a usable Ed25519 private key: {e}") from None
    return keys


def _create_private_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: keep it
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
