"""The Authorization: Basic header's parsing: what base64 it accepts, byte for byte."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from punchclock.errors import InvalidCredentials
from punchclock.web.auth import _basic_credentials


def _strict_b64decode(text: str) -> bytes | None:
    """The decoder the parsing used before: base64.b64decode(validate=True)."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is a ValueError
        return None


@pytest.mark.parametrize(
    "encoded",
    [
        "YWJjOmRlZg",  # padding missing
        "YWJj OmRlZg==",  # a space inside
        "YWJjOmRlZg==YQ==",  # data after the padding
        "=YWJjOmRlZg",  # padding first
        "YW=JjOmRlZg==",  # padding inside
        "YWJjOmRlZg===",  # too much padding
        "YWJjOmRl*g==",  # not the alphabet
        "YWJjOmRlZg=\n",  # a newline inside the padding
        "é",  # not ASCII
        "Y",  # one character
        "YWJjZGVm",  # no colon in "abcdef"
        "/w==",  # not UTF-8
    ],
)
def test_malformed_basic_credentials_are_refused(encoded: str) -> None:
    with pytest.raises(InvalidCredentials):
        _basic_credentials(f"Basic {encoded}")


def test_well_formed_basic_credentials_are_read() -> None:
    assert _basic_credentials("Basic YWJjOmRlZg==") == ("abc", "def")
    assert _basic_credentials("basic  YWJjOjpkZWY= ") == ("abc", ":def")


@given(st.text(alphabet="ABCabc012+/=: \n*é", max_size=24))
def test_exactly_what_the_strict_standard_decoder_accepts_is_accepted(encoded: str) -> None:
    expected = _strict_b64decode(encoded.strip())
    try:
        expected_text = expected.decode("utf-8") if expected is not None else None
    except UnicodeDecodeError:
        expected_text = None
    if expected_text is None or ":" not in expected_text:
        with pytest.raises(InvalidCredentials):
            _basic_credentials(f"Basic {encoded}")
    else:
        username, _, password = expected_text.partition(":")
        assert _basic_credentials(f"Basic {encoded}") == (username, password)
