"""The login throttle's waiting rule, without a database: who waits, and how long."""

from __future__ import annotations

from typing import cast

import pytest
from pulse_auth.login_throttle import LoginFailureStore, LoginThrottle
from pulse_auth.settings import AuthSettings

SETTINGS = AuthSettings(login_failure_limit=5, login_base_delay_s=30.0, login_max_delay_s=15 * 60.0)


def throttle() -> LoginThrottle:
    # wait_for reads no rows: the store is never asked.
    return LoginThrottle(cast(LoginFailureStore, None), SETTINGS)


def test_below_the_limit_nobody_waits() -> None:
    assert throttle().wait_for({"email:a@pulse.test": (4, 0.0), "ip:10.0.0.1": (19, 0.0)}) == 0


@pytest.mark.parametrize(
    ("failures", "wait_s"),
    [(5, 30), (6, 60), (7, 120), (9, 480), (10, 900), (30, 900)],
)
def test_an_account_waits_a_delay_that_doubles_per_failure_up_to_the_maximum(
    failures: int, wait_s: int
) -> None:
    assert throttle().wait_for({"email:a@pulse.test": (failures, 0.0)}) == wait_s


def test_an_address_has_four_times_the_accounts_limit() -> None:
    assert throttle().wait_for({"ip:10.0.0.1": (19, 0.0)}) == 0
    assert throttle().wait_for({"ip:10.0.0.1": (20, 0.0)}) == 30


def test_the_time_since_the_last_failure_counts_and_the_longest_wait_wins() -> None:
    failures = {"email:a@pulse.test": (5, 12.5), "ip:10.0.0.1": (21, 1.0)}
    assert throttle().wait_for(failures) == 59  # ceil(60 - 1.0), not 30 - 12.5
    assert throttle().wait_for({"email:a@pulse.test": (5, 31.0)}) == 0
