"""Login: the same answer for an unknown email and a wrong password, throttling per account
and per address with growing delays, and logs that hold no password and no token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.support.stack import ADMIN_EMAIL, ADMIN_PASSWORD, PulseStack, bearer, eventually

pytestmark = pytest.mark.integration


async def test_unknown_email_and_wrong_password_get_the_same_answer(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        wrong = await client.post(url, json={"email": ADMIN_EMAIL, "password": "nope"})
        unknown = await client.post(url, json={"email": "ghost@pulse.test", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "code": "invalid_credentials",
            "message": "wrong email or password",
        }
    )


async def test_the_sixth_rapid_wrong_password_is_429(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        statuses = [
            (await client.post(url, json={"email": ADMIN_EMAIL, "password": f"guess{i}"}))
            for i in range(6)
        ]
        right_password_now = await client.post(
            url, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
    assert [r.status_code for r in statuses] == [401] * 5 + [429]
    assert int(statuses[-1].headers["retry-after"]) > 0
    assert statuses[-1].json()["code"] == "too_many_attempts"
    assert right_password_now.status_code == 429  # locked means locked


async def test_one_address_trying_many_accounts_is_throttled(make_stack: Any) -> None:
    """Per account the limit is PULSE_AUTH_LOGIN_FAILURE_LIMIT failures; per client address
    four times that, whatever the accounts: here 2 and 8, each account tried once."""
    stack: PulseStack = make_stack(PULSE_AUTH_LOGIN_FAILURE_LIMIT="2")
    stack.start(["auth", "gateway"])
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")
        attempts = [
            await client.post(url, json={"email": f"guess{i}@pulse.test", "password": "nope"})
            for i in range(9)
        ]
        right_password_now = await client.post(
            url, json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
    assert [r.status_code for r in attempts] == [401] * 8 + [429]
    assert attempts[-1].json()["code"] == "too_many_attempts"
    assert int(attempts[-1].headers["retry-after"]) > 0
    # an account that never failed, from the same address: the address is locked
    assert right_password_now.status_code == 429


async def test_the_delay_grows_with_each_further_failure(make_stack: Any) -> None:
    """Once locked, each failure after the wait doubles the next wait: the Retry-After of the
    first 429 after each further failure never decreases and ends larger."""
    stack: PulseStack = make_stack(
        PULSE_AUTH_LOGIN_FAILURE_LIMIT="2", PULSE_AUTH_LOGIN_BASE_DELAY_S="1"
    )
    stack.start(["auth", "gateway"])
    waits: list[int] = []
    async with httpx.AsyncClient() as client:
        url = stack["gateway"].url("/api/v1/auth/login")

        async def wrong() -> httpx.Response:
            return await client.post(url, json={"email": ADMIN_EMAIL, "password": "wrong"})

        assert [(await wrong()).status_code for _ in range(2)] == [401, 401]
        while len(waits) < 3:
            refused = await wrong()
            assert refused.status_code == 429, refused.text
            waits.append(int(refused.headers["retry-after"]))
            # Wait it out, then fail once more (a 401, recorded): the next lock is longer.
            failed = await eventually(
                lambda: _not_throttled(wrong), within_s=4 * waits[-1] + 10, interval_s=0.25
            )
            assert failed is not None
            assert failed.status_code == 401
    assert waits == sorted(waits), waits
    assert waits[-1] > waits[0], waits


async def _not_throttled(
    attempt: Callable[[], Awaitable[httpx.Response]],
) -> httpx.Response | None:
    response = await attempt()
    return None if response.status_code == 429 else response


async def test_logs_of_a_login_hold_no_password_and_no_token(stack: PulseStack) -> None:
    async with httpx.AsyncClient() as client:
        logged_in = await client.post(
            stack["gateway"].url("/api/v1/auth/login"),
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        )
        tokens = logged_in.json()
        await client.get(
            stack["gateway"].url("/api/v1/auth/me"), headers=bearer(tokens["access_token"])
        )
        refreshed = await client.post(
            stack["gateway"].url("/api/v1/auth/refresh"),
            json={"refresh_token": tokens["refresh_token"]},
        )
        assert refreshed.status_code == 200, refreshed.text
        renewed = refreshed.json()
        await client.get(
            stack["gateway"].url("/api/v1/auth/me"), headers=bearer(renewed["access_token"])
        )
    stack.stop()
    # Whole log files: output() keeps only the tail.
    logs = "".join(service.log_path.read_text() for service in stack.services.values())
    assert '"event": "login"' in logs  # the login was logged...
    assert '"path": "/api/v1/auth/refresh"' in logs  # ...and the refresh...
    assert ADMIN_PASSWORD not in logs  # ...without their secrets
    for pair in (tokens, renewed):
        assert pair["access_token"] not in logs
        assert pair["access_token"].split(".")[2] not in logs
        assert pair["refresh_token"] not in logs
