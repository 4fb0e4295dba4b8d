"""The sliding window of failed logins per client address, on a clock the test moves."""

from __future__ import annotations

import pytest

from fairshare.identity.throttle import (
    LoginThrottle,
    LoginThrottled,
    ThrottlePolicy,
    client_address,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_past_the_oldest_failure() -> None:
    """Refused at the limit, told how long to wait, and allowed once the oldest failure ages out."""
    clock = Clock()
    throttle = LoginThrottle(ThrottlePolicy(max_failures=3, window_seconds=600), clock)
    for step in range(3):
        throttle.check("192.0.2.1")
        throttle.record_failure("192.0.2.1")
        clock.now += 100 if step < 2 else 0
    with pytest.raises(LoginThrottled) as refused:
        throttle.check("192.0.2.1")
    assert refused.value.retry_after == 400  # the first failure (t=1000) leaves at t=1600
    assert refused.value.status == 429
    throttle.check("192.0.2.2")  # another address is not affected
    clock.now = 1600.0
    throttle.check("192.0.2.1")
    throttle.record_failure("192.0.2.1")
    with pytest.raises(LoginThrottled):
        throttle.check("192.0.2.1")


def test_memory_is_bounded_by_forgetting_the_longest_idle_address() -> None:
    """A flood of addresses cannot grow the table past its bound."""
    clock = Clock()
    throttle = LoginThrottle(ThrottlePolicy(1, 600), clock, max_addresses=2)
    throttle.record_failure("a")
    throttle.record_failure("b")
    throttle.record_failure("a")  # a is now the most recent
    throttle.record_failure("c")  # b, idle longest, is forgotten
    throttle.check("b")
    for address in ("a", "c"):
        with pytest.raises(LoginThrottled):
            throttle.check(address)


def test_client_address_trusts_only_the_proxys_own_entry() -> None:
    """The last entry of the configured header is the one the proxy added."""
    assert client_address("10.0.0.2", None) == "10.0.0.2"
    assert client_address("10.0.0.2", "198.51.100.1, 203.0.113.7") == "203.0.113.7"
    assert client_address("10.0.0.2", " ") == "10.0.0.2"
    assert client_address(None, None) == "unknown"
