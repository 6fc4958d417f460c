"""The login throttle: failures per account and per address, kept in auth's database."""

from .rules import LoginAttempt, LoginThrottle
from .store import Failures, LoginFailureStore

__all__ = ["Failures", "LoginAttempt", "LoginFailureStore", "LoginThrottle"]
