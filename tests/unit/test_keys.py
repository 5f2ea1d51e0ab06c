from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from punchclock.errors import ConfigError
from punchclock.keys import KeyRing, new_signing_key
from punchclock.store.keyfiles import load_secret_key, load_signing_keys

DAY = dt.date(2026, 11, 28)


def test_keys_are_named_by_date_with_a_suffix_for_the_same_day() -> None:
    first = new_signing_key(DAY, set())
    second = new_signing_key(DAY, {first.kid})
    third = new_signing_key(DAY, {first.kid, second.kid})
    assert (first.kid, second.kid, third.kid) == ("2026-11-28", "2026-11-28-2", "2026-11-28-3")


def test_the_newest_key_signs_and_every_key_verifies() -> None:
    keys = [
        new_signing_key(dt.date(2026, 1, 2), set()),
        new_signing_key(DAY, {"2026-11-28"}),  # 2026-11-28-2
        new_signing_key(DAY, set()),
    ]
    ring = KeyRing.of(keys)
    assert ring.current.kid == "2026-11-28-2"
    assert set(ring.verifying) == {"2026-01-02", "2026-11-28", "2026-11-28-2"}


def test_signing_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = load_signing_keys(tmp_path, DAY)
    again = load_signing_keys(tmp_path, DAY + dt.timedelta(days=3))
    assert first.current.kid == again.current.kid == "2026-11-28"
    assert [p.name for p in (tmp_path / "keys").iterdir()] == ["2026-11-28.pem"]


def test_secret_key_is_made_once_and_kept(tmp_path: Path) -> None:
    assert load_secret_key(tmp_path) == load_secret_key(tmp_path)
    assert len(load_secret_key(tmp_path)) == 32


def test_a_damaged_secret_key_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_bytes(b"short")
    with pytest.raises(ConfigError, match="32 bytes"):
        load_secret_key(tmp_path)


def test_a_damaged_signing_key_stops_the_start(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "2026-11-28.pem").write_bytes(b"not a key")
    with pytest.raises(ConfigError, match=r"2026-11-28\.pem"):
        load_signing_keys(tmp_path, DAY)
