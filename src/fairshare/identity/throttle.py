"""Per-address login throttling: a sliding window of failed logins from one client address.

The per-account lockout (services.authenticate) stops guessing one account's password; it does
nothing against one client trying a common password on many accounts. This counts failures
per client address instead, across accounts, and refuses further attempts from an address
that failed too often in the window, until its oldest counted failure leaves the window.

Kept in process memory: it needs no Redis and works on the embedded SQLite default. Several
server processes each keep their own count, so the limit is per process; the per-account
lockout, kept in the database, still holds across them. A success does not clear the count:
an attacker holding one account must not be able to reset it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fairshare.errors import FairshareError

# Addresses remembered at most; past this, the one idle longest is forgotten first, so a flood
# of spoofed or rotating addresses cannot grow memory without bound.
MAX_ADDRESSES = 100_000


class LoginThrottled(FairshareError):
    """Too many failed logins from one client address; `retry_after` says when to try again."""

    status = 429
    title = "Too many login attempts"

    def __init__(self, retry_after: int, failures: int, minutes: int) -> None:
        super().__init__(
            f"too many failed logins from your network address ({failures} in {minutes} "
            f"minutes); wait {retry_after} seconds before trying again, or ask an "
            "administrator if you have forgotten your password",
            retry_after=retry_after,
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window_seconds: int


class LoginThrottle:
    """Counts failed logins per client address in a sliding window. Thread-safe: the login
    routes run in a thread pool."""

    def __init__(
        self,
        policy: ThrottlePolicy,
        clock: Callable[[], float] = time.monotonic,
        max_addresses: int = MAX_ADDRESSES,
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._max_addresses = max_addresses
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, address: str) -> None:
        """Return if this address may try to log in now; raises LoginThrottled otherwise."""
        now = self._clock()
        with self._lock:
            recent = self._recent(address, now)
            if recent is None or len(recent) < self.policy.max_failures:
                return
            retry_after = max(1, math.ceil(recent[0] + self.policy.window_seconds - now))
        raise LoginThrottled(
            retry_after, self.policy.max_failures, math.ceil(self.policy.window_seconds / 60)
        )

    def record_failure(self, address: str) -> None:
        """Count one failed login from this address."""
        now = self._clock()
        with self._lock:
            recent = self._recent(address, now)
            if recent is None:
                recent = deque(maxlen=self.policy.max_failures)
                self._failures[address] = recent
                if len(self._failures) > self._max_addresses:
                    self._failures.popitem(last=False)
            recent.append(now)
            self._failures.move_to_end(address)

    def _recent(self, address: str, now: float) -> deque[float] | None:
        """The address's failures still inside the window (older ones dropped); lock held."""
        recent = self._failures.get(address)
        if recent is None:
            return None
        while recent and recent[0] <= now - self.policy.window_seconds:
            recent.popleft()
        if not recent:
            del self._failures[address]
            return None
        return recent


def address_of(peer: str | None, headers: Mapping[str, str], trusted_header: str) -> str:
    """The request's client address: from `trusted_header` when the operator configured one."""
    return client_address(peer, headers.get(trusted_header) if trusted_header else None)


def client_address(peer: str | None, forwarded: str | None) -> str:
    """The address to count a login against.

    `forwarded` is the value of the operator's trusted proxy header (None when no header is
    configured): its last entry is the one the proxy itself added, and the only one a client
    cannot forge. Without a configured header only the connection's peer address counts.
    """
    if forwarded is not None:
        last = forwarded.split(",")[-1].strip()
        if last:
            return last[:100]
    return peer or "unknown"
