"""Throttling: how many attempts of each kind a caller may make, counted in moving windows.

What is limited and why is said where the limits are applied, in services/attempts.py; the numbers
come from config.RateLimits. Counters live in this process (`limits`' memory storage) or,
given PUNCHCLOCK_REDIS_URL, in Redis, where every worker and server shares them.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from punchclock.config import RateLimits
from punchclock.errors import Overloaded, Throttled

log = logging.getLogger("punchclock.throttle")

T = TypeVar("T")
IPV6_PREFIX = 64  # an IPv6 client usually holds a whole /64: counted as one address
KNOWN_ADDRESS_FOR = 30 * 24 * 3600  # seconds an address stays known after a log-in succeeds


class ClearableMemoryStorage(MemoryStorage):
    """`limits`' memory storage, whose counts can be cleared while its expiry task runs.

    That task walks a snapshot of the keys and, between two of them, waits for a thread;
    limits' own clear() removes a key meanwhile, and the task then fails with a KeyError
    (logged as "Task exception was never retrieved"), leaving old entries behind. Here a
    cleared key keeps an empty list of entries, which the task then drops itself.
    """

    async def clear(self, key: str) -> None:
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        if key in self.events:
            self.events[key] = []


class Rule:
    """The windows of one kind of attempt, e.g. 10/minute;30/hour;100/day ("": none)."""

    def __init__(self, name: str, spec: str) -> None:
        self.name = name
        self.windows: tuple[RateLimitItem, ...] = tuple(parse_many(spec)) if spec else ()


class Throttle:
    """Count attempts against RateLimits; raise Throttled(retry_after) when one is over.

    Identifiers (emails, addresses) are stored as keyed hashes, so the counters' store
    holds no email address.
    """

    def __init__(self, rates: RateLimits, storage: Storage, key: bytes) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._key = hashlib.blake2b(key, person=b"punchclock-thr", digest_size=32).digest()
        self.log_in_per_account = Rule("log-in-account", rates.log_in_per_account)
        self.log_in_per_account_and_ip = Rule("log-in-account-ip", rates.log_in_per_account_and_ip)
        # a device that logged in before is held to the same count as one address
        self.log_in_per_device = Rule("log-in-device", rates.log_in_per_account_and_ip)
        # two-factor codes: the same limits, counted apart from passwords (code_attempt)
        self.code_per_account = Rule("code-account", rates.log_in_per_account)
        self.code_per_account_and_ip = Rule("code-account-ip", rates.log_in_per_account_and_ip)
        self.sign_up_per_ip = Rule("sign-up-ip", rates.sign_up_per_ip)
        self.reset_request_per_email = Rule("reset-email", rates.reset_request_per_email)
        self.reset_request_per_ip = Rule("reset-ip", rates.reset_request_per_ip)
        self.reset_confirm_per_ip = Rule("reset-confirm-ip", rates.reset_confirm_per_ip)
        self.email_change_per_account = Rule("email-change", rates.email_change_per_account)
        self.api_per_user_and_ip = Rule("api-user-ip", rates.api_per_user_and_ip)
        # password checks started by this process and not finished: counted as if they
        # will fail, so that a burst of simultaneous guesses cannot overshoot a limit
        self._in_flight: Counter[tuple[str, str]] = Counter()

    @classmethod
    def in_memory(cls, rates: RateLimits, key: bytes) -> Throttle:
        return cls(rates, ClearableMemoryStorage(), key)

    @classmethod
    def in_redis(cls, rates: RateLimits, key: bytes, url: str, key_prefix: str) -> Throttle:
        """Keep the counters in Redis (redis://, rediss:// or unix:// URL)."""
        if url.startswith("unix://"):
            uri = "async+redis+unix://" + url.removeprefix("unix://")
        else:
            uri = "async+" + url
        return cls(rates, RedisStorage(uri, wrap_exceptions=True, key_prefix=key_prefix), key)

    async def close(self) -> None:
        """Stop the memory store's expiry task; close the connections to Redis."""
        timer = getattr(self._storage, "timer", None)
        if timer is not None:
            timer.cancel()
        # limits has no close(): its client's pool is reached through the storage bridge,
        # which is not public API; pyproject.toml pins limits below its next major for it
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()
            await asyncio.sleep(0)  # the transports close on the loop's next turn

    async def reset(self) -> None:
        """Forget every count (an operator lifting all limits at once; tests)."""
        await self._call(self._storage.reset())

    async def check(self) -> bool:
        """Tell whether the counters' store answers."""
        try:
            return await self._storage.check()
        except Exception:
            return False

    # -- what the service counts ----------------------------------------------------------

    async def password_attempt(
        self,
        email: str,
        ip: str,
        verify: Callable[[], Awaitable[bool]],
        device: str | None = None,
    ) -> bool:
        """Run one password check for the account named by `email`, unless it is throttled.

        Refused before `verify` runs, so a throttled attempt costs no hash. Who is held
        back by what (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"):

        - a client presenting `device`, the id of a valid device cookie of this account,
          is judged by that device's own failures only;
        - a client from an address whose log-in to this account succeeded lately is judged
          by the failures of the account from that address only;
        - any other client by those failures and by the account's, from anywhere: that
          lock grows step by step with the failures and lasts at most its longest window.

        So someone who knows only the email slows down other strangers, never the owner's
        own devices and addresses. A success clears the address's (and device's) count and
        makes the address known.
        """
        email_key = _email_key(email)
        by_device = None
        if device is not None:
            by_device = (self.log_in_per_device, ("log-in", self._id(email_key, "device", device)))
        rules = (self.log_in_per_account, self.log_in_per_account_and_ip)
        return await self._attempt("log-in", rules, email_key, ip, verify, by_device)

    async def code_attempt(
        self, account_id: int, ip: str, verify: Callable[[], Awaitable[bool]]
    ) -> bool:
        """Run one two-factor code check for the account, unless it is throttled.

        The same design as password_attempt (no device cookie: the code page comes after a
        right password), with counts of its own, so that wrong passwords and wrong codes
        do not add up: a stranger's code flood holds back other strangers, and the owner's
        address only after its own failures.
        """
        rules = (self.code_per_account, self.code_per_account_and_ip)
        return await self._attempt("code", rules, f"account:{account_id}", ip, verify, None)

    async def _attempt(
        self,
        kind: str,
        rules: tuple[Rule, Rule],
        who: str,
        ip: str,
        verify: Callable[[], Awaitable[bool]],
        by_device: tuple[Rule, tuple[str, str]] | None,
    ) -> bool:
        """Run `verify` for `who` unless throttled (see password_attempt), and count it."""
        per_account, per_pair_rule = rules
        pair = (kind, self._id(who, _address_key(ip)))
        per_pair = (per_pair_rule, pair)
        counted: tuple[tuple[Rule, tuple[str, str]], ...]
        if by_device is not None:
            counted = (by_device,)
        elif await self._known(pair):
            counted = (per_pair,)
        else:
            counted = ((per_account, (kind, self._id(who))), per_pair)
        await self._refuse_if_full(*counted)
        subjects = [subject for _, subject in counted]
        for subject in subjects:
            self._in_flight[subject] += 1
        try:
            ok = await verify()
        finally:
            for subject in subjects:
                self._in_flight[subject] -= 1
                if not self._in_flight[subject]:
                    del self._in_flight[subject]
        if ok:
            # the account-wide count stays: a success here says nothing of the others' guesses
            await self._clear(per_pair, *(c for c in counted if c is by_device))
            await self._remember(pair)
        else:
            await self._hit(*counted)
        return ok

    async def forget_failures(self, email: str, ip: str) -> None:
        """Clear the account's failures (a completed password reset): its owner is back."""
        email_key = _email_key(email)
        await self._clear(
            (self.log_in_per_account, ("log-in", self._id(email_key))),
            (self.log_in_per_account_and_ip, ("log-in", self._id(email_key, _address_key(ip)))),
        )

    async def sign_up(self, ip: str) -> None:
        await self._take((self.sign_up_per_ip, ("ip", self._id(_address_key(ip)))))

    async def reset_request(self, ip: str) -> None:
        """Count a reset request from this address (Throttled when too many): never per
        email, lest someone who knows only the email keep its owner from asking."""
        await self._take((self.reset_request_per_ip, ("ip", self._id(_address_key(ip)))))

    async def reset_mail(self, email: str) -> bool:
        """Tell whether one more reset mail may go to this email, counting it if so.

        A request beyond the limit is answered like any other and simply sends nothing:
        the owner's inbox already holds the codes of the requests that did send.
        """
        try:
            await self._take((self.reset_request_per_email, ("email", self._id(_email_key(email)))))
        except Throttled:
            return False
        return True

    async def reset_confirm(self, ip: str) -> None:
        await self._take((self.reset_confirm_per_ip, ("ip", self._id(_address_key(ip)))))

    async def email_change(self, account_id: int) -> None:
        """Count a request to change an account's email (Throttled when too many): each
        one mails an address of the caller's choosing."""
        subject = ("account", self._id(str(account_id)))
        await self._take((self.email_change_per_account, subject))

    @property
    def limits_api_calls(self) -> bool:
        """Tell whether API calls are limited per user and address (off by default)."""
        return bool(self.api_per_user_and_ip.windows)

    async def api_call(self, account_id: int, ip: str) -> None:
        if self.limits_api_calls:  # off by default: nothing to await then
            subject = ("user-ip", self._id(str(account_id), _address_key(ip)))
            await self._take((self.api_per_user_and_ip, subject))

    # -- counting -------------------------------------------------------------------------

    def _id(self, *parts: str) -> str:
        data = "\0".join(parts).encode("utf-8", "surrogatepass")
        return hashlib.blake2b(data, key=self._key, digest_size=16).hexdigest()

    async def _take(self, *counted: tuple[Rule, tuple[str, str]]) -> None:
        """Count one attempt on every rule, or raise Throttled and count nothing."""
        await self._refuse_if_full(*counted)
        await self._hit(*counted)

    async def _refuse_if_full(self, *counted: tuple[Rule, tuple[str, str]]) -> None:
        full: list[tuple[RateLimitItem, tuple[str, str]]] = []
        for rule, subject in counted:
            cost = self._in_flight[subject] + 1
            for window in rule.windows:
                allowed = cost <= window.amount and await self._call(
                    self._limiter.test(window, rule.name, *subject, cost=cost)
                )
                if not allowed:
                    full.append((window, subject))
        if full:
            raise Throttled(await self._retry_after(full, counted))

    async def _retry_after(
        self,
        full: list[tuple[RateLimitItem, tuple[str, str]]],
        counted: tuple[tuple[Rule, tuple[str, str]], ...],
    ) -> int:
        names = {subject: rule.name for rule, subject in counted}
        now = time.time()
        wait = 1.0
        for window, subject in full:
            stats = await self._call(
                self._limiter.get_window_stats(window, names[subject], *subject)
            )
            wait = max(wait, stats.reset_time - now)
        return math.ceil(wait)

    async def _hit(self, *counted: tuple[Rule, tuple[str, str]]) -> None:
        for rule, subject in counted:
            for window in rule.windows:
                await self._call(self._limiter.hit(window, rule.name, *subject))

    async def _known(self, pair: tuple[str, str]) -> bool:
        return bool(await self._call(self._storage.get(_known_key(pair))))

    async def _remember(self, pair: tuple[str, str]) -> None:
        # known for KNOWN_ADDRESS_FOR from the first success; the next success after that
        # makes it known again (a write per log-in would be a write on every success)
        key = _known_key(pair)
        if not await self._call(self._storage.get(key)):
            await self._call(self._storage.incr(key, KNOWN_ADDRESS_FOR))

    async def _clear(self, *counted: tuple[Rule, tuple[str, str]]) -> None:
        """Forget the counts, where there are any: `limits`' memory storage can fail its
        expiry task (a KeyError, logged) when a key is cleared under it, so a success
        with nothing to forget clears nothing."""
        for rule, subject in counted:
            for window in rule.windows:
                stats = await self._call(
                    self._limiter.get_window_stats(window, rule.name, *subject)
                )
                if stats.remaining < window.amount:
                    await self._call(self._limiter.clear(window, rule.name, *subject))

    async def _call(self, work: Awaitable[T]) -> T:
        """Await a storage call; a store that cannot be reached refuses the attempt (503)."""
        try:
            return await work
        except StorageError as e:
            # failing closed: without counters, guesses could not be limited
            log.error("the throttling store failed: %s", e.storage_error)
            raise Overloaded() from None


def _known_key(pair: tuple[str, str]) -> str:
    return "/".join(("known", *pair))


def _email_key(email: str) -> str:
    """Return an email as an account is found by it (unknown ones are counted the same)."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def _address_key(ip: str) -> str:
    """Return the address as counted: IPv6 by its /64, anything unparseable as itself."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)
