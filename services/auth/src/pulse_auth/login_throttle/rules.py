"""The login throttle: failed logins per account and per client address, and how long the
next attempt must wait (a delay that doubles with every failure past the limit)."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta
from typing import NamedTuple

from pulse_auth.settings import AuthSettings

from .store import Failures, LoginFailureStore


class LoginAttempt(NamedTuple):
    """An attempt the throttle let through, counted as a failure until it succeeds."""

    id: uuid.UUID
    keys: list[str]
    account_key: str


class LoginThrottle:
    def __init__(self, store: LoginFailureStore, settings: AuthSettings) -> None:
        self._store = store
        self._settings = settings

    async def begin(self, email: str, client_ip: str | None) -> tuple[int, LoginAttempt | None]:
        """The attempt, counted; or no attempt and the seconds to wait before another."""
        account_key = f"email:{email.strip().lower()}"
        keys = [account_key]
        if client_ip:
            keys.append(f"ip:{client_ip}")
        # The attempt counts as a failure from here on, before the password is checked, so
        # parallel guesses cannot all slip through before any of them is recorded.
        wait, attempt = await self._store.begin_login(keys, self._window, self.wait_for)
        if attempt is None:
            return wait, None
        return wait, LoginAttempt(attempt, keys, account_key)

    async def succeeded(self, attempt: LoginAttempt) -> None:
        """Take the attempt back, and forget the account's failures."""
        await self._store.login_succeeded(attempt.id, attempt.keys, attempt.account_key)

    @property
    def _window(self) -> timedelta:
        return timedelta(seconds=self._settings.login_failure_window_s)

    def wait_for(self, failures: Failures) -> int:
        """Seconds until another attempt is allowed: 0, or a delay that doubles per failure."""
        wait = 0.0
        for key, (count, seconds_since_last) in failures.items():
            limit = self._settings.login_failure_limit * (4 if key.startswith("ip:") else 1)
            if count < limit:
                continue
            delay = min(
                self._settings.login_base_delay_s * 2 ** (count - limit),
                self._settings.login_max_delay_s,
            )
            wait = max(wait, delay - seconds_since_last)
        return math.ceil(wait) if wait > 0 else 0
