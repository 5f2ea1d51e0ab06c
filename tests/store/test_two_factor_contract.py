"""What every Store must do for two-factor (issue 19), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio

from punchclock.models import Account
from punchclock.store import Store
from tests.store.test_store_contract import HOUR, T0, new_account, outgoing, session

CODES = {1: [b"r1", b"r2"], 2: [b"b1", b"b2"]}  # recovery code lookups (HMACs) of accounts 1, 2
STEP = T0 // 1_000_000 // 30  # a TOTP time step, as the service computes it


async def enabled(store: Store, email: str = "ann@example.com", n: int = 1) -> Account:
    account = await store.create_account(new_account(email, n))
    assert await store.begin_two_factor(account.id, b"sealed-secret")
    turned_on = await store.enable_two_factor(
        account.id, b"sealed-secret", STEP, CODES[n], T0, None, outgoing(n * 100)
    )
    assert turned_on is not None
    return turned_on


async def test_twenty_attempts_racing_with_one_step_let_exactly_one_through(store: Store) -> None:
    """The step is checked and taken in one statement: of 20 attempts at once with the same
    code (each its own transaction, on PostgreSQL its own connection), exactly one wins."""
    account = await enabled(store)
    for step in range(STEP + 1, STEP + 4):
        won = await asyncio.gather(*(store.use_totp_step(account.id, step) for _ in range(20)))
        assert sum(won) == 1, step


async def test_a_step_is_taken_once_and_never_an_older_one(store: Store) -> None:
    account = await enabled(store)
    assert not await store.use_totp_step(account.id, STEP)  # the enrolment's own
    assert await store.use_totp_step(account.id, STEP + 2)
    assert not await store.use_totp_step(account.id, STEP + 2)
    assert not await store.use_totp_step(account.id, STEP + 1)
    state = await store.two_factor_state(account.id)
    assert state is not None
    assert state.last_step == STEP + 2


async def test_no_step_is_taken_while_two_factor_is_off(store: Store) -> None:
    account = await store.create_account(new_account())
    assert not await store.use_totp_step(account.id, STEP)
    assert await store.begin_two_factor(account.id, b"pending")
    assert not await store.use_totp_step(account.id, STEP)  # begun, not confirmed


async def test_enabling_confirms_only_the_pending_secret_checked(store: Store) -> None:
    account = await store.create_account(new_account())
    assert await store.begin_two_factor(account.id, b"first")
    assert await store.begin_two_factor(account.id, b"second")  # replaced
    args = (STEP, [b"r1"], T0, None, outgoing())
    assert await store.enable_two_factor(account.id, b"first", *args) is None
    on = await store.enable_two_factor(account.id, b"second", *args)
    assert on is not None
    assert on.two_factor
    state = await store.two_factor_state(account.id)
    assert state is not None
    assert (state.secret_sealed, state.pending_sealed, state.last_step) == (b"second", None, STEP)
    assert not await store.begin_two_factor(account.id, b"third")  # on: no new secret


async def test_enabling_ends_every_other_session(store: Store) -> None:
    account = await store.create_account(new_account())
    await store.add_session(session(account, "a" * 32))
    await store.add_session(session(account, "b" * 32))
    await store.begin_two_factor(account.id, b"s")
    await store.enable_two_factor(account.id, b"s", STEP, [], T0, "a" * 32, outgoing())
    assert [s.jti for s in await store.sessions_of(account.id, T0)] == ["a" * 32]


async def test_accounts_tell_whether_two_factor_is_on(store: Store) -> None:
    await enabled(store)
    for found in (
        await store.account_by_email("ann@example.com"),
        await store.account_by_token(b"lookup-1"),
    ):
        assert found is not None
        assert found.two_factor is True
    overview = await store.account_overview("ann@example.com", T0)
    assert overview is not None
    assert overview.two_factor is True
    other = await store.create_account(new_account("bob@example.com", 2))
    assert other.two_factor is False


async def test_a_recovery_code_is_used_once_and_only_by_its_account(store: Store) -> None:
    ann = await enabled(store)
    bob = await enabled(store, "bob@example.com", 2)
    await store.claim_mail("before", T0, T0 + HOUR, 100)  # the enrolments' notices
    assert not await store.use_recovery_code(bob.id, b"r1", outgoing(500))  # ann's, not bob's
    used = await asyncio.gather(
        *(store.use_recovery_code(ann.id, b"r1", outgoing(600 + n)) for n in range(10))
    )
    assert sum(used) == 1
    assert await store.recovery_codes_left(ann.id) == 1
    # the notice is queued with the use that succeeded, and with nothing else
    queued = await store.claim_mail("after", T0, T0 + HOUR, 100)
    assert [m.id for m in queued] == [f"{600 + used.index(True):032x}"]


async def test_new_recovery_codes_replace_the_old(store: Store) -> None:
    account = await enabled(store)
    await store.replace_recovery_codes(account.id, [b"n1", b"n2", b"n3"], T0, outgoing(7))
    assert not await store.use_recovery_code(account.id, b"r2", outgoing(8))
    assert await store.use_recovery_code(account.id, b"n2", outgoing(9))
    assert await store.recovery_codes_left(account.id) == 2


async def test_disabling_removes_the_secret_codes_and_tickets(store: Store) -> None:
    account = await enabled(store)
    await store.add_two_factor_ticket(b"t", account.id, False, T0 + HOUR, T0)
    off = await store.disable_two_factor(account.id, T0, outgoing(8))
    assert off is not None
    assert not off.two_factor
    assert await store.recovery_codes_left(account.id) == 0
    assert await store.two_factor_ticket(b"t", T0) is None
    assert await store.disable_two_factor(account.id, T0, outgoing(9)) is None


async def test_a_ticket_lives_until_used_or_expired(store: Store) -> None:
    account = await enabled(store)
    await store.add_two_factor_ticket(b"t1", account.id, True, T0 + 300_000_000, T0)
    found = await store.two_factor_ticket(b"t1", T0)
    assert found is not None
    assert found[0].id == account.id
    assert found[1] is True
    assert await store.two_factor_ticket(b"t1", T0 + 300_000_000) is None  # expired
    used = await asyncio.gather(*(store.use_two_factor_ticket(b"t1", T0) for _ in range(5)))
    assert sum(used) == 1
    assert await store.two_factor_ticket(b"t1", T0) is None


async def test_closing_erases_the_second_factor(store: Store) -> None:
    account = await enabled(store)
    await store.close_account(account.id, T0)
    state = await store.two_factor_state(account.id)
    assert state is not None
    assert state.secret_sealed is None
    assert state.pending_sealed is None
    assert await store.recovery_codes_left(account.id) == 0


async def test_an_operator_finds_a_disabled_account_but_never_a_closed_one(store: Store) -> None:
    ann = await enabled(store)
    bob = await enabled(store, "bob@example.com", 2)
    await store.set_disabled(ann.id, True, T0)
    await store.close_account(bob.id, T0)

    found = await store.open_account_by_email("ANN@example.com")

    assert found is not None
    assert (found.id, found.two_factor) == (ann.id, True)
    assert await store.account_by_email("ann@example.com") is None  # credentials never do
    assert await store.open_account_by_email("bob@example.com") is None
